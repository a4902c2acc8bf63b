"""The streamed reaction's ``--trace`` (``bench/stream.py``): the venue's frames stamped, and where a trial's time went.

The venue's side (:func:`trace_sends`, in the venue's process): each frame the futures face sends
(whether it carries the crossed mark) and Binance's arrays of every mark, rendered and queued
(:func:`trace_marks`), stamped with ``time.monotonic()``. The runner's side is
``bench/stream_trace.py``'s stamps, in the runner's process. :func:`breakdown` puts both together
into the segments of :data:`SEGMENTS` (a spot run's, :func:`spot_breakdown`: from the venue's
stamp of the ticker that takes the book to its trigger to the deciding tick and its phases), and
:func:`print_breakdowns` says them over the traced trials.

What it owns: those stamps and their reading. What it must not do: start a process or time a
trial (bench/stream.py does); it is bench-only, nothing of ``ksctl`` imports it.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any


def trace_sends(server: Any, venue: Any, seen: dict) -> None:
    """The futures face's frames stamped into ``seen``: ``sends`` (each frame's send, whether it
    carries ``venue.crossed``, the crossed mark) and ``pushes`` (Binance's arrays of every mark,
    :func:`trace_marks`)."""
    face = server.streams.get(venue.folder, server.stream)  # (Binance's is the server's own)
    pushes: list = []  # (rows rendered from, to, queued by, rows): the face's mark frames
    sends: list = []  # (start, end, bytes, the crossing's): each frame's send_str
    send = face._send

    async def traced_send(s: Any, text: str) -> None:
        t0 = time.monotonic()
        await send(s, text)
        sends.append((t0, time.monotonic(), len(text), len(text) < 2000 and venue.crossed in text))
        del sends[:-200]

    face._send = traced_send
    seen["pushes"], seen["sends"] = pushes, sends
    if face is server.stream:
        trace_marks(server.stream, pushes)


def trace_marks(face: Any, pushes: list) -> None:
    """The Binance face's arrays of every mark, rendered and queued, stamped into ``pushes``."""
    send_marks = face._send_marks
    import adapters.simulated.stream as face_mod

    render, batch = face_mod.mark_price_update, [0.0, 0.0]  # (first row's start, last row's end)

    def traced_render(*a: Any) -> Any:
        t = time.monotonic()
        if t - batch[1] > 0.05:
            batch[0] = t
        out = render(*a)
        batch[1] = time.monotonic()
        return out

    face_mod.mark_price_update = traced_render  # type: ignore[assignment]

    def traced_marks(s: Any, updates: list, names: list) -> None:
        t0 = time.monotonic()
        send_marks(s, updates, names)
        pushes.append((batch[0], t0, time.monotonic(), len(updates)))
        del pushes[:-50]

    face._send_marks = traced_marks  # type: ignore[method-assign]


SEGMENTS = ("venue: event -> crossing frame sending", "socket + runner busy -> ccxt reads it",
            "frame decoded + applied (-> wake)", "wake -> tick start", "tick start -> snapshots begin",
            "snapshots", "evaluate", "books", "journal", "persist", "persist -> first submit",
            "submit -> venue receives")


TICK_SEGMENTS = SEGMENTS[4:]  # from the deciding tick's start to the order the venue received
SPOT_SEGMENTS = ("venue: event -> crossing's ticker sent", "ticker sent -> deciding tick start",
                 *TICK_SEGMENTS)


def tick_segments(tr: list[dict], tick: float, order: float) -> dict[str, float]:
    """The deciding tick's segments of :data:`TICK_SEGMENTS` (s), from the runner's stamps ``tr``:
    its start (``tick``) to its phases' ends, its first submit, and the venue's ``order``; each
    phase's first end after ``tick`` (a later tick's are not its)."""
    inner = next((x["t"] for x in tr if x["k"] == "_tick" and x["t"] >= tick), tick)
    phases: dict[str, float] = {}
    for x in tr:
        if x["k"] == "phase" and x["t"] >= tick:
            phases.setdefault(x["name"], x["t"])
    submit = next((x["t"] for x in tr if x["k"] == "submit" and x["t"] >= tick), None)
    seg = {TICK_SEGMENTS[0]: inner - tick}
    last = inner
    for name in ("snapshots", "evaluate", "books", "journal", "persist"):
        if name in phases:
            seg[name] = phases[name] - last
            last = phases[name]
    if submit is not None:
        seg[TICK_SEGMENTS[-2]] = submit - last
        seg[TICK_SEGMENTS[-1]] = order - submit
    return seg


