"""Order books for the closes a tick plans: fetched for those closes only, then planned again.

What it owns: the second pass of a tick whose plans close positions for a policy whose unwind
reads the book (``max_impact``, ``book_depth``). After ``evaluate`` names the books its plans
need and the snapshots lack (:func:`~killswitch.engine.evaluate.book_requests`: only the
symbols a reduce-only close is planned for), they are fetched from the accounts' adapters at
once — each adapter's calls paced by its own limiter, at most :data:`PER_ACCOUNT` at a time per
account, in plan order (the most exposed closes first), all of them within ``timeout_s`` — put
into the snapshots, and the engine plans
those scopes again with them (:func:`~killswitch.engine.evaluate.replan`). No tick fetches a
book when nothing is being closed.

Failing safe: a book that cannot be had (an adapter without books: ``UNSUPPORTED``, an error, a
timeout) leaves its close as the engine plans it without one — split by ``chunk_notional``,
each order a limit IOC at the slippage cap from the mark — and the plan says so
(``BOOK_UNAVAILABLE`` with the adapter's reason code, beside the engine's ``BOOK_MISSING``).

Must not: send anything, change a decision, a stage or a directive (only orders), or let a
fetch's failure escape.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Mapping, Optional, Sequence

from adapters.base import AdapterError

from ...compile.graph import DecisionGraph
from ...engine.evaluate import Evaluation, book_requests, replan
from ...engine.state import State
from ...snapshot import OrderBook, Snapshot
from .port import VenuePort

PER_ACCOUNT = 4  # book fetches of one account in flight at once (its adapter paces them further)
BOOK_TIMEOUT_S = 2.0  # the longest a close waits for its books (the snapshot timeout, when shorter)


async def fetch_books(venues: Mapping[str, VenuePort], wants: Mapping[str, Mapping[str, int]], timeout_s: float
                      ) -> tuple[dict[str, dict[str, OrderBook]], dict[str, dict[str, str]]]:
    """The books ``wants`` names (account → symbol → depth), fetched at once, all of them within
    ``timeout_s``: (books, failures), each by account and symbol; a failure is its reason code
    (``TIMEOUT`` for a book not had by then: a close of a thousand positions waits no longer)."""
    books: dict[str, dict[str, OrderBook]] = {}
    failed: dict[str, dict[str, str]] = {}

    async def one(port: VenuePort, gate: asyncio.Semaphore, symbol: str, depth: int) -> None:
        try:
            async with gate:
                book = await port.order_book(symbol, depth)
            books.setdefault(port.key, {})[symbol] = book
        except Exception as e:  # noqa: BLE001 - an AdapterError (UNSUPPORTED: no books) or a bug: the close falls back
            failed.setdefault(port.key, {})[symbol] = e.reason.value if isinstance(e, AdapterError) else "UNKNOWN"

    jobs: dict[asyncio.Task, tuple[str, str]] = {}
    for key, symbols in sorted(wants.items()):
        port = venues.get(key)
        if port is None:
            failed[key] = {s: "UNSUPPORTED" for s in symbols}
            continue
        gate = asyncio.Semaphore(PER_ACCOUNT)
        for s, d in symbols.items():  # in plan order: the most exposed closes first
            jobs[asyncio.ensure_future(one(port, gate, s, d))] = (key, s)
    if jobs:
        _, late = await asyncio.wait(jobs, timeout=timeout_s)
        for task in late:
            task.cancel()
            key, symbol = jobs[task]
            failed.setdefault(key, {})[symbol] = "TIMEOUT"
        await asyncio.gather(*late, return_exceptions=True)
    return books, failed


async def plan_with_books(graph: DecisionGraph, ev: Evaluation, snapshots: Sequence[Snapshot], state: State,
                          venues: Mapping[str, VenuePort], rates: Mapping[str, float], timeout_s: float,
                          ) -> tuple[Evaluation, list[Snapshot]]:
    """``ev`` planned again with the books its closes need (see the module doc), and the
    snapshots carrying them; ``ev`` and ``snapshots`` as they were when no close needs one."""
    wants = book_requests(graph, ev, snapshots)
    if not wants:
        return ev, list(snapshots)
    books, failed = await fetch_books(venues, wants, timeout_s)
    snaps = [s.model_copy(update={"books": {**s.books, **got}}) if (got := books.get(f"{s.venue}/{s.account}")) else s
             for s in snapshots]
    out = replan(graph, ev, snaps, state, rates) if books else ev
    if failed:
        out = replace(out, scopes=tuple(replace(se, plan=_say_unavailable(se.plan, failed)) for se in out.scopes))
    return out, snaps


def _say_unavailable(plan: Optional[Any], failed: Mapping[str, Mapping[str, str]]) -> Optional[Any]:
    """``plan`` with a BOOK_UNAVAILABLE note for each of its closes whose book could not be had."""
    if plan is None:
        return None
    notes = []
    for o in plan.orders:
        code = failed.get(f"{o.venue}/{o.account}", {}).get(o.symbol)
        note = f"BOOK_UNAVAILABLE: {o.venue}/{o.account} {o.symbol}: {code}"
        if code is not None and note not in notes:
            notes.append(note)
    return replace(plan, skipped=plan.skipped + tuple(notes)) if notes else plan
