"""An account's revoke: block and the revoke_trading action are checked before a deployment: a
master credential missing, a method the venue has not, an empty key list, a venue without the
switch (KS260, KS223, KS102, KS103), and an action whose scope reaches an account without it
(KS261), each at file:line:col with a hint."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.compile.revoke_check import REVOKE_METHODS, revoke_findings
from killswitch.compile.scope_check import ActionUse
from killswitch.policy.accounts_doc import Account
from killswitch.policy.diagnostics import Position
from killswitch.policy.scope import Scope

CREDS = "{api_key: {env: K}, secret: {env: S}}"


def _accounts(tmp_path, venue: str, revoke: str) -> str:
    text = textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: Accounts
        metadata: {{name: accounts}}
        spec:
          accounts:
            - name: main
              venue: {venue}
              market_type: futures
              credentials: {CREDS}
        """) + textwrap.indent(revoke, "      ")
    path = tmp_path / "accounts.yaml"
    path.write_text(text)
    return str(path)


def _validate(path: str):
    return CliRunner().invoke(cli, ["validate", path], catch_exceptions=False)


def _line(path: str, needle: str) -> int:
    return next(n for n, t in enumerate(open(path).read().splitlines(), 1) if needle in t)


GOOD = f"""revoke:
  master_credentials: {CREDS}
  sub_account: bot-1@example.com
  api_keys: [pubkey-1, pubkey-2]
"""

BYBIT = GOOD.replace("bot-1@example.com", "53888001")


@pytest.mark.parametrize("venue", ["binanceusdm", "bybit", "okx"])
def test_a_revoke_block_on_a_venue_with_the_switch_validates(tmp_path, venue):
    okx = GOOD.replace("secret: {env: S}}", "secret: {env: S}, password: {env: P}}")
    revoke = {"bybit": BYBIT}.get(venue, GOOD) if venue != "okx" else okx
    creds_fix = "" if venue != "okx" else None
    path = _accounts(tmp_path, venue, revoke)
    if creds_fix is None:  # the account's own OKX credentials need their passphrase too
        text = open(path).read().replace(f"credentials: {CREDS}", "credentials: {api_key: {env: K}, "
                                         "secret: {env: S}, password: {env: P}}", 1)
        open(path, "w").write(text)
    r = _validate(path)
    assert r.exit_code == 0, r.output


def test_a_venue_without_the_switch_is_refused_at_the_block(tmp_path):
    path = _accounts(tmp_path, "bitget", GOOD.replace("{env: S}}", "{env: S}, password: {env: P}}"))
    r = _validate(path)
    assert r.exit_code == 1, r.output
    line = _line(path, "revoke:")
    assert f'{path}:{line}:7: error[KS260]: account "main": venue "bitget" has no endpoint' in r.output, r.output
    assert "hint: venues with one: binance, binancecoinm, binanceusdm, bybit, okx" in r.output


def test_a_method_the_venue_has_not_is_refused_at_the_method(tmp_path):
    path = _accounts(tmp_path, "binanceusdm", GOOD + "  method: freeze\n")
    r = _validate(path)
    assert r.exit_code == 1, r.output
    line = _line(path, "method: freeze")
    assert f'{path}:{line}:17: error[KS260]: account "main": venue "binanceusdm" has no "freeze" switch' \
        in r.output, r.output
    assert "binanceusdm offers: permissions" in r.output


def test_freeze_is_bybits(tmp_path):
    assert _validate(_accounts(tmp_path, "bybit", BYBIT + "  method: freeze\n")).exit_code == 0


def test_a_sub_account_in_another_venues_form_is_refused_at_it(tmp_path):
    path = _accounts(tmp_path, "bybit", GOOD)
    r = _validate(path)
    assert r.exit_code == 1, r.output
    assert f'{path}:{_line(path, "sub_account:")}:22: error[KS260]: account "main": bybit names a sub-account ' \
        "by the sub-account's uid (digits)" in r.output, r.output


def test_a_missing_master_credential_is_refused_at_the_block(tmp_path):
    path = _accounts(tmp_path, "bybit", BYBIT.replace(f"  master_credentials: {CREDS}\n", ""))
    r = _validate(path)
    assert r.exit_code == 1, r.output
    assert f"{path}:{_line(path, 'revoke:')}:7: error[KS102]" in r.output and "master_credentials" in r.output, \
        r.output


