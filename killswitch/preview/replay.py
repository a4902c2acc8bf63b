"""Replay: a JSONL stream of snapshots → ticks → evaluations, with in-memory state.

A line is either one snapshot (the ``ksctl schema snapshot`` shape) or one tick::

    {"now": 1767225600000, "snapshots": [...], "heartbeats": {"strategy-a": 1767225590000},
     "rates": {"binanceusdm": 20},
     "violations": [{"code": "PRICE_COLLAR", "count": 40, "account": "binanceusdm/main",
                     "strategy": "strategy-a", "symbol": "BTC/USDT:USDT"}]}

``violations`` (optional): the gate's refusals and the venue watch's violations the runner
counted since the tick before (``gate_refusals``, ``venue_violations``); ``[]``: none. A
recording without it was not counted: those signals stay blind (``UNCOUNTED``), never zero.

Consecutive snapshot lines with the same ``ts_event`` form one tick evaluated at that time.
Bad lines are reported with their line number and nothing is evaluated past them.

Order rates (orders per second by venue, which space the planned orders): a tick may carry the
rates it ran with (``rates``, optional); a venue it does not name gets its ccxt dialect's rate,
looked up by the venue's name (:func:`adapters.ccxt_exchange.dialects.order_rate`), since a
replay has no adapter to ask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Optional

from pydantic import ValidationError

from ..compile.graph import DecisionGraph
from ..engine.evaluate import Evaluation, evaluate
from ..engine.state import State, record_heartbeat
from ..engine.tally import GATE, VENUE, Key
from ..policy.kinds._violations import GATE_CODES, VENUE_CODES
from ..snapshot import Snapshot


@dataclass
class Tick:
    now_ms: int
    snapshots: list[Snapshot] = field(default_factory=list)
    heartbeats: dict[str, int] = field(default_factory=dict)
    line: int = 0
    rates: dict[str, float] = field(default_factory=dict)  # orders per second by venue, as recorded
    # the gate's refusals and the venue watch's violations counted since the tick before (the
    # engine's tally key → count); None: not counted (the tally never begins: its signals stay blind)
    violations: Optional[dict[Key, int]] = None


class ReplayError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def _snapshot(obj, line: int) -> Snapshot:
    try:
        return Snapshot.model_validate(obj)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ReplayError(line, f"not a snapshot: {where}: {first['msg']}") from None


def read_ticks(lines: Iterable[str]) -> Iterator[Tick]:
    pending: Optional[Tick] = None
    for n, text in enumerate(lines, 1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise ReplayError(n, f"not JSON: {e.msg} at column {e.colno}") from None
        if not isinstance(obj, dict):
            raise ReplayError(n, "expected a JSON object (a snapshot or a tick)")
        if "snapshots" in obj:
            if pending is not None:
                yield pending
                pending = None
            now = obj.get("now")
            if not isinstance(now, int):
                raise ReplayError(n, 'a tick needs "now" in UTC milliseconds')
            beats = obj.get("heartbeats") or {}
            if not isinstance(beats, dict) or not all(isinstance(v, int) for v in beats.values()):
                raise ReplayError(n, '"heartbeats" maps a source to a time in UTC milliseconds')
            rates = obj.get("rates") or {}
            if not isinstance(rates, dict) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in rates.values()):
                raise ReplayError(n, '"rates" maps a venue to its orders per second (a positive number)')
            yield Tick(now, [_snapshot(s, n) for s in obj["snapshots"]], dict(beats), n,
                       {k: float(v) for k, v in rates.items()}, _violations(obj.get("violations"), n))
            continue
        snap = _snapshot(obj, n)
        if pending is not None and pending.now_ms != snap.ts_event:
            yield pending
            pending = None
        if pending is None:
            pending = Tick(snap.ts_event, line=n)
        pending.snapshots.append(snap)
    if pending is not None:
        yield pending


_VIOLATION_FIELDS = {"code", "count", "account", "strategy", "symbol"}


def _violations(given: object, n: int) -> Optional[dict[Key, int]]:
    """A tick's ``violations`` as the engine's tally counts them; None when the tick has none."""
    if given is None:
        return None
    bad = ('"violations" lists {"code", "count", "account", "strategy", "symbol"}: a code of the gate or the '
           'venue watch, a whole count of 0 or more, "account" as venue/account')
    if not isinstance(given, list):
        raise ReplayError(n, bad)
    out: dict[Key, int] = {}
    for v in given:
        if not isinstance(v, dict) or set(v) - _VIOLATION_FIELDS or not {"code", "count"} <= set(v):
            raise ReplayError(n, bad)
        code, count = v["code"], v["count"]
        if code not in GATE_CODES + VENUE_CODES or isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ReplayError(n, bad + f" (not {json.dumps(v, sort_keys=True)})")
        texts = [v.get(f) for f in ("account", "strategy", "symbol")]
        if not all(t is None or isinstance(t, str) for t in texts):
            raise ReplayError(n, bad)
        account, strategy, symbol = (t or "" for t in texts)
        key = (VENUE if code in VENUE_CODES else GATE, account, strategy or "-", symbol, code)
        out[key] = out.get(key, 0) + count
    return out


def replay(graph: DecisionGraph, ticks: Iterable[Tick], state: Optional[State] = None, scores: str = "none"
           ) -> Iterator[tuple[Tick, Evaluation, State]]:
    """Evaluate tick by tick; ``scores``: list risk scores in the plans (``evaluate``'s)."""
    state = state or State()
    known: dict[str, float] = {}
    last = None
    for tick in ticks:
        if last is not None and tick.now_ms < last:
            raise ReplayError(tick.line, f"time goes backwards: {tick.now_ms} after {last}")
        last = tick.now_ms
        for source, ts in tick.heartbeats.items():
            record_heartbeat(state, source, ts)
        if tick.violations is not None:
            state.tally.add(tick.violations, tick.now_ms)
        ev, state = evaluate(graph, tick.snapshots, state, tick.now_ms, _rates(tick, known), scores)
        yield tick, ev, state


def shown_value(name: str, value, kinds: dict) -> str:
    """A signal's value as the replay report and a failing policy test show it, by the signal's
    kind in ``kinds`` (name → kind): a ratio in percent, a duration in seconds, unknown as such."""
    if value is None:
        return "unknown"
    t = kinds.get(name)
    if t == "ratio":
        return f"{value * 100:.2f}%"
    if t == "duration":
        return f"{value:g}s"
    return f"{value:g}"


def _rates(tick: Tick, known: dict[str, float]) -> Mapping[str, float]:
    """The tick's recorded rates, and for every other venue of its snapshots the rate of its
    dialect by name (``known`` caches them across ticks)."""
    for s in tick.snapshots:
        if s.venue not in known and s.venue not in tick.rates:
            from adapters.ccxt_exchange.dialects import order_rate  # above the core: a replay may

            known[s.venue] = order_rate(s.venue)
    return {**known, **tick.rates} if tick.rates else known
