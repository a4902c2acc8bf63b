"""KS221: an account's venue that is no exchange ccxt knows.

What it owns: :data:`VENUES`, the exchange ids of the locked ccxt (``ccxt.exchanges``), and
:func:`check_venues`, the finding on an Accounts document: a venue that is not one of them, at
the account's ``venue`` (file:line:col), with the closest id. The runner would refuse such an
account only when it builds its adapter (UNSUPPORTED); a typo (``binanceusdn``) is caught here,
by ``ksctl validate``, before a deployment.

The ids are data, kept here because the compiler must not import ccxt (it costs ~0.7 s and the
compiler knows no venue library); ``tests/unit/test_venue_check.py`` holds them equal to the
locked ccxt's, so an upgrade that adds or drops an exchange says so.

Pure: no I/O.
"""

from __future__ import annotations

from ..policy import diagnostics as d
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc
from ..policy.model import Accounts

# ccxt 4.5's exchange ids (``ccxt.exchanges``)
VENUES: frozenset[str] = frozenset((
    "alpaca", "apex", "aster", "backpack", "bequant", "bigone", "binance", "binancecoinm", "binanceus",
    "binanceusdm", "bingx", "bit2c", "bitbank", "bitbns", "bitfinex", "bitflyer", "bitget", "bithumb",
    "bitopro", "bitrue", "bitso", "bitstamp", "bitteam", "bittrade", "bitvavo", "blockchaincom", "blofin",
    "btcbox", "btcmarkets", "btcturk", "btse", "bullish", "bybit", "bybiteu", "bybitid", "bydfi", "cex",
    "coinbase", "coinbaseexchange", "coinbaseinternational", "coincheck", "coinmate", "coinone", "coinsph",
    "coinspot", "cryptocom", "cryptomus", "deepcoin", "delta", "deribit", "derive", "digifinex", "dydx",
    "extended", "fmfwio", "foxbit", "gate", "gateeu", "gemini", "grvt", "hashkey", "hibachi", "hitbtc",
    "hollaex", "htx", "hyperliquid", "independentreserve", "indodax", "kraken", "krakenfutures", "kucoin",
    "kucoinfutures", "latoken", "lbank", "lighter", "luno", "mercado", "mexc", "modetrade", "mudrex", "myokx",
    "nado", "ndax", "okx", "okxus", "onetrading", "p2b", "pacifica", "paradex", "paymium", "phemex", "poloniex",
    "polymarket", "revolutx", "tokocrypto", "toobit", "upbit", "weex", "whitebit", "woo", "woofipro", "xt",
    "zaif", "zebpay",
))


def check_venues(doc: LoadedDoc) -> list[Diagnostic]:
    """KS221 for every account of ``doc`` whose venue is no exchange id of ccxt."""
    if not isinstance(doc.model, Accounts):
        return []
    out = []
    for i, acc in enumerate(doc.model.spec.accounts):
        if acc.venue in VENUES:
            continue
        path = doc.item_path("accounts", i) + ("venue",)
        out.append(Diagnostic.make(
            d.KS221, doc.file, doc.srcmap.value(path),
            f'account "{acc.name}": venue "{acc.venue}" is no exchange ccxt knows',
            d.suggestion_hint(acc.venue, VENUES, "a venue is a ccxt exchange id (binanceusdm, bybit, okx, ...)")))
    return out
