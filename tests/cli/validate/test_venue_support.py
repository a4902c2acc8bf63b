"""``ksctl validate`` says what the adapter cannot serve before a deployment: an account on a ccxt
venue without a dialect of its own is a warning (KS222, at the venue, with the venues that have
one), as the runner serves it and says VENUE_GENERIC when it starts; credentials the venue does
not sign with are an error (KS223, at the field, naming what the venue takes), in ``ksctl
validate`` and where the runner reads its accounts — the adapter would refuse them when it builds
the account, or ccxt at its first signed request, and the account would go blind."""

from __future__ import annotations

import asyncio

import ccxt
import pytest
from click.testing import CliRunner

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.registry import dialect_ids, sim_venues
from killswitch.cli.main import cli
from killswitch.policy.accounts_doc import Account
from killswitch.process.bootstrap import AccountsError, read_accounts
from tests.conftest import POLICIES

BYBIT = "    - name: bybit-futures\n      venue: bybit\n      market_type: futures\n"
BYBIT_KEY = "        api_key: {file: /var/run/secrets/killswitch/bybit-api-key}"
BYBIT_CREDS = f"{BYBIT_KEY}\n        secret: {{file: /var/run/secrets/killswitch/bybit-api-secret}}\n"


def accounts(tmp_path, *edits: tuple[str, str]):
    """The example accounts with ``edits`` (old, new) made on the Bybit account."""
    text = (POLICIES / "accounts.yaml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "accounts.yaml"
    path.write_text(text)
    return path, text


def line_of(text: str, line: str) -> int:
    return next(n for n, t in enumerate(text.splitlines(), 1) if t == line)


def validate(path):
    return CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)


def test_a_venue_without_a_dialect_is_a_warning_naming_the_venues_that_have_one(tmp_path):
    path, text = accounts(tmp_path, ("      venue: bybit\n", "      venue: gate\n"))
    r = validate(path)
    assert r.exit_code == 0, r.output
    assert (f'{path}:{line_of(text, "      venue: gate")}:14: warning[KS222]: account "bybit-futures": venue "gate" '
            "has no dialect of its own") in r.output, r.output
    # every venue package's ids (adapters/venues/*/__init__.py: CCXT_IDS), sorted: a new venue edits no test
    assert f"hint: venues with a dialect: {', '.join(dialect_ids())}" in r.output, r.output
    assert set(sim_venues()) <= set(dialect_ids()), "every venue the simulator answers as has a dialect"


def test_the_example_accounts_are_all_on_venues_with_a_dialect():
    r = validate(POLICIES / "accounts.yaml")
    assert r.exit_code == 0 and "KS222" not in r.output and "KS223" not in r.output, r.output


def test_an_api_key_on_hyperliquid_is_refused_naming_the_wallet_it_takes(tmp_path):
    path, text = accounts(tmp_path, (BYBIT, BYBIT.replace("venue: bybit", "venue: hyperliquid")))
    r = validate(path)
    assert r.exit_code == 1, r.output
    assert (f'{path}:{line_of(text, BYBIT_KEY)}:9: error[KS223]: account '
            '"bybit-futures": venue "hyperliquid" signs with a wallet: it takes a wallet_address and a '
            "private_key, not an api_key and a secret") in r.output, r.output


def test_a_wallet_on_a_venue_of_api_keys_is_refused_naming_the_key_it_takes(tmp_path):
    wallet = '        wallet_address: "0x8c967e73e7b15087c42a10d344cff4c96d877f1d"\n' \
             "        private_key: {env: BYBIT_WALLET_KEY}\n"
    path, text = accounts(tmp_path, (BYBIT_CREDS, wallet))
    r = validate(path)
    assert r.exit_code == 1, r.output
    at = line_of(text, wallet.splitlines()[0])
    assert (f'{path}:{at}:9: error[KS223]: account "bybit-futures": venue "bybit" takes an api_key and a '
            "secret, not a wallet_address and a private_key") in r.output, r.output
    assert "venues a wallet signs for: derive, hyperliquid, nado, paradex" in r.output


def test_an_okx_key_without_its_passphrase_is_refused_and_with_it_accepted(tmp_path):
    path, text = accounts(tmp_path, ("      venue: bybit\n", "      venue: okx\n"))
    r = validate(path)
    assert r.exit_code == 1, r.output
    at = line_of(text, "    - name: bybit-futures") + 5  # the credentials key of that account
    assert text.splitlines()[at - 1] == "      credentials:"
    assert (f'{path}:{at}:7: error[KS223]: account "bybit-futures": venue "okx" takes an api_key, a secret '
            "and a password: password is missing") in r.output, r.output
    assert "the password is the passphrase set with the API key" in r.output
    path, _ = accounts(tmp_path, ("      venue: bybit\n", "      venue: okx\n"),
                       (BYBIT_CREDS, BYBIT_CREDS + "        password: {env: OKX_API_PASSPHRASE}\n"))
    r = validate(path)
    assert r.exit_code == 0 and "KS223" not in r.output, r.output


def test_the_runner_refuses_credentials_the_venue_does_not_sign_with(tmp_path):
    path, _ = accounts(tmp_path, (BYBIT, BYBIT.replace("venue: bybit", "venue: hyperliquid")))
    with pytest.raises(AccountsError) as e:
        read_accounts(str(path))
    assert [x.code for x in e.value.diagnostics] == ["KS223"]


def test_the_runner_reads_an_account_on_a_venue_without_a_dialect(tmp_path):
    path, _ = accounts(tmp_path, ("      venue: bybit\n", "      venue: gate\n"))
    spec = read_accounts(str(path))
    assert [a.venue for a in spec.accounts if a.name == "bybit-futures"] == ["gate"]


KEY = {"api_key": {"env": "KS_T_KEY"}, "secret": {"env": "KS_T_SECRET"}}
WALLET = {"wallet_address": "0x" + "ab" * 20, "private_key": {"env": "KS_T_WALLET_KEY"}}


@pytest.mark.parametrize(("venue", "creds", "built"), [
    ("hyperliquid", KEY, False), ("binanceusdm", WALLET, True), ("bybit", WALLET, True), ("okx", KEY, True)])
def test_what_validate_refuses_the_adapter_cannot_sign_with(monkeypatch, venue, creds, built):
    """The same credentials past validation: refused when the adapter is built (Hyperliquid), or
    by the venue's ccxt client before its first signed request leaves (the others)."""
    monkeypatch.setenv("KS_T_KEY", "k")
    monkeypatch.setenv("KS_T_SECRET", "s")
    monkeypatch.setenv("KS_T_WALLET_KEY", "0x" + "11" * 32)
    acc = Account.model_validate({"name": "a", "venue": venue, "market_type": "futures", "credentials": creds})
    if not built:
        with pytest.raises(AdapterError) as e:
            CcxtAdapter(acc)
        assert e.value.reason is Reason.AUTH
        return
    adapter = CcxtAdapter(acc)
    try:
        with pytest.raises(ccxt.AuthenticationError, match="requires"):
            adapter._ex.check_required_credentials()
    finally:
        asyncio.run(adapter.close())
