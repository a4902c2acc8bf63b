"""An account's venue is a ccxt exchange id: a typo (``binanceusdn``) is KS221 at the venue, with
the closest id, in ``ksctl validate`` (the runner would refuse it only when it builds the account's
adapter), and the ids the compiler holds as data are the locked ccxt's."""

from __future__ import annotations

from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.compile.venue_check import VENUES
from tests.conftest import POLICIES


def test_the_venue_ids_are_the_locked_ccxts():
    import ccxt

    assert VENUES == frozenset(ccxt.exchanges), (
        "ccxt's exchanges changed: regenerate VENUES in killswitch/compile/venue_check.py "
        f"(added {sorted(set(ccxt.exchanges) - VENUES)}, dropped {sorted(VENUES - set(ccxt.exchanges))})")


def test_a_misspelt_venue_is_refused_at_the_venue_with_the_closest_id(tmp_path):
    text = (POLICIES / "accounts.yaml").read_text()
    assert "      venue: bybit\n" in text
    path = tmp_path / "accounts.yaml"
    path.write_text(text.replace("      venue: bybit\n", "      venue: bybitt\n", 1))
    r = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert r.exit_code == 1, r.output
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t == "      venue: bybit")
    assert f'{path}:{line}:14: error[KS221]: account "bybit-futures": venue "bybitt" is no exchange ccxt knows' \
        in r.output, r.output
    assert 'hint: did you mean "bybit"?' in r.output


def test_the_example_accounts_name_known_venues():
    r = CliRunner().invoke(cli, ["validate", str(POLICIES / "accounts.yaml")], catch_exceptions=False)
    assert r.exit_code == 0 and "KS221" not in r.output, r.output


def test_an_account_on_a_venue_without_a_dialect_is_said_at_start(caplog, monkeypatch):
    import asyncio
    import logging

    from killswitch.policy.accounts_doc import Account
    from killswitch.process.bootstrap import ccxt_adapters

    monkeypatch.setenv("KS_T_KEY", "k")
    monkeypatch.setenv("KS_T_SECRET", "s")
    caplog.set_level(logging.WARNING, logger="killswitch.runner")
    creds = {"api_key": {"env": "KS_T_KEY"}, "secret": {"env": "KS_T_SECRET"}}
    accounts = [Account.model_validate({"name": n, "venue": v, "market_type": "futures", "credentials": creds})
                for n, v in (("k1", "kucoinfutures"), ("b1", "binanceusdm"))]
    built = ccxt_adapters(accounts)
    asyncio.run(built.close())
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("VENUE_GENERIC:")]
    assert len(said) == 1 and said[0].startswith("VENUE_GENERIC: kucoinfutures/k1: kucoinfutures has no dialect")


def test_the_dialect_venues_are_the_adapters():
    """(The rest of the dialects' tables: tests/unit/compile/test_venue_weights.py.)"""
    from adapters.ccxt_exchange.dialects import DIALECTS
    from adapters.registry import dialect_ids
    from killswitch.compile.venue_check import dialect_venues

    assert dialect_ids() == tuple(sorted(DIALECTS))  # the packages' data says what their dialects register
    assert dialect_venues() == tuple(sorted(DIALECTS))


def test_the_credential_forms_are_the_locked_ccxts():
    import ccxt

    from adapters.registry import dialect_ids
    from killswitch.compile.venue_check import CREDENTIALS

    fields = {"apiKey": "api_key", "secret": "secret", "password": "password", "uid": "uid",
              "walletAddress": "wallet_address", "privateKey": "private_key"}
    forms = {("api_key", "secret"), ("api_key", "secret", "password"), ("api_key", "secret", "uid"),
             ("wallet_address", "private_key")}
    locked = {}
    for venue in ccxt.exchanges:
        required = {k for k, v in getattr(ccxt, venue)().requiredCredentials.items() if v}
        form = tuple(f for k, f in fields.items() if k in required)
        if required <= set(fields) and form in forms:
            locked[venue] = form
    assert CREDENTIALS == locked, (
        "ccxt's requiredCredentials changed: regenerate CREDENTIALS in killswitch/compile/venue_check.py "
        f"(differ: {sorted(set(CREDENTIALS.items()) ^ set(locked.items()))})")
    # the venues with a dialect sign in one of the document's forms, so each is checked
    assert set(dialect_ids()) <= set(CREDENTIALS)
