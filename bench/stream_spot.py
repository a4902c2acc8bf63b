"""The streamed reaction bench's spot accounts (``bench/stream.py --market spot``): the policy, the slide.

A spot account holds no position: its book is the base assets it holds
(:func:`killswitch.snapshot.spot_holdings`), each valued at its pair's price (the stream's ticker;
REST's until one comes), and its ``close_all`` sells them back to the quote. The signals over
positions (``position_loss`` and its kin) read none of them: what a spot book's policy triggers
on is the account's equity, as ``policies/spot-book.yaml`` does (``equity_change`` against the UTC
day's open, 8 % down). So the event here is the held assets' price falling — every held pair from
100 to 80 at once (:func:`slide`, at the venue: its face pushes each pair's ticker as it is set)
— and the trigger the spot book's, which the runner reads once it has applied enough of those
tickers (:func:`crossing`); the stage's ``close_all`` sells the holdings, and the reaction runs
to the first sale the venue receives, as a futures run's does to its first close. The policy is
the spot book's but for its ``for: 2 ticks`` (the bench times the first tick that can read the
fall) and its other actions (the futures run's stage too is ``close_all`` alone).

What it owns: :func:`policy`, :func:`slide`, :func:`crossing`, :func:`watched` (the held pairs'
tickers the runner has subscribed, so that the event waits for them all), :func:`stamp_sends` (when
the venue sent the crossing's ticker), :func:`layout` (the run's words)
and :func:`reaction_venues` (``bench/rogue_spot.py``'s venues, one whose folder does not say what
the real venue's ticker adds named with what the bench lacks to run it).

What it must not do: start a process or time anything (bench/stream.py does); it imports no bench
harness, so that its helpers are tested alone (tests/unit/bench/test_stream_spot.py).
"""

from __future__ import annotations

import math
from typing import Any

from rogue_spot import SpotVenue, spot_stream_venues

TRIGGER = 0.08  # the equity under the day's open that sells the book (policies/spot-book.yaml's)
PRICE, SLID = 100.0, 80.0  # every held pair's price before and after the event
HOLDING, QUOTE = 1_000.0, 1_000_000.0  # each base asset held (rogue_spot.spot_book's), and the quote


def policy(interval_s: float) -> str:
    """The spot book's policy at ``interval_s``: its equity against the day's open, ``close_all``
    once it is :data:`TRIGGER` down."""
    return f"""\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: stream-reaction-spot}}
spec:
  scope: {{level: account}}
  interval: {interval_s:g}s
  signals:
    day: {{equity_change: {{against: day_open}}}}
  triggers:
    day_loss: {{when: "day <= -{TRIGGER:.0%}", on_missing_data: hold}}
  stages:
    - {{level: 1, name: sell-to-stables, on: [day_loss], reset: manual, actions: [close_all]}}
"""


def slide(eng: Any) -> int:
    """The event, at the venue: every pair's price from :data:`PRICE` to :data:`SLID`, in the
    book's order, each set pushed at once to the sockets that watch its ticker; how many pairs."""
    for symbol in eng.markets:
        eng.set_mark(symbol, SLID)
    return len(eng.markets)


def crossing(n: int, holding: float = HOLDING, quote: float = QUOTE, trigger: float = TRIGGER) -> int:
    """How many of the ``n`` slid pairs' tickers the runner must have applied before its book reads
    ``trigger`` under the day's open (``n`` × ``holding`` × :data:`PRICE` + ``quote``): each
    takes ``holding`` × (:data:`PRICE` − :data:`SLID`) off it. More than ``n``: the slide cannot
    trigger."""
    per_pair = holding * (PRICE - SLID)
    return math.ceil(round(trigger * (n * holding * PRICE + quote) / per_pair, 9))


def watched(faces: list[Any]) -> int:
    """How many pairs' tickers a socket of ``faces`` (the venue's websocket faces) pushes: the
    runner's subscriptions of the held pairs, as the venue counts them: a pair's own ticker, or
    the pairs a push of every pair's named (MEXC spot's ``pushed["every"]``). A stream is live
    before its tickers are all subscribed (a venue that takes one subscription a pair, at the
    client's pace); a pair not yet subscribed is valued at REST's price until the next reconcile."""
    pairs: set[str] = set()
    for face in faces:
        for sock in getattr(face, "sockets", ()):
            pushed = getattr(sock, "pushed", None) or {}
            pairs.update(pushed.get("marks") or ())
            pairs.update((pushed.get("every") or {}).get("pairs") or ())
    return len(pairs)


def stamp_sends(faces: list[Any], seen: dict, k: int) -> None:
    """Each frame ``faces`` (the venue's websocket faces) send counted once ``seen["event"]`` is
    stamped, and ``seen["crossing_sent"]`` stamped (``time.monotonic()``) as the ``k``-th is sent
    (:func:`crossing`'s: the venue's share of the reaction, the rest the runner's)."""
    import time

    sent = [0]

    def traced(send: Any) -> Any:
        async def counted(s: Any, text: Any) -> None:
            await send(s, text)
            if seen.get("event") is not None and seen.get("crossing_sent") is None:
                sent[0] += 1
                if sent[0] >= k:
                    seen["crossing_sent"] = time.monotonic()
        return counted

    for face in faces:
        if hasattr(face, "_send") and hasattr(face, "sockets"):
            face._send = traced(face._send)


def layout(n: int) -> str:
    """The spot run's book and event, said."""
    return (f"one spot account holding {n:,} base assets on {n:,} pairs ({HOLDING:,.0f} each at {PRICE:g}, "
            f"{QUOTE:,.0f} of the quote), close_all once its equity is {TRIGGER:.0%} under the day's open; the "
            f"event every held pair's price {PRICE:g} -> {SLID:g} at once, each pair's ticker pushed as it is set "
            f"(the book reads the trigger once {crossing(n):,} of the {n:,} are applied)")


def reaction_venues() -> dict[str, SpotVenue]:
    """Every venue whose simulated spot account streams (:func:`rogue_spot.spot_stream_venues`);
    one whose folder's ``contract.SPOT_STREAM_BENCH`` does not say what the real venue's ticker
    adds to the reaction is named with what the bench lacks, not run."""
    out = {}
    for cid, v in spot_stream_venues().items():
        if v.lacks is None and v.cadence is None:
            v = v._replace(lacks=f"adapters/venues/{v.folder}/contract.py has no SPOT_STREAM_BENCH: what the "
                                 "real venue's ticker adds to the streamed reaction (see adapters/venues/kraken/"
                                 "contract.py)")
        out[cid] = v
    return out
