"""Issue 28, finding 1: one typo in a scope's label (``book: futurs``) turned the futures drawdown
ladder off while ``ksctl validate --strict`` said ok and ``ksctl plan`` silently dropped the policy.
Now it is KS218 everywhere the policies are compiled with their accounts: validate, plan over a
recording (the Accounts document in the policy directory), and plan against live accounts (the
``--accounts`` document, when the policy directory declares none); and ``ksctl test --accounts``
(issue 81, finding 9: it had no ``--accounts``, where run, plan and validate do)."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import POLICIES, ROOT
from tests.procs import accounts_file, free_port

RECORDING = POLICIES / "recordings" / "futures-crash.jsonl"
TYPO = ("match_labels: {book: futures}", "match_labels: {book: futurs}")


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def typo_copy(tmp_path):
    pol = tmp_path / "policies"
    shutil.copytree(POLICIES, pol)
    book = pol / "futures-book.yaml"
    assert TYPO[0] in book.read_text()
    book.write_text(book.read_text().replace(*TYPO))
    return pol


def test_the_example_selects_a_declared_account_with_every_scope():
    r = run("validate", "--runbooks", str(ROOT / "runbooks"), str(POLICIES))
    assert r.exit_code == 0 and "KS218" not in r.output and " 0 errors" in r.output, r.output


def test_validate_strict_fails_on_a_label_typo_with_the_closest_label(tmp_path):
    pol = typo_copy(tmp_path)
    r = run("validate", "--strict", "--runbooks", str(ROOT / "runbooks"), str(pol))
    assert r.exit_code == 1, r.output
    line = f"{pol / 'futures-book.yaml'}:15:37: error[KS218]: scope selects no declared account: " \
           "accounts.match_labels: {book: futurs}"
    assert line in r.output, r.output
    assert 'hint: no declared account carries book=futurs: did you mean "book=futures"?' in r.output
    assert "book=futures (binance-futures-main, bybit-futures)" in r.output


def test_plan_over_a_recording_refuses_the_policies_instead_of_dropping_one(tmp_path):
    pol = typo_copy(tmp_path)
    r = run("plan", "--policies", str(pol), "--against", str(RECORDING))
    assert r.exit_code == 1, r.output
    assert "error[KS218]" in r.output and "the policies have errors; run ksctl validate" in r.output
    assert "Plan:" not in r.output


def test_plan_against_live_accounts_checks_the_scopes_on_them(tmp_path, monkeypatch):
    """The policy directory holds no Accounts document: the --accounts one stands for it, and
    nothing is fetched for a plan whose policies cannot run."""
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "futures-book.yaml").write_text((POLICIES / "futures-book.yaml").read_text().replace(*TYPO))
    shutil.copy(POLICIES / "routes.yaml", pol / "routes.yaml")
    monkeypatch.setenv("KS_T_KEY", "k")
    monkeypatch.setenv("KS_T_SECRET", "s")
    acc = accounts_file(tmp_path, free_port())  # sim-main, book: futures; nothing listens there
    r = run("plan", "--policies", str(pol), "--accounts", str(acc))
    assert r.exit_code == 1, r.output
    assert "error[KS218]: scope selects no declared account: accounts.match_labels: {book: futurs}" in r.output
    assert "snapshot failed" not in r.output  # refused before any account was asked
    good = run("validate", str(pol))
    assert good.exit_code == 0, "alone, without accounts, the directory cannot be judged on scopes"


def _tested_copy(tmp_path, typo: bool):
    """futures-book with its tests and routes, and no Accounts document: the scopes alone cannot
    be judged."""
    pol = tmp_path / ("typo" if typo else "good")
    (pol / "tests").mkdir(parents=True)
    book = (POLICIES / "futures-book.yaml").read_text()
    (pol / "futures-book.yaml").write_text(book.replace(*TYPO) if typo else book)
    shutil.copy(POLICIES / "routes.yaml", pol / "routes.yaml")
    shutil.copy(POLICIES / "tests" / "futures-book.test.yaml", pol / "tests" / "futures-book.test.yaml")
    return pol


def test_ksctl_test_with_the_accounts_run_with_checks_the_scopes_on_them(tmp_path):
    """``ksctl test --accounts F`` compiles the policies with F's accounts as run and plan
    --accounts do: a scope that selects none of them is KS218 and no test runs, whatever -o."""
    acc = accounts_file(tmp_path, free_port())  # sim-main, book: futures
    typo = _tested_copy(tmp_path, typo=True)
    alone = run("test", str(typo))
    assert alone.exit_code == 0 and "0 failed" in alone.output, "without accounts, the scopes cannot be judged"
    r = run("test", "--accounts", str(acc), str(typo))
    assert r.exit_code == 1, r.output
    assert "error[KS218]: scope selects no declared account: accounts.match_labels: {book: futurs}" in r.output
    assert "ksctl test: the policies have errors; run ksctl validate" in r.output and "passed" not in r.output
    sarif = run("test", "--accounts", str(acc), "-o", "sarif", str(typo))
    assert sarif.exit_code == 1 and '"ruleId": "KS218"' in sarif.output, sarif.output
    good = run("test", "--accounts", str(acc), str(_tested_copy(tmp_path, typo=False)))
    assert good.exit_code == 0 and "0 failed" in good.output, good.output


def test_ksctl_test_refuses_an_accounts_file_that_is_no_accounts_document(tmp_path):
    pol = _tested_copy(tmp_path, typo=False)
    r = run("test", "--accounts", str(pol / "routes.yaml"), str(pol))
    assert r.exit_code == 2 and "must hold exactly one valid Accounts document" in r.output, r.output
