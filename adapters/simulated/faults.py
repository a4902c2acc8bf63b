"""Fault injection for the simulated exchange: a deterministic, scriptable plan.

A :class:`FaultPlan` is a list of rules. Each rule names an operation (an engine operation
such as ``place_order``, an HTTP endpoint such as ``POST /fapi/v1/order``, or ``*``), says
*when* it fires (the n-th calls of that operation, a window on the engine clock, at most so
many times, optionally one account only) and *what* it injects (:class:`FaultKind`).

Both faces of the simulator consult the same plan before and after they call the engine:

* :class:`adapters.simulated.adapter.SimulatedAdapter` turns faults into what an in-process
  client would see (asyncio timeouts, ``AdapterError`` reason codes);
* :class:`adapters.simulated.http.SimServer` turns them into what a REST client would see
  (HTTP 429/418/5xx, truncated JSON, a closed connection, a request that never answers);
* :class:`adapters.simulated.stream.StreamFace` turns the ``stream_*`` kinds into what a
  websocket client would see (a closed socket, silence, a frame twice or late, a broken frame)
  and ``listen_key_expired`` into an expired listen key. :meth:`FaultPlan.switch_off` stops a
  rule at run time.

What this module owns: the rule model, call counting, matching and a log of what fired.
What it must not do: touch the engine, sleep, read a clock or draw random numbers — it is
told the operation and the engine time by its caller, so the same script always fires the
same faults at the same calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Optional


class FaultKind(str, Enum):
    LATENCY = "latency"  # answer, but only after latency_ms
    TIMEOUT = "timeout"  # never answer within the client's timeout (applied: executed first)
    HTTP_429 = "http_429"  # rate limited (Binance -1003), with Retry-After
    HTTP_418 = "http_418"  # IP banned (Binance -1003 "Way too many requests")
    HTTP_500 = "http_500"  # internal error at the gateway
    HTTP_503 = "http_503"  # service unavailable at the gateway
    MALFORMED_JSON = "malformed_json"  # the operation runs; its answer is cut short
    STALE = "stale"  # a frozen feed: reads repeat one old answer (see STALE_STAMPS)
    REJECT_REDUCE_ONLY = "reject_reduce_only"  # the order is refused with -2022, never executed
    DISCONNECT_AFTER_SEND = "disconnect_after_send"  # executed, then the connection drops: no answer
    HIDE_FROM_NEXT_QUERY = "hide_from_next_query"  # accepted; the next order query does not show it
    # the websocket face (:mod:`.stream`), per message sent (op "stream", "stream:user", "stream:market")
    STREAM_DISCONNECT = "stream_disconnect"  # the socket is closed instead of sending this message
    STREAM_STALL = "stream_stall"  # the message is never sent; the socket stays open and answers pings
    STREAM_OUT_OF_ORDER = "stream_out_of_order"  # the message is held and sent after the next one
    STREAM_DUPLICATE = "stream_duplicate"  # the message is sent twice
    STREAM_MALFORMED = "stream_malformed"  # sent broken: ``body`` "json" (cut short), "fields", "event"
    # op "listen_key" (checked for every live key at the face's tick and at each keepalive) or
    # "stream": the key expires now (``listenKeyExpired`` on its sockets, its keepalive refused)
    LISTEN_KEY_EXPIRED = "listen_key_expired"


# How a STALE answer is stamped. Its content is the answer as of ``stale_ms`` before the rule
# first fired (per account and read), repeated unchanged for as long as the rule fires, as a
# frozen feed repeats its last payload. "old": with that answer's own times, as a venue replaying
# a cached payload does; "now": with the current time in every time field, the worst case, where
# only the repeating content gives the freeze away.
STALE_STAMPS = ("old", "now")

# HTTP status of each status fault
HTTP_STATUS = {FaultKind.HTTP_429: 429, FaultKind.HTTP_418: 418, FaultKind.HTTP_500: 500, FaultKind.HTTP_503: 503}


@dataclass(frozen=True)
class Fault:
    """One injected fault, as handed to a face. ``applied``: for TIMEOUT, the engine runs the
    operation before the answer is withheld (the outcome is unknown to the client)."""

    kind: FaultKind
    latency_ms: int = 0
    stale_ms: int = 0
    retry_after_s: Optional[float] = None
    applied: bool = False
    body: Optional[str] = None  # HTTP face: a replacement response body for status faults
    rule: int = -1  # index of the rule that fired
    stamp: str = "old"  # STALE: how the repeated answer is timed (STALE_STAMPS)


@dataclass
class FaultRule:
    op: str  # operation name, "METHOD /path" of the HTTP face, or "*"
    kind: FaultKind
    calls: Optional[tuple[int, ...]] = None  # 1-based call numbers of `op` that fire
    from_call: Optional[int] = None  # fire on calls >= from_call ...
    to_call: Optional[int] = None  # ... and <= to_call
    window: Optional[tuple[int, int]] = None  # engine time [start, end) in UTC ms
    times: Optional[int] = None  # fire at most this many times
    account: Optional[str] = None  # only calls made for this account
    latency_ms: int = 0
    stale_ms: int = 0
    retry_after_s: Optional[float] = None
    applied: bool = False
    body: Optional[str] = None
    stamp: str = "old"
    fired: int = 0

    def wants(self, op: str, endpoint: Optional[str]) -> bool:
        return self.op == "*" or self.op == op or (endpoint is not None and self.op == endpoint)

    def fires(self, call: int, now_ms: int, account: Optional[str]) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.account is not None and account != self.account:
            return False
        if self.calls is not None and call not in self.calls:
            return False
        if self.from_call is not None and call < self.from_call:
            return False
        if self.to_call is not None and call > self.to_call:
            return False
        if self.window is not None and not (self.window[0] <= now_ms < self.window[1]):
            return False
        return True


@dataclass(frozen=True)
class FiredFault:
    op: str
    call: int
    now_ms: int
    kind: FaultKind
    account: Optional[str]


@dataclass
class FaultPlan:
    """Rules, per-operation call counters and the log of what fired.

    Call numbers count every ``match`` of an operation (1-based), whether or not a fault
    fires, across accounts; an HTTP rule keyed on an endpoint counts that endpoint's calls.
    """

    rules: list[FaultRule] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    log: list[FiredFault] = field(default_factory=list)

    # --- scripting -------------------------------------------------------------------------

    def add(self, op: str, kind: FaultKind | str, *, calls: Optional[Iterable[int]] = None, call: Optional[int] = None,
            from_call: Optional[int] = None, to_call: Optional[int] = None, window: Optional[tuple[int, int]] = None,
            times: Optional[int] = None, account: Optional[str] = None, latency_ms: int = 0, stale_ms: int = 0,
            retry_after_s: Optional[float] = None, applied: bool = False, body: Optional[str] = None,
            stamp: str = "old") -> "FaultPlan":
        """Add a rule; returns the plan, so rules chain. ``call=n`` is ``calls=(n,)``."""
        if stamp not in STALE_STAMPS:
            raise ValueError(f"BAD_FAULT: stamp {stamp!r} is not one of {', '.join(STALE_STAMPS)}")
        if call is not None:
            calls = (call,) if calls is None else tuple(calls) + (call,)
        self.rules.append(FaultRule(
            op=op, kind=FaultKind(kind), calls=tuple(calls) if calls is not None else None,
            from_call=from_call, to_call=to_call, window=(window[0], window[1]) if window else None, times=times,

            account=account, latency_ms=int(latency_ms), stale_ms=int(stale_ms), retry_after_s=retry_after_s,
            applied=applied, body=body, stamp=stamp))
        return self

    def latency(self, op: str, ms: int, **when) -> "FaultPlan":
        return self.add(op, FaultKind.LATENCY, latency_ms=ms, **when)

    def timeout(self, op: str, *, applied: bool = False, **when) -> "FaultPlan":
        return self.add(op, FaultKind.TIMEOUT, applied=applied, **when)

    def http_error(self, op: str, status: int, *, retry_after_s: Optional[float] = None, **when) -> "FaultPlan":
        kind = {code: k for k, code in HTTP_STATUS.items()}[status]
        return self.add(op, kind, retry_after_s=retry_after_s, **when)

    def malformed_json(self, op: str, **when) -> "FaultPlan":
        return self.add(op, FaultKind.MALFORMED_JSON, **when)

    def stale(self, op: str, ms: int, *, stamp: str = "old", **when) -> "FaultPlan":
        """A frozen feed on ``op``: the answer as of ``ms`` before the first firing, repeated while
        the rule fires, stamped with its own times (``stamp="old"``) or the current time ("now")."""
        return self.add(op, FaultKind.STALE, stale_ms=ms, stamp=stamp, **when)

    def reject_reduce_only(self, op: str = "place_order", **when) -> "FaultPlan":
        return self.add(op, FaultKind.REJECT_REDUCE_ONLY, **when)

    def disconnect_after_send(self, op: str = "place_order", **when) -> "FaultPlan":
        return self.add(op, FaultKind.DISCONNECT_AFTER_SEND, **when)

    def hide_from_next_query(self, op: str = "place_order", **when) -> "FaultPlan":
        return self.add(op, FaultKind.HIDE_FROM_NEXT_QUERY, **when)

    def stream(self, kind: FaultKind | str, op: str = "stream", **when) -> "FaultPlan":
        """A websocket fault (the STREAM_* kinds, LISTEN_KEY_EXPIRED) on ``op``: "stream" (every
        message the face sends, call numbers counted across its sockets), "stream:user" (user
        data) or "stream:market" (mark prices); "listen_key" for a key's expiry."""
        return self.add(op, kind, **when)

    def switch_off(self, op: Optional[str] = None, kind: Optional[FaultKind | str] = None) -> int:
        """Stop the rules of ``op`` and/or ``kind`` from firing again (they stay in the list, so
        the other rules keep their numbers); returns how many were live."""
        k = FaultKind(kind) if kind is not None else None
        n = 0
        for r in self.rules:
            if (op is None or r.op == op) and (k is None or r.kind == k) and (r.times is None or r.fired < r.times):
                r.times = r.fired
                n += 1
        return n

    def clear(self) -> None:
        self.rules.clear()
        self.counts.clear()
        self.log.clear()

    # --- matching --------------------------------------------------------------------------

    def match(self, op: str, now_ms: int, *, account: Optional[str] = None,
              endpoint: Optional[str] = None) -> list[Fault]:
        """Count one call of ``op`` (and of ``endpoint`` when given) and return the faults that
        fire for it, in rule order."""
        call = self.counts.get(op, 0) + 1
        self.counts[op] = call
        ep_call = None
        if endpoint is not None and endpoint != op:
            ep_call = self.counts.get(endpoint, 0) + 1
            self.counts[endpoint] = ep_call
        out: list[Fault] = []
        for i, r in enumerate(self.rules):
            if not r.wants(op, endpoint):
                continue
            n = ep_call if (ep_call is not None and r.op == endpoint) else call
            if not r.fires(n, now_ms, account):
                continue
            r.fired += 1
            self.log.append(FiredFault(op, n, now_ms, r.kind, account))
            out.append(Fault(r.kind, r.latency_ms, r.stale_ms, r.retry_after_s, r.applied, r.body, i, r.stamp))
        return out

    def fired(self, kind: Optional[FaultKind | str] = None) -> list[FiredFault]:
        if kind is None:
            return list(self.log)
        k = FaultKind(kind)
        return [f for f in self.log if f.kind == k]

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def from_dicts(cls, rules: Iterable[dict]) -> "FaultPlan":
        """``[{"op": "place_order", "kind": "timeout", "calls": [2]}, ...]`` (keys of :meth:`add`)."""
        plan = cls()
        for r in rules:
            r = dict(r)
            op = r.pop("op", "*")
            kind = r.pop("kind")
            plan.add(op, kind, **r)
        return plan

    @classmethod
    def load(cls, path: str | Path) -> "FaultPlan":
        return cls.from_dicts(json.loads(Path(path).read_text(encoding="utf-8")))