def test_a_master_credential_without_the_venues_passphrase_is_ks223(tmp_path):
    path = _accounts(tmp_path, "okx", GOOD)
    text = open(path).read().replace(f"credentials: {CREDS}", "credentials: {api_key: {env: K}, "
                                     "secret: {env: S}, password: {env: P}}", 1)
    open(path, "w").write(text)
    r = _validate(path)
    assert r.exit_code == 1, r.output
    line = _line(path, "master_credentials:")
    assert f'{path}:{line}:9: error[KS223]: account "main": the master credential of venue "okx" takes ' \
        "api_key, secret, password: password missing" in r.output, r.output


def test_a_literal_master_secret_is_refused(tmp_path):
    path = _accounts(tmp_path, "bybit", BYBIT.replace(CREDS, "{api_key: abc, secret: {env: S}}", 1))
    r = _validate(path)
    assert r.exit_code == 1 and "KS209" in r.output, r.output


@pytest.mark.parametrize("keys,code", [("[]", "KS103"), ("[k, k]", "KS103")])
def test_an_empty_or_repeated_key_list_is_refused_at_the_list(tmp_path, keys, code):
    path = _accounts(tmp_path, "bybit", BYBIT.replace("[pubkey-1, pubkey-2]", keys))
    r = _validate(path)
    assert r.exit_code == 1, r.output
    line = _line(path, "api_keys:")
    assert f"{path}:{line}:" in r.output and f"error[{code}]" in r.output, r.output


def _acc(name: str, venue: str, revoke: bool = True, **labels: str) -> Account:
    doc = {"name": name, "venue": venue, "market_type": "futures", "labels": labels}
    if revoke:
        doc["revoke"] = {"master_credentials": {"api_key": {"env": "K"}, "secret": {"env": "S"}},
                         "sub_account": "s", "api_keys": ["k"]}
    return Account.model_validate(doc)


def test_revoke_trading_reaching_a_venue_without_the_switch_is_refused_at_the_action():
    accounts = [_acc("bn", "binanceusdm", book="f"), _acc("hl", "hyperliquid", book="f"),
                _acc("other", "bybit", book="spot")]
    pos = Position(12, 9)
    found = revoke_findings(accounts, [ActionUse("p.yaml", pos, Scope.model_validate(
        {"accounts": {"match_labels": {"book": "f"}}}), policy="futures-book")])
    assert len(found) == 1
    f = found[0]
    assert (f.code, f.file, f.pos) == ("KS261", "p.yaml", pos) and f.is_error
    assert 'policy "futures-book": revoke_trading cannot act on 1 account(s)' in f.message
    assert '"hl": venue "hyperliquid" has no switch' in f.message and '"bn"' not in f.message


def test_revoke_trading_on_an_account_without_a_revoke_block_is_refused():
    found = revoke_findings([_acc("bn", "binanceusdm", revoke=False)],
                            [ActionUse("p.yaml", Position(3, 5), Scope.model_validate({}))])
    assert len(found) == 1 and '"bn": no revoke: block' in found[0].message


def test_revoke_trading_on_accounts_with_the_switch_is_accepted():
    accounts = [_acc("bn", "binanceusdm"), _acc("by", "bybit"), _acc("ok", "okx")]
    assert revoke_findings(accounts, [ActionUse("p.yaml", Position(3, 5), Scope.model_validate({}))]) == []


def test_an_empty_match_says_nothing_here():
    # a scope that selects nothing is KS218's, not this check's
    assert revoke_findings([_acc("hl", "hyperliquid")], [ActionUse("p.yaml", None, Scope.model_validate(
        {"venues": ["binanceusdm"]}))]) == []


def test_the_revoke_venues_are_the_dialects():
    from adapters.ccxt_exchange.dialects import DIALECTS

    dialects = {vid: d.revoke_methods for vid, d in DIALECTS.items() if d.revoke_methods}
    assert REVOKE_METHODS == dialects, (
        "the dialects' revoke switches changed: set REVOKE_METHODS in killswitch/compile/revoke_check.py "
        f"to {dialects}")
