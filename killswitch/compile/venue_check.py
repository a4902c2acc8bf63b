"""KS221-KS223: an account's venue, and whether the adapter can serve the account there.

What it owns: :data:`VENUES`, the exchange ids of the locked ccxt (``ccxt.exchanges``);
:func:`dialect_venues`, the ids the ccxt adapter has a dialect of its own for (the dialects' own:
:func:`killswitch.dialect_tables.tables`);
:data:`CREDENTIALS`, the credential fields each id signs with; and :func:`check_venues`, the
findings on an account of an Accounts document:

* KS221, a venue that is no ccxt id, at the account's ``venue`` (file:line:col), with the
  closest id. The runner would refuse such an account only when it builds its adapter
  (UNSUPPORTED); a typo (``binanceusdn``) is caught here, by ``ksctl validate``, before a
  deployment.
* KS222 (a warning), a ccxt id without a dialect, at the ``venue``, with the ids that have one.
  The runner serves it all the same, through ccxt's unified calls, and says so when it starts
  (``VENUE_GENERIC``): its pages, settle-coin splits and separate conditional-order lists are not
  read, so its book can read short. A warning here as there, not a refusal.
* KS223, credentials the venue does not sign with: an ``api_key`` and ``secret`` on a venue whose
  orders a wallet signs (Hyperliquid), a ``wallet_address`` and ``private_key`` on one that takes
  API keys, or a key without the ``password`` (or ``uid``) its venue requires — at the field,
  naming what the venue takes. The adapter would refuse the first only when built, and the
  others at the account's first signed request, every snapshot after it failing (``AUTH``).

The tables are data, kept here because the compiler must not import ccxt (it costs ~0.7 s and
the compiler knows no venue library) nor the adapters; ``tests/unit/compile/test_venue_check.py`` holds
:data:`VENUES` and :data:`CREDENTIALS` equal to the locked ccxt's (``requiredCredentials``), so an
upgrade says so. :func:`dialect_venues` is read from the registered dialects at run time
(:mod:`killswitch.dialect_tables`): nobody writes it, by hand or by a generator.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from ..dialect_tables import tables
from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc, Path

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


# What the locked ccxt requires of each id to sign (``requiredCredentials``), in the Accounts
# document's credential fields; only the ids that sign in one of the document's two forms (an
# API key and its secret, or a wallet): another id's credentials are not checked.
_API_KEY: frozenset[str] = frozenset((
    "alpaca", "backpack", "bequant", "bigone", "binance", "binancecoinm", "binanceus", "binanceusdm",
    "bingx", "bit2c", "bitbank", "bitbns", "bitfinex", "bitflyer", "bithumb", "bitopro", "bitrue", "bitso",
    "bitstamp", "bitteam", "bittrade", "bitvavo", "btcbox", "btcmarkets", "btcturk", "btse", "bullish",
    "bybit", "bybiteu", "bybitid", "bydfi", "cex", "coinbase", "coinbaseinternational", "coincheck",
    "coinone", "coinsph", "coinspot", "cryptocom", "delta", "deribit", "digifinex", "fmfwio", "foxbit",
    "gate", "gateeu", "gemini", "hashkey", "hitbtc", "hollaex", "htx", "independentreserve", "indodax",
    "kraken", "krakenfutures", "latoken", "lbank", "luno", "mercado", "mexc", "p2b", "paymium", "phemex",
    "poloniex", "tokocrypto", "toobit", "upbit", "whitebit", "woo", "xt", "zaif", "zebpay",
))
_API_KEY_PASSWORD: frozenset[str] = frozenset((  # the password is the API key's passphrase
    "apex", "bitget", "blofin", "coinbaseexchange", "deepcoin", "kucoin", "kucoinfutures", "myokx", "okx",
    "okxus", "weex",
))
_API_KEY_UID: frozenset[str] = frozenset(("coinmate",))
_WALLET: frozenset[str] = frozenset(("derive", "hyperliquid", "nado", "paradex"))

CREDENTIALS: dict[str, tuple[str, ...]] = {
    **{v: ("api_key", "secret") for v in _API_KEY},
    **{v: ("api_key", "secret", "password") for v in _API_KEY_PASSWORD},
    **{v: ("api_key", "secret", "uid") for v in _API_KEY_UID},
    **{v: ("wallet_address", "private_key") for v in _WALLET},
}


def dialect_venues() -> tuple[str, ...]:
    """The ccxt ids with a dialect of their own, sorted (KS222 warns of any other)."""
    ids: tuple[str, ...] = tables()["DIALECT_VENUES"]
    return ids


def check_venues(doc: LoadedDoc, i: int, acc: Account) -> Iterator[Diagnostic]:
    """KS221 for account ``i`` of ``doc`` (``acc``) when its venue is no exchange id of ccxt; else
    KS222 when the venue has no dialect and KS223 for credentials the venue does not sign with."""
    path = doc.item_path("accounts", i)
    if acc.venue not in VENUES:
        yield Diagnostic.make(
            d.KS221, doc.file, doc.srcmap.value(path + ("venue",)),
            f'account "{acc.name}": venue "{acc.venue}" is no exchange ccxt knows',
            d.suggestion_hint(acc.venue, VENUES, "a venue is a ccxt exchange id (binanceusdm, bybit, okx, ...)"))
        return
    if acc.venue not in dialect_venues():
        yield Diagnostic.make(
            d.KS222, doc.file, doc.srcmap.value(path + ("venue",)),
            f'account "{acc.name}": venue "{acc.venue}" has no dialect of its own: its lists are read by '
            "ccxt's unified calls, whose pages, settle-coin splits and separate conditional-order lists "
            "are not read (a book can read short)",
            "venues with a dialect: " + ", ".join(dialect_venues())
            + "; see the exchanges table in docs/exchanges.md")
    yield from _credentials(doc, path, acc)


def _credentials(doc: LoadedDoc, path: Path, acc: Account) -> list[Diagnostic]:
    """KS223 for credentials ``acc``'s venue does not sign with (none when it has none declared,
    or its venue signs in a form the document cannot hold)."""
    creds, needed = acc.credentials, CREDENTIALS.get(acc.venue)
    if creds is None or needed is None:
        return []
    at = path + ("credentials",)
    takes = _listed(needed)
    if "wallet_address" in needed and creds.wallet_address is None:
        return credentials_refused(
            doc, at + ("api_key",),
            f'account "{acc.name}": venue "{acc.venue}" signs with a wallet: it takes {takes}, '
            "not an api_key and a secret",
            "wallet_address is the account's address (0x and 40 hex digits), private_key the key that signs "
            "for it (its own or an API wallet's), as a reference ({env: VAR} or {file: PATH})")
    if "wallet_address" not in needed and creds.wallet_address is not None:
        return credentials_refused(
            doc, at + ("wallet_address",),
            f'account "{acc.name}": venue "{acc.venue}" takes {takes}, not a wallet_address and a private_key',
            f"create an API key on {acc.venue} and give its fields as references ({{env: VAR}} or {{file: PATH}}); "
            "venues a wallet signs for: " + ", ".join(sorted(_WALLET)))
    return credentials_missing(doc, at, creds, needed, lambda missing: (
        f'account "{acc.name}": venue "{acc.venue}" takes {takes}: {_listed(missing, article=False)} '
        f"{'is' if len(missing) == 1 else 'are'} missing",
        "on " + acc.venue + (", the password is the passphrase set with the API key" if "password" in missing
                             else ", the uid is the account's user id") + "; give it as a reference "
        "({env: VAR} or {file: PATH})"))


def credentials_refused(doc: LoadedDoc, at: Path, message: str, hint: str) -> list[Diagnostic]:
    """The KS223 of a credential block its venue does not sign with, at the key ``at``."""
    return [Diagnostic.make(d.KS223, doc.file, doc.srcmap.key(at), message, hint)]


def credentials_missing(doc: LoadedDoc, at: Path, creds: Any, needed: Sequence[str],
                        said: Callable[[list[str]], tuple[str, str]]) -> list[Diagnostic]:
    """KS223 at ``at`` for the fields of ``needed`` that ``creds`` leaves unset, in ``said``'s
    words (the message and the hint for those fields); none when every one is set."""
    missing = [f for f in needed if getattr(creds, f) is None]
    return credentials_refused(doc, at, *said(missing)) if missing else []


def _listed(fields: list[str] | tuple[str, ...], *, article: bool = True) -> str:
    """``an api_key, a secret and a password``: credential fields named in a sentence."""
    named = [(("an " if f[0] in "aeiou" else "a ") if article else "") + f for f in fields]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
