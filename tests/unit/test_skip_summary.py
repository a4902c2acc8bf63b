"""A local `make test` says which suites it skipped for a missing tool, and how to get it: the
summary is grouped by tool and names each file (tests/conftest.py's ``pytest_terminal_summary``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from ..conftest import ROOT, skipped_suites


def test_skips_for_a_missing_tool_are_grouped_by_tool_with_where_to_get_it():
    lines = skipped_suites([
        ("tests/browser/console/test_views_and_actions.py", "chromium not installed"),
        ("tests/browser/console/test_views_and_actions.py", "chromium not installed"),
        ("tests/browser/test_report_page.py", "chromium not installed"),
        ("tests/chart/test_chart.py", "helm not installed; build it with `make tools`"),
        ("tests/unit/test_ci_workflows.py", "a shallow clone: the pinned commit may be outside it"),
    ])
    assert lines == [
        "chromium not installed (apt install chromium chromium-driver): 3 tests skipped in",
        "    tests/browser/console/test_views_and_actions.py (2)",
        "    tests/browser/test_report_page.py (1)",
        "helm not installed (Go on PATH; `make tools` builds it): 1 tests skipped in",
        "    tests/chart/test_chart.py (1)",
    ]


def test_a_run_prints_the_suites_it_skipped_for_a_missing_tool(tmp_path):
    (tmp_path / "test_needs_tool.py").write_text(textwrap.dedent("""
        from tests.conftest import require_tool

        def test_one():
            require_tool("ks-no-such-tool")

        def test_two():
            require_tool("ks-no-such-tool")
    """))
    env = {k: v for k, v in os.environ.items() if k != "KS_REQUIRE_ALL"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "suites skipped for a missing tool" in done.stdout
    assert "ks-no-such-tool not installed (install it): 2 tests skipped in" in done.stdout
    assert "test_needs_tool.py (2)" in done.stdout
