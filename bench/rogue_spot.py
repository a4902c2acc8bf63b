"""The rogue bench's spot accounts (``bench/rogue.py --market spot``): which venues it runs, and the book.

What it owns: :func:`spot_stream_venues`, every venue of the registry whose simulated spot account
streams (each :class:`SpotVenue` with what the bench lacks to run it, so that a venue whose
simulator cannot push is named, not run), :func:`venue_table` (that, or bench/stream.py's
futures venues), :func:`pick_venues` (``--venue`` or the market's default), :func:`spot_book`
(one spot account holding N base assets) and :func:`why_not_read` (what the runner said of an
account it could not read or stream, for a run that did not start). A venue is found by its
folder's data, never named here: a venue whose spot account comes to stream gets a row by itself.
The streamed reaction bench's spot runs (``bench/stream.py --market spot``, bench/stream_spot.py)
run the same venues on the same book.

What it must not do: start a process or time anything (bench/rogue.py does); it imports no bench
harness, so that its helpers are tested alone (tests/unit/bench/test_rogue_spot.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, NamedTuple, Optional


class SpotVenue(NamedTuple):
    """One venue whose simulated spot account streams: its ccxt id, folder, name here, its stream
    face's options (its folder's ``contract.STREAM_BENCH``'s, if any), what the bench lacks to
    run it (None: nothing) and what the real venue's ticker adds to a streamed reaction (its
    folder's ``contract.SPOT_STREAM_BENCH``'s ``cadence``; None: not said)."""

    ccxt_id: str
    folder: str
    name: str
    options: dict
    lacks: Optional[str] = None
    cadence: Optional[str] = None


def spot_stream_venues() -> dict[str, SpotVenue]:
    """Every venue of the registry the simulator serves a spot account of (its own face's, or its
    ``SPOT_FACE``) whose dialect streams a spot account, by its ccxt id; one whose simulator has no
    websocket face is listed with what it lacks, so that the bench says so rather than runs it."""
    from importlib import import_module

    from adapters.ccxt_exchange.dialects import dialect_for
    from adapters.registry import sim_venues
    from adapters.simulated.venues import market_type, market_types

    out = {}
    for cid, pkg in sim_venues().items():
        if "spot" not in market_types(cid) or not dialect_for(cid).streams_for("spot"):
            continue
        folder = pkg.__name__.rsplit(".", 1)[1]
        contract = import_module(f"{pkg.__name__}.contract")
        terms = getattr(contract, "STREAM_BENCH", None) or {}
        # its spot account's name: the venue's own where its face is a spot one (Kraken spot)
        name = pkg.NAME if market_type(cid) == "spot" else f"{pkg.NAME.split()[0]} spot"
        lacks = None if pkg.STREAM_FACE is not None else (
            f"the simulator has no websocket face of {folder} (its package's STREAM_FACE): nothing pushes its spot "
            "account's orders")
        cadence = (getattr(contract, "SPOT_STREAM_BENCH", None) or {}).get("cadence")
        out[cid] = SpotVenue(cid, folder, f"simulated {name}", dict(terms.get("options") or {}), lacks, cadence)
    return out


def venue_table(market: str) -> Mapping[str, Any]:
    """The venues the bench runs ``market`` on: bench/stream.py's streaming venues (futures, each
    face's own account) or :func:`spot_stream_venues`."""
    if market == "spot":
        return spot_stream_venues()
    from stream import VENUES

    return VENUES


def spot_book(n: int, account: str = "acct", holding: float = 1_000.0, quote: float = 1_000_000.0) -> Any:
    """One spot ``account`` holding ``n`` base assets, ``holding`` each at 100 (the futures book's
    notional: 1,000 at 100), and ``quote`` USDT for the bot's buys, on ``n`` pairs on the system's
    clock."""
    from adapters.simulated.engine import AccountSpec, MarketSpec, RateLimits, SimExchange
    from adapters.simulated.http import wall_clock

    markets = [MarketSpec(f"C{i}USDT", f"C{i}") for i in range(n)]
    held = tuple((m.base, holding) for m in markets)
    eng = SimExchange(wall_clock, markets=markets,  # type: ignore[arg-type]
                      accounts=[AccountSpec(account, "k", "s", spot=(("USDT", quote), *held))],
                      rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
    for m in markets:
        eng.set_mark(m.symbol, 100.0)
    return eng


def pick_venues(asked: Optional[str], market: str, table: Mapping[str, Any]) -> list[str]:
    """The venues ``--venue`` names (comma-separated), else the default: binanceusdm on futures,
    every venue of ``table`` on spot."""
    if asked is None:
        return list(table) if market == "spot" else ["binanceusdm"]
    return [v.strip() for v in asked.split(",") if v.strip()]


# the runner's words for an account it cannot read or stream (killswitch.runner's FETCH_FAILING, STREAM_DOWN)
NOT_READ = ("FETCH_FAILING", "STREAM_DOWN")


def why_not_read(err: Path, width: int = 300) -> list[str]:
    """The first line of each of :data:`NOT_READ` the runner wrote to ``err`` (its log), without the
    time and level, cut at ``width``: why a run's account never came live (none: nothing said)."""
    said: dict[str, str] = {}
    lines = err.read_text(errors="replace").splitlines() if err.exists() else []
    for line in lines:
        word = next((w for w in NOT_READ if f" {w}: " in line and w not in said), None)
        if word is not None:
            said[word] = line[line.index(f" {word}: ") + 1:][:width]
    return [said[w] for w in NOT_READ if w in said]

