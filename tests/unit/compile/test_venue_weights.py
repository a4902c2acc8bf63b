"""The tables ``ksctl validate`` reads of the venues' dialects (killswitch/dialect_tables.py, found
at run time through the entry point pyproject.toml declares, and kept in a cache) are the ccxt
adapter's dialects' declaration, number for number: the check of policies is handed them so that
it never imports the adapters; this test says when the compiler's tables and a dialect part, and
that no provider (or a cache gone stale) is never read as "no venues"."""

from __future__ import annotations

import os
import re
import sys

import pytest

from adapters.ccxt_exchange.declared import COLUMNS, declared, tables as dialects_tables
from adapters.ccxt_exchange.dialects import DIALECTS, dialect_for
from killswitch import dialect_tables
from killswitch.compile.venue_weights import venue_costs, venue_weights
from killswitch.dialect_tables import TABLES, NoVenueTables, load, tables
from killswitch.weights import Read

PROVIDER = [("killswitch-control-plane", "adapters.ccxt_exchange.declared:tables")]
INSTALLED = [(*PROVIDER[0], "")]

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
    assert set(venue_weights()) <= set(DIALECTS)
    for venue in venue_weights():
        assert any(venue_costs(venue, m) is not None for m in ("futures", "spot")), venue


def test_the_rows_read_back_as_each_dialects_declaration():
    # the table is rows of plain values: read back, each venue's is the very record its dialect declares
    assert venue_weights() == {v: got for v in DIALECTS if (got := declared(DIALECTS[v])) is not None}


def test_a_changed_number_is_told_apart():
    # the comparison above sees one weight, one call count, one flag
    cost, limit = venue_costs("binanceusdm", "futures")
    assert cost.reads[0] == Read("GET /fapi/v3/account", 5)
    assert cost.reads[0] != Read("GET /fapi/v3/account", 4)
    assert venue_costs("bybit", "futures", ("USDT", "USDC", "BTC"))[0].every == 1 + 3 + 3


def test_the_tables_the_compiler_sees_are_the_dialects_own():
    # what the installed entry point names, through the cache or not: no generated copy to go stale
    assert dict(tables()) == dialects_tables()
    assert [*COLUMNS, "DIALECT_VENUES"] == list(TABLES)
    assert [p[:2] for p in dialect_tables.providers()] == PROVIDER


def test_no_provider_is_refused_not_read_as_no_venues(tmp_path):
    with pytest.raises(NoVenueTables, match=re.escape("one provider in the entry-point group killswitch.venue_tables, "
                                                      "found none: install the package")):
        load(tmp_path / "cache", list)
    two = [*INSTALLED, ("other", "other.venues:tables", "")]
    with pytest.raises(NoVenueTables, match=r"found adapters.ccxt_exchange.declared:tables \(killswitch-control-plane"
                                            r"\), other.venues:tables \(other\)"):
        load(tmp_path / "cache", lambda: two)
    with pytest.raises(NoVenueTables, match=re.escape("killswitch.dialect_tables:providers hands a list, not the "
                                                      "tables VENUES, READS")):
        load(tmp_path / "cache", lambda: [("x", "killswitch.dialect_tables:providers", "")])  # a list, not tables


@pytest.fixture
def provider(tmp_path, monkeypatch):
    """A provider package of its own (``zzvenues``, in ``tmp_path``) that counts the times it is read
    and, as the adapters' registry does, imports the package of its venues' folders."""
    pkg = tmp_path / "zzvenues"
    (pkg / "venues").mkdir(parents=True)
    (pkg / "venues" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from killswitch.dialect_tables import TABLES\n"
                                     "READ = []\n"
                                     "def tables():\n"
                                     "    import zzvenues.venues\n"
                                     "    READ.append(1)\n"
                                     "    return {name: () for name in TABLES} | {'DIALECT_VENUES': ('zz',)}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for name in ("zzvenues.venues", "zzvenues"):
        sys.modules.pop(name, None)


def _reads(cache) -> int:
    """How many times the provider has been read, after one more load through ``cache``."""
    site = cache.parent.parent / "site"  # where its distribution is installed
    site.mkdir(exist_ok=True)
    assert load(cache, lambda: [("zz", "zzvenues:tables", str(site))])["DIALECT_VENUES"] == ("zz",)
    return len(sys.modules["zzvenues"].READ)


def test_a_current_cache_is_read_without_the_provider_and_a_change_reads_it_again(tmp_path, provider):
    cache = tmp_path / "cache" / "venue_tables.marshal"
    assert _reads(cache) == 1
    assert _reads(cache) == 1  # the cache, the provider unread
    st = os.stat(provider / "__init__.py")
    os.utime(provider / "__init__.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # the provider edited
    assert _reads(cache) == 2
    assert _reads(cache) == 2  # kept again
    (provider / "venues" / "zz").mkdir()  # a venue's folder added: its parent's stamp changes
    assert _reads(cache) == 3
    assert _reads(cache) == 3
    (provider / "venues" / "__init__.py").unlink()  # a module removed
    assert _reads(cache) == 4


def test_a_distribution_installed_beside_the_providers_reads_it_again(tmp_path, provider):
    cache = tmp_path / "cache" / "venue_tables.marshal"
    assert _reads(cache) == 1
    (tmp_path / "site" / "other-1.0.dist-info").mkdir()  # another entry point of the group, maybe
    assert _reads(cache) == 2
    assert _reads(cache) == 2


def test_an_unreadable_cache_is_read_again_from_the_provider(tmp_path):
    cache = tmp_path / "venue_tables.marshal"
    cache.write_bytes(b"not marshal")
    assert load(cache, lambda: INSTALLED) == dialects_tables()
