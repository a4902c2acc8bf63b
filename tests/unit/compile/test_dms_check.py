"""An arm_exchange_dms whose scope selects an account whose venue keeps no countdown (MEXC's
contract API, Bitget's classic account, a venue without a dialect) is said by ``ksctl validate``
at the action, naming the accounts and why (KS262, a warning: the runner's own switch still
guards them); the table is the dialects' own."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.compile.dms_check import dms_findings, no_countdown, no_countdown_tables
from killswitch.compile.scope_check import ActionUse
from killswitch.policy.accounts_doc import Account
from killswitch.policy.diagnostics import Position
from killswitch.policy.scope import Scope

POLICIES = Path(__file__).resolve().parents[3] / "policies"


def _acc(name: str, venue: str, **labels: str) -> Account:
    return Account.model_validate({"name": name, "venue": venue, "market_type": "futures", "labels": labels,
                                   "credentials": {"api_key": {"env": "K"}, "secret": {"env": "S"}}})


def test_the_venues_without_a_countdown_are_the_dialects():
    import ccxt.async_support as ccxt_async

    from adapters.ccxt_exchange.dialects import DIALECTS

    def has_none(vid: str, dialect) -> bool:
        client = getattr(ccxt_async, vid)({})
        try:
            return dialect.countdown(client, "futures", keeps_private_websocket=True) is None
        finally:
            import asyncio

            asyncio.run(client.close())

    none = sorted(vid for vid, dialect in DIALECTS.items() if has_none(vid, dialect))
    assert sorted(no_countdown_tables()[0]) == none, (
        f"the dialects without a countdown changed ({none}): each says why (Dialect.no_countdown)")


def test_a_dialect_without_a_countdown_is_written_with_its_why_or_in_general_terms():
    from adapters.ccxt_exchange.declared import no_countdown_rows
    from adapters.ccxt_exchange.dialects import DIALECTS
    from adapters.ccxt_exchange.dialects.base import Dialect
    from adapters.ccxt_exchange.dialects.limits import Limits

    assert no_countdown_rows(Dialect(id="zz", limits=Limits(1.0))) == [("zz", "futures", "the zz dialect arms no "
                                                                                         "countdown")]
    said = Dialect(id="zz", limits=Limits(1.0), no_countdown={"spot": "none on spot", "futures": "none"})
    assert no_countdown_rows(said) == [("zz", "futures", "none"), ("zz", "spot", "none on spot")]
    assert no_countdown_rows(DIALECTS["okx"]) == []  # a countdown of its own: nothing to say


def test_a_mexc_account_in_the_scope_is_named_with_why():
    accounts = [_acc("mexc-main", "mexc", book="f"), _acc("bn", "binanceusdm", book="f")]
    [f] = dms_findings(accounts, [ActionUse("p.yaml", Position(60, 11), Scope.model_validate(
        {"accounts": {"match_labels": {"book": "f"}}}), policy="futures-book")])
    assert (f.code, f.severity.value, f.pos) == ("KS262", "warning", Position(60, 11))
    assert f.message.startswith('policy "futures-book": arm_exchange_dms arms no venue countdown on 1 account(s)')
    assert '"mexc-main": MEXC\'s contract API has no cancel-all-after' in f.message and '"bn"' not in f.message
    assert "lock_trading" in (f.hint or "")


def test_accounts_on_venues_with_a_countdown_or_out_of_scope_say_nothing():
    accounts = [_acc("bn", "binanceusdm"), _acc("okx", "okx"), _acc("mexc-main", "mexc")]
    scope = Scope.model_validate({"venues": ["binanceusdm", "okx"]})
    assert dms_findings(accounts, [ActionUse("p.yaml", None, scope)]) == []


def test_a_market_types_own_reason_is_its_dialects():
    """A MEXC spot account is told of the spot API, and the spot dialect keeps no countdown."""
    from adapters.ccxt_exchange.dialects import DIALECTS

    for (vid, market_type), why in no_countdown_tables()[1].items():
        assert DIALECTS[vid].countdown(object(), market_type, keeps_private_websocket=True) is None, vid
        acc = Account.model_validate({"name": "a", "venue": vid, "market_type": market_type,
                                      "credentials": {"api_key": {"env": "K"}, "secret": {"env": "S"}}})
        assert no_countdown(acc) == why
    assert no_countdown(_acc("m", "mexc")) == "MEXC's contract API has no cancel-all-after"


@pytest.mark.parametrize("venue,why", [("mexc", "MEXC's contract API has no cancel-all-after"),
                                       ("phemex", 'venue "phemex" has no dialect, so no countdown')])
def test_ksctl_validate_says_it_at_the_action(tmp_path, venue, why):
    for name in ("accounts.yaml", "futures-book.yaml", "routes.yaml"):
        shutil.copy(POLICIES / name, tmp_path / name)
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(accounts.read_text() + textwrap.indent(textwrap.dedent(f"""\
        - name: {venue}-futures
          venue: {venue}
          market_type: futures
          labels: {{book: futures, desk: crypto}}
          credentials:
            api_key: {{env: K}}
            secret: {{env: S}}
        """), "    "))
    r = CliRunner().invoke(cli, ["validate", str(tmp_path)], catch_exceptions=False)
    assert r.exit_code == 0, r.output  # a warning: the runner's own switch still guards the account
    line = next(n for n, t in enumerate((tmp_path / "futures-book.yaml").read_text().splitlines(), 1)
                if "arm_exchange_dms" in t)
    assert f"futures-book.yaml:{line}:" in r.output and "warning[KS262]" in r.output, r.output
    assert f'"{venue}-futures": {why}' in r.output
