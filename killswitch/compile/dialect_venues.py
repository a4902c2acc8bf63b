"""The ccxt ids with a dialect of their own: generated, do not edit.

Written by ``make schemas`` (``python -m killswitch.cli.schema --write``) from the venue
packages' ``CCXT_IDS`` (``adapters/venues/<venue>/__init__.py``): the compiler must not import the
adapters. ``tests/unit/compile/test_venue_check.py`` fails when it is stale.
"""

DIALECT_VENUES: tuple[str, ...] = (
    "binance",
    "binancecoinm",
    "binanceusdm",
    "bitget",
    "bybit",
    "hyperliquid",
    "kraken",
    "krakenfutures",
    "mexc",
    "okx",
)