def spot_breakdown(r: dict) -> dict:
    """Where one streamed spot trial's time went: the venue's stamp of the ticker that takes the book
    to its trigger (``crossing_sent``, ``bench/stream_spot.py``'s), the deciding tick (the last
    the runner started before its first submit) and its segments (:data:`SPOT_SEGMENTS`, ms); the
    ticks started between the event and it, and the frames the runner decoded meanwhile."""
    ev, order, tr, sent = r["event"], r["order"], r["trace"], r.get("crossing_sent")
    out: dict[str, Any] = {"total": (order - ev) * 1000}
    submit = next((x["t"] for x in tr if x["k"] == "submit" and x["t"] >= ev), None)
    tick = max((x["t"] for x in tr if x["k"] == "tick" and submit is not None and ev <= x["t"] <= submit),
               default=None)
    if sent is None or tick is None:
        return out
    seg = out["segments"] = {SPOT_SEGMENTS[0]: sent - ev, SPOT_SEGMENTS[1]: tick - sent,
                             **tick_segments(tr, tick, order)}
    for k in seg:
        seg[k] *= 1000
    out["ticks started before the deciding one"] = sum(1 for x in tr if x["k"] == "tick" and ev <= x["t"] < tick)
    out["frames decoded before it"] = sum(1 for x in tr if x["k"] == "frame" and ev <= x["t0"] < tick)
    return out


def breakdown(r: dict) -> dict:
    """Where one streamed trial's time went, from both processes' monotonic stamps (the venue's
    and ``bench/stream_trace.py``'s): the segments of :data:`SEGMENTS` in ms, and what ran
    beside them — the venue's all-marks frames rendered and sent, the runner's big frames read,
    full collections — between the event and the order."""
    ev, order, tr = r["event"], r["order"], r["trace"]
    cross_sent = next((s for s, _, _, c in r["sends"] if c and s >= ev), None)
    frame = next((x for x in tr if x["k"] == "frame" and x["cross"] and x["t0"] >= ev), None)
    out: dict[str, Any] = {"total": (order - ev) * 1000}
    if cross_sent is None or frame is None:
        return out
    wake = next((x["t"] for x in tr if x["k"] == "wake" and x["t"] >= frame["t0"]), None)
    tick = next((x["t"] for x in tr if x["k"] == "tick" and wake is not None and x["t"] >= wake), None)
    if wake is None or tick is None:
        return out
    seg = out["segments"] = {}
    seg[SEGMENTS[0]] = cross_sent - ev
    seg[SEGMENTS[1]] = frame["t0"] - cross_sent
    seg[SEGMENTS[2]] = wake - frame["t0"]
    seg[SEGMENTS[3]] = tick - wake
    seg.update(tick_segments(tr, tick, order))
    for k in seg:
        seg[k] *= 1000
    big = [x for x in tr if x["k"] == "frame" and x["size"] > 10_000 and x["t"] >= ev - 0.5 and x["t0"] <= order]
    out["runner big frames"] = [(round((x["t0"] - ev) * 1000, 1), round((x["t"] - x["t0"]) * 1000, 1))
                                for x in big]
    out["venue renders"] = [(round((a - ev) * 1000, 1), round((c - a) * 1000, 1)) for a, _, c, n in r["pushes"]
                            if n > 1 and c >= ev - 0.5 and a <= order]
    out["gc2"] = [(round((x["t0"] - ev) * 1000, 1), round((x["t"] - x["t0"]) * 1000, 1)) for x in tr
                  if x["k"] == "gc2" and x["t"] >= ev - 0.5 and x["t0"] <= order]
    busy = [x for x in tr if x["k"] == "tick" and ev - 0.5 <= x["t"] < (wake or ev)]
    out["ticks started between event and wake"] = len(busy)
    samples = Counter(" < ".join(x["stack"][:5]) for x in tr if x["k"] == "sample" and ev <= x["t"] <= frame["t0"])
    out["busy with"] = [(n * 5, where) for where, n in samples.most_common(6)]
    return out


def print_breakdowns(rows: list[dict], spot: bool = False) -> None:
    """The segments' medians and maxima over the traced trials (``spot``: :func:`spot_breakdown`'s),
    and each slow trial's detail."""
    bs = [spot_breakdown(r) if spot else breakdown(r) for r in rows]
    full = [b for b in bs if "segments" in b]
    if not full:
        print("  trace: no trial could be broken down")
        return
    print(f"  where the time went ({len(full)} traced trials; ms, median / max; monotonic stamps of both processes):")
    for name in SPOT_SEGMENTS if spot else SEGMENTS:
        xs = [b["segments"][name] for b in full if name in b["segments"]]
        if xs:
            print(f"    {name:<42} {statistics.median(xs):7.1f} / {max(xs):7.1f}")
    if spot:
        for b in full:
            print(f"    trial {b['total']:.0f} ms: {b['ticks started before the deciding one']} ticks started and "
                  f"{b['frames decoded before it']:,} frames decoded between the event and the deciding tick")
        return
    cut = sorted(b["total"] for b in full)[len(full) // 2]
    for b in full:
        if b["total"] > max(cut * 1.5, 100):
            segs = ", ".join(f"{k} {v:.0f}" for k, v in b["segments"].items() if v >= 5)
            print(f"    slow trial {b['total']:.0f} ms: {segs}; runner big frames (at, ms) {b['runner big frames']}; "
                  f"venue renders (at, ms) {b['venue renders']}; gc2 (at, ms) {b['gc2']}")
            for ms, where in b.get("busy with") or ():
                print(f"      ~{ms} ms sampled in {where}")
