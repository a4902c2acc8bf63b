"""How the chart tools reach the tests: built once per machine outside the clone by
.ci/install-helm, in the background while `make test` runs the rest, waited for by the ``helm``
fixture, which pytest schedules last."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from tests.chart.conftest import INSTALL_HELM, tools_dir, wait_for_tools_build
from tests.conftest import ROOT


def test_tools_live_outside_the_clone_in_a_versioned_directory(monkeypatch):
    monkeypatch.delenv("KS_TOOLS_DIR", raising=False)
    tools = tools_dir()
    assert ROOT not in tools.parents, f"{tools} is inside the clone: every clone would build helm again"
    text = INSTALL_HELM.read_text()
    helm = text.split("\nHELM_VERSION=", 1)[1].split()[0]
    unittest = text.split("\nHELM_UNITTEST_VERSION=", 1)[1].split()[0]
    assert tools.name == f"helm-{helm}+unittest-{unittest}"


def test_the_fixture_waits_for_a_build_holding_the_lock(tmp_path):
    """A build in progress holds <dir>.lock; the wait returns when it is released, not before."""
    tools = tmp_path / "helm-vX+unittest-vY"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"f = open({str(tools) + '.lock'!r}, 'w')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        released = threading.Event()

        def release_later():
            time.sleep(1.5)
            released.set()
            holder.stdin.write("\n")
            holder.stdin.flush()

        threading.Thread(target=release_later, daemon=True).start()
        wait_for_tools_build(tools, timeout_s=60)
        assert released.is_set(), "returned while the build still held the lock"
    finally:
        holder.kill()
        holder.wait()


def test_the_wait_gives_up_with_a_message(tmp_path):
    tools = tmp_path / "helm-vX+unittest-vY"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, time\n"
        f"f = open({str(tools) + '.lock'!r}, 'w')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(pytest.fail.Exception, match="still runs after"):
            wait_for_tools_build(tools, timeout_s=1)
    finally:
        holder.kill()
        holder.wait()


def test_no_lock_no_wait(tmp_path):
    start = time.monotonic()
    wait_for_tools_build(tmp_path / "never-built", timeout_s=60)
    assert time.monotonic() - start < 1


def test_helm_tests_are_ordered_last(request):
    items = request.session.items
    uses_helm = ["helm" in getattr(item, "fixturenames", ()) for item in items]
    if True in uses_helm:
        first = uses_helm.index(True)
        assert all(uses_helm[first:]), "a test without helm runs after the helm tests"
