"""``ksctl shards`` and ``ksctl validate`` on an Accounts document with shards, and the refusals
of ``ksctl run --shard`` that come before any PostgreSQL (exit 2, with their reason codes)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import POLICIES

ACCOUNTS = """\
apiVersion: killswitch/v1
kind: Accounts
metadata: {name: firm}
spec:
  shards:
    - {name: desk-a, accounts: {match_labels: {desk: a}}}
    - {name: desk-b, accounts: {match_labels: {desk: b}}}
  accounts:
    - {name: a-binance, venue: binanceusdm, market_type: futures, labels: {desk: a, book: futures}}
    - {name: a-okx, venue: okx, market_type: futures, labels: {desk: a, book: futures}}
    - {name: b-bybit, venue: bybit, market_type: futures, labels: {desk: b, book: futures}}
"""

DESK_A = (POLICIES / "portfolio-breaker.yaml").read_text().replace(
    "name: portfolio-breaker", "name: desk-a-breaker").replace("scope: {level: global}",
                                                               "scope: {level: global, accounts: "
                                                               "{match_labels: {desk: a}}}")


def _files(tmp_path, accounts: str = ACCOUNTS):
    (tmp_path / "accounts.yaml").write_text(accounts)
    pol = tmp_path / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "routes.yaml").write_text((POLICIES / "routes.yaml").read_text())
    (pol / "portfolio-breaker.yaml").write_text((POLICIES / "portfolio-breaker.yaml").read_text())
    (pol / "desk-a.yaml").write_text(DESK_A)
    return str(tmp_path / "accounts.yaml"), str(pol)


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_shards_prints_each_shards_accounts_and_policies_and_the_firm_wide_ones(tmp_path):
    accounts, pol = _files(tmp_path)
    r = _run("shards", accounts, pol)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("shard desk-a  schema ks_shard_desk_a  2 account(s)")
    assert lines[1] == "  accounts: binanceusdm/a-binance, okx/a-okx"
    assert lines[2] == "  policies: desk-a-breaker"
    assert lines[3].startswith("shard desk-b  schema ks_shard_desk_b  1 account(s)")
    assert lines[5] == "  policies: -"
    assert "  portfolio-breaker  spans desk-a, desk-b" in lines


def test_shards_as_json_names_the_digest_and_what_each_firm_wide_policy_spans(tmp_path):
    accounts, pol = _files(tmp_path)
    r = _run("shards", "-o", "json", accounts, pol)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert [(s["name"], s["accounts"], s["policies"]) for s in doc["shards"]] == [
        ("desk-a", ["binanceusdm/a-binance", "okx/a-okx"], ["desk-a-breaker"]),
        ("desk-b", ["bybit/b-bybit"], [])]
    assert len(doc["shards"][0]["accounts_digest"]) == 64
    assert doc["firm"] == [{"name": "portfolio-breaker", "shards": ["desk-a", "desk-b"]}]


def test_shards_and_validate_refuse_an_overlap_with_the_account_and_both_selectors(tmp_path):
    accounts, pol = _files(tmp_path, ACCOUNTS.replace("match_labels: {desk: b}", "match_labels: {book: futures}"))
    for cmd in (("shards", accounts, pol), ("validate", accounts, pol)):
        r = _run(*cmd)
        assert r.exit_code == 1, r.output
        text = r.output
        assert f"{accounts}:9:14: error[KS240]" in text and f"{accounts}:10:14: error[KS240]" in text
        assert f"{accounts}:11:14" not in text  # b-bybit: desk-b alone selects it
        assert '"desk-a" ({match_labels: {desk: a}}) and "desk-b" ({match_labels: {book: futures}})' in text


def test_validate_refuses_an_account_no_shard_holds(tmp_path):
    accounts, pol = _files(tmp_path, ACCOUNTS.replace("labels: {desk: b, book: futures}",
                                                      "labels: {desk: c, book: futures}"))
    r = _run("validate", accounts, pol)
    assert r.exit_code == 1
    assert f"{accounts}:11:14: error[KS241]" in r.output and 'account "b-bybit" is in no shard' in r.output


def test_shards_without_shards_declared_says_one_runner_holds_everything(tmp_path):
    accounts, pol = _files(tmp_path, ACCOUNTS.replace(
        "  shards:\n    - {name: desk-a, accounts: {match_labels: {desk: a}}}\n"
        "    - {name: desk-b, accounts: {match_labels: {desk: b}}}\n", ""))
    r = _run("shards", accounts, pol)
    assert r.exit_code == 0
    assert "no shards declared" in r.output


def _start(tmp_path, *extra, state: str = ""):
    accounts, pol = _files(tmp_path)
    return _run("run", "--policies", pol, "--accounts", accounts, "--state",
                state or f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
                "--api-port", "-1", "--max-ticks", "1", *extra)


def test_run_without_shard_on_a_sharded_file_is_refused_shard_required(tmp_path, caplog):
    r = _start(tmp_path)
    assert r.exit_code == 2
    assert "SHARD_REQUIRED: the accounts document declares 2 shard(s) (desk-a, desk-b)" in caplog.text
    assert not (tmp_path / "state.db").exists(), "refused before any state is opened"


def test_run_with_an_unknown_shard_is_refused_with_the_closest_name(tmp_path, caplog):
    r = _start(tmp_path, "--shard", "desk-c", state="postgresql://ks@127.0.0.1:1/ks")
    assert r.exit_code == 2
    assert "SHARD_UNKNOWN: --shard desk-c: no such shard in the accounts document; did you mean desk-a?" \
        in caplog.text or "did you mean desk-b?" in caplog.text


def test_run_with_a_shard_on_sqlite_is_refused_shard_needs_postgresql(tmp_path, caplog):
    r = _start(tmp_path, "--shard", "desk-a")
    assert r.exit_code == 2
    assert "SHARD_NEEDS_POSTGRESQL: --shard desk-a needs a postgresql:// state" in caplog.text
    assert not (tmp_path / "state.db").exists()
