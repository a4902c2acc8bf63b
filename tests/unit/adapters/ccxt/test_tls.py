"""One TLS context for every ccxt client (adapters/ccxt_exchange/tls.py): built once per CA
file instead of once per client (400 builds held a 200-account runner's loop at start), with
the verification ccxt's own default has; a client set to verify otherwise keeps its own way."""

from __future__ import annotations

import ssl

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from adapters.ccxt_exchange.client import configure_client
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.ccxt_exchange.tls import share_tls_context


def test_every_client_is_handed_one_context_that_verifies_as_ccxt_would():
    rest, pro = ccxt_async.binanceusdm({}), ccxt_pro.bybit({})
    share_tls_context(rest)
    share_tls_context(pro)
    assert rest.ssl_context is pro.ssl_context
    ctx = rest.ssl_context
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] > 0  # the CA bundle ccxt names (certifi) is loaded


def test_a_client_that_verifies_otherwise_keeps_its_own_way():
    off = ccxt_async.okx({"verify": False})
    share_tls_context(off)
    assert off.ssl_context is None  # ccxt then opens without verification, as configured
    os_certs = ccxt_async.okx({"options": {"include_OS_certificates": True}})
    share_tls_context(os_certs)
    assert os_certs.ssl_context is None  # ccxt builds it with the OS bundle added
    given = ssl.create_default_context()
    own = ccxt_async.okx({})
    own.ssl_context = given
    share_tls_context(own)
    assert own.ssl_context is given


def test_the_adapters_clients_are_configured_with_it():
    a, b = ccxt_async.bitget({}), ccxt_async.hyperliquid({})
    for ex, venue in ((a, "bitget"), (b, "hyperliquid")):
        configure_client(ex, dialect_for(venue), market_type="futures", sandbox=False, urls=None, secrets=[])
    assert a.ssl_context is not None and a.ssl_context is b.ssl_context