def first(faults: list[Fault], *kinds: FaultKind) -> Optional[Fault]:
    for f in faults:
        if f.kind in kinds:
            return f
    return None


def total_latency_ms(faults: list[Fault]) -> int:
    return sum(f.latency_ms for f in faults if f.kind == FaultKind.LATENCY)


def stale(faults: list[Fault]) -> Optional[Fault]:
    """The STALE fault that decides a read (the oldest data wins), or None."""
    return max((f for f in faults if f.kind == FaultKind.STALE), key=lambda f: f.stale_ms, default=None)


__all__ = ["FaultKind", "Fault", "FaultRule", "FaultPlan", "FiredFault", "HTTP_STATUS", "STALE_STAMPS", "first",
           "total_latency_ms", "stale"]


def restamp(body: Any, now: int, fields: tuple[str, ...]) -> Any:
    """Every set time field of ``body`` named in ``fields`` made ``now``, in place and in the
    type the venue writes it (a number, or digits in a string): an old payload that looks fresh
    (a STALE rule stamped "now"). Each face names its venue's time fields."""
    if isinstance(body, list):
        for x in body:
            restamp(x, now, fields)
    elif isinstance(body, dict):
        for k, v in body.items():
            if k in fields and isinstance(v, int) and not isinstance(v, bool) and v > 0:
                body[k] = now
            elif k in fields and isinstance(v, str) and v.isdigit() and int(v) > 0:
                body[k] = str(now)
            elif isinstance(v, (dict, list)):
                restamp(v, now, fields)
    return body
