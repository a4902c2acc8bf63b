"""The documentation site (mkdocs.yml, docs/) builds with ``mkdocs build --strict``: a broken link,
an anchor no page has, or a page left out of the nav fails here, and so in `make test` and CI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_module


def _build(config, site) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_docs_site_builds_strictly(tmp_path):
    require_module("mkdocs")
    r = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "deployment" / "index.html").is_file()
    assert (tmp_path / "site" / "openapi.yaml").is_file()
    assert (tmp_path / "site" / "architecture" / "index.html").is_file(), "the map of the code is in the site"


def test_the_exchanges_table_has_every_venue_folders_rows_in_registry_order(tmp_path):
    require_module("mkdocs")
    import re

    from adapters.registry import HOME, venues

    r = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stdout + r.stderr
    page = (tmp_path / "site" / "exchanges" / "index.html").read_text()
    table = page[page.index("<th>venue (ccxt id)</th>"):page.index("</table>")]
    firsts = re.findall(r"<tr>\s*<td>(.*?)</td>", table)
    written = [line.split(" | ")[0][2:] for pkg in venues()
               for line in (HOME / pkg.__name__.rsplit(".", 1)[1] / "fixtures" / "README.md").read_text()
               .partition("\n## In the exchanges table\n")[2].splitlines()[1:] if line.startswith("| ")]
    written = [w for w in written if w != "venue (ccxt id)"]  # each README's header
    assert len(written) >= len(venues()) and firsts[-1] == "any other ccxt id"
    assert [re.sub(r"</?code>", "`", f) for f in firsts[:-1]] == written


def test_a_venue_folder_without_its_rows_fails_the_build(tmp_path):
    require_module("mkdocs")
    import importlib.util
    import re

    from mkdocs.exceptions import PluginError

    spec = importlib.util.spec_from_file_location("exchanges_hook", ROOT / "docs" / "hooks" / "exchanges.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    header = ["| venue (ccxt id) | read |", "|---|---|"]
    readme = tmp_path / "README.md"
    readme.write_text("# Zz's answers\n\n| file | what it is | verbatim |\n|---|---|---|\n")
    with pytest.raises(PluginError, match="no '## In the exchanges table' section"):
        hook.venue_rows(readme, header)
    readme.write_text(readme.read_text() + "\n## In the exchanges table\n\n| venue | read |\n|---|---|\n| Zz | x |\n")
    with pytest.raises(PluginError, match=re.escape("must have docs/exchanges.md's header")):
        hook.venue_rows(readme, header)
    readme.write_text(readme.read_text().replace("| venue | read |", header[0]))
    assert hook.venue_rows(readme, header) == ["| Zz | x |"]


def test_a_broken_anchor_fails_the_strict_build(tmp_path):
    """The build is strict about anchors, not only files (mkdocs only logs those by default)."""
    require_module("mkdocs")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the alert](alerts.md#killswitchnosuchalert).\n")
    (docs / "alerts.md").write_text('# Alerts\n\n<a id="killswitchnoleader"></a>No leader.\n')
    config = (ROOT / "mkdocs.yml").read_text().split("\nnav:")[0].replace("docs_dir: docs", f"docs_dir: {docs}")
    (tmp_path / "mkdocs.yml").write_text(config + "\nnav:\n  - index.md\n  - alerts.md\n")
    r = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode != 0 and "killswitchnosuchalert" in r.stdout + r.stderr, r.stdout + r.stderr
    (docs / "index.md").write_text("# Home\n\nSee [the alert](alerts.md#killswitchnoleader).\n")
    assert _build(tmp_path / "mkdocs.yml", tmp_path / "site").returncode == 0, "a raw HTML id is an anchor"


def test_the_readme_names_every_exit_code_ksctl_gives():
    """README's one-line summary of the exit codes leaves none out (issue 65, walk 8 L5: `4`, an
    unverified chain, was missing from it)."""
    import re

    from killswitch.cli import common

    codes = {v for k, v in vars(common).items() if k.startswith("EXIT_") and isinstance(v, int)}
    line = re.search(r"exit codes are (.+?)\. The operating verbs", (ROOT / "README.md").read_text(), re.S)
    assert line is not None
    named = {int(c) for c in re.findall(r"`(\d)`", line.group(1))}
    assert named == codes, (sorted(codes - named), line.group(1))
