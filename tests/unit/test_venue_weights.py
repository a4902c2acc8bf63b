"""The REST weight table ``ksctl validate`` reads (killswitch/compile/venue_weights.py) is the ccxt
adapter's dialects' declaration, number for number: the check of policies reads the table so that
it never imports the adapters, and this test says when a dialect and the table part."""

from __future__ import annotations

import pytest

from adapters.ccxt_exchange.dialects import DIALECTS, dialect_for
from killswitch.compile.venue_weights import VENUE_WEIGHTS, venue_costs
from killswitch.weights import Read

COINS = [(), ("USDT",), ("USDT", "USDC", "BTC")]


def _dialect_costs(venue: str, market_type: str, coins: tuple[str, ...]):
    dialect = dialect_for(venue)
    cost = dialect.snapshot_cost(market_type, coins)
    limit = dialect.weight_limit_for(market_type)
    return None if cost is None or limit is None else (cost, limit)


@pytest.mark.parametrize("venue", [*DIALECTS, "kraken", "binanceusdn"])
@pytest.mark.parametrize("market_type", ["futures", "spot"])
@pytest.mark.parametrize("coins", COINS)
def test_the_table_is_the_dialects_declaration(venue, market_type, coins):
    assert venue_costs(venue, market_type, coins) == _dialect_costs(venue, market_type, coins), venue


def test_every_venue_of_the_table_has_a_dialect_that_declares_a_cost():
    assert set(VENUE_WEIGHTS) <= set(DIALECTS)
    for venue in VENUE_WEIGHTS:
        assert any(venue_costs(venue, m) is not None for m in ("futures", "spot")), venue


def test_a_changed_number_is_told_apart():
    # the comparison above sees one weight, one call count, one flag
    cost, limit = venue_costs("binanceusdm", "futures")
    assert cost.reads[0] == Read("GET /fapi/v3/account", 5)
    assert cost.reads[0] != Read("GET /fapi/v3/account", 4)
    assert venue_costs("bybit", "futures", ("USDT", "USDC", "BTC"))[0].every == 1 + 3 + 3
