"""The policy repository bench/validate.py times is one ``ksctl validate`` passes: its accounts
fit the venues' REST budgets (KS230) and every scope selects an account or a strategy (KS218). A
repository that fails would time a run that stops short of what a passing one does."""

from __future__ import annotations

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import bench_module

bench = bench_module("validate")


def test_the_generated_repository_validates_with_warnings_only(tmp_path, monkeypatch):
    files, _ = bench.write_repo(tmp_path, files=60)
    assert files == 60
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["validate", "policies/"], catch_exceptions=False)
    assert r.exit_code == 0, r.output[-3000:]
    assert "error[" not in r.output
    assert "ok: 60 files" in r.output and ", 0 errors," in r.output
    # every kind of scope is there: by name, by a book's label, by a desk's on a venue, by strategy
    texts = [p.read_text() for p in (tmp_path / "policies").glob("book-*.yaml")]
    for form in ("names: [acct-", "book: book-", "venues: [", "strategies: [strat-"):
        assert any(form in t for t in texts), form
