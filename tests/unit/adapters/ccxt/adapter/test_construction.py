"""Building the ccxt adapter: ccxt not imported until a client is built, secrets handed to
ccxt's config alone, each venue's credentials, unknown venues refused, the ``urls`` override."""

from __future__ import annotations

import logging
import subprocess
import sys

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange import CcxtAdapter

from ..fake import (
    API_KEY,
    API_SECRET,
    PASSPHRASE,
    FakeExchange,
    account,
    make,
    run,
)

# --- import and construction ------------------------------------------------------------------


def test_importing_the_module_does_not_import_ccxt():
    code = "import sys, adapters.ccxt_exchange; print(any(m == 'ccxt' or m.startswith('ccxt.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_secrets_reach_ccxt_config_only_and_options_are_set():
    a, fake = make()
    assert fake.config["apiKey"] == API_KEY and fake.config["secret"] == API_SECRET
    assert fake.config["enableRateLimit"] is True and fake.config["timeout"] == 2000
    assert fake.options["warnOnFetchOpenOrdersWithoutSymbol"] is False
    assert fake.options["defaultType"] == "swap"
    assert API_KEY not in repr(a) and API_SECRET not in repr(a)
    assert fake.config["logger"].getEffectiveLevel() >= logging.WARNING


def test_okx_passphrase_is_passed_as_password():
    _, fake = make(FakeExchange("okx"))
    assert fake.config["password"] == PASSPHRASE


def test_missing_credential_is_auth_without_value(monkeypatch):
    monkeypatch.delenv("KS_TEST_SECRET")
    with pytest.raises(AdapterError) as ei:
        make()
    assert ei.value.reason is Reason.AUTH and API_KEY not in str(ei.value)


def test_unknown_venue_is_unsupported():
    acct = account("nosuchvenue")
    with pytest.raises(AdapterError) as ei:
        CcxtAdapter(acct)
    assert ei.value.reason is Reason.UNSUPPORTED


def test_default_factory_builds_real_ccxt_exchange_without_network():
    a = CcxtAdapter(account("binanceusdm"), timeout=3)
    assert isinstance(a._ex, ccxt_async.binanceusdm)
    assert a._ex.apiKey == API_KEY and a._ex.enableRateLimit and a._ex.timeout == 3000
    assert a.capabilities.cancel_all_after and a.capabilities.positions
    run(a.close())


def test_urls_string_rehosts_every_api_url_and_dict_merges():
    a, fake = make(urls="http://127.0.0.1:8765/")
    assert fake.urls["api"] == {"public": "http://127.0.0.1:8765/v1", "private": "http://127.0.0.1:8765/v1/p"}
    a, fake = make(urls={"api": {"private": "http://127.0.0.1:1/x"}})
    assert fake.urls["api"] == {"public": "https://api.example.com/v1", "private": "http://127.0.0.1:1/x"}
