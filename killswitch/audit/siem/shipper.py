"""The audit chain shipped to its sinks: one thread per sink, from the chain, by a durable cursor.

What it owns: :class:`SinkShipper` — a sink's thread, on a store connection of its own — and
:class:`AuditSinks`, every configured sink with their gate (``--audit-sink-required``), status
and ``/metrics``.

How a shipper delivers, while its runner leads (``leading()`` gives the lease's fencing token):
it reads the sink's cursor (the last seq the sink acknowledged) from the store when it starts
leading, reads the chain's rows after it (``batch`` at a time, as stored), sends them, and on the
transport's acknowledgement saves the cursor at the last row's seq, fenced. A receiver that is
down or fails is tried again after a pause doubling from ``backoff_s`` to ``max_backoff_s``,
from the cursor: nothing is skipped. A new leader (a takeover, a restart) starts from the stored
cursor: nothing acknowledged is sent again.

The guarantee: every row reaches every sink, in seq order, exactly once, except after a crash
(or a lost lease, or a store that failed the save) between a send and its cursor's save, where
the rows sent since the last save (the batches of at most ``save_every_s``, while more rows
follow; none once the sink caught up, when the cursor is saved at once) are sent again: at least
once, each row carrying its ``seq`` and hash, so the receiver drops a seq it has already. A syslog write counts as
acknowledged once it completed and the receiver's TCP acknowledged every byte (the send queue
drained, checked before each cursor save), the connection still open: RFC 6587 has no
acknowledgement of its own (OTLP's export answer is one). When the receiver is found to have
closed a connection rows were written on, the last of them (up to ``transport.REPLAY_ROWS``) are
sent again, at least once as above. What a receiver's TCP acknowledged and the receiver then lost
(it crashed before reading its socket) is beyond any sender's sight.

On a standby the shipper sends nothing: it probes its receiver every ``poll_s`` (so the gate and
status answer there too) and reads the stored cursor for the lag.

Never on the tick's loop: the tick writes the chain and nothing else; the shippers read it.

Must not: send a row out of order or past a gap, move a cursor on an unacknowledged send, or
raise out of its thread (a failure is a state, said once on ``err`` and on /metrics).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ...metrics import Registry
from ...state.store import FencedError, StoreError
from .targets import SinkTarget
from .transport import SinkDown, transport_for


@dataclass(frozen=True)
class ShipOptions:
    batch: int = 500  # rows per send
    poll_s: float = 0.2  # how often an idle shipper looks for new rows
    probe_s: float = 5.0  # how often an idle or standby shipper checks that its receiver takes rows
    # the longest a sent batch's cursor waits to be saved while more rows follow (one write
    # transaction a second at most, beside the tick's; saved at once when the sink catches up)
    save_every_s: float = 1.0
    backoff_s: float = 0.5  # the first pause after a failure, doubled to max_backoff_s
    max_backoff_s: float = 30.0


class SinkShipper:
    """One sink's thread (see the module doc). ``store``: a connection of its own; ``leading``:
    the fencing token while this runner leads, else None."""

    def __init__(self, target: SinkTarget, store: Any, leading: Callable[[], Optional[int]],
                 err: Callable[[str], None], echo: Callable[[str], None], opts: ShipOptions = ShipOptions(),
                 transport: Any = None, clock: Callable[[], float] = time.time):
        self.target = target
        self.store = store
        self.leading = leading
        self.err, self.echo = err, echo
        self.opts = opts
        self.transport = transport if transport is not None else transport_for(target)
        self.clock = clock
        self.cursor: Optional[int] = None  # the last seq acknowledged (in memory: may be ahead of a failed save)
        self.head = 0  # the chain's last seq, as last read
        self.up: Optional[bool] = None  # the receiver's state at the last send or probe (None: not tried)
        self.cause: Optional[str] = None
        self.since_ms: Optional[int] = None  # when the cause began (its first failure), while there is one
        self.sent = 0  # rows acknowledged
        self.failures = 0
        self.leads_with: Optional[int] = None  # the token the cursor was read under
        self._probed = float("-inf")  # the monotonic time of the last probe
        self._saved_at = float("-inf")  # the monotonic time of the last cursor save
        self._unsaved = False  # the cursor moved past the stored one
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # --- the thread -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"audit-sink {self.target.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.transport.close()
        if self._thread is None or not self._thread.is_alive():
            self.store.close()

    def _run(self) -> None:
        pause = self.opts.backoff_s
        while not self._stop.is_set():
            try:
                worked = self.step()
            except SinkDown as e:
                self._down(e.cause, str(e))
                self._stop.wait(pause)
                pause = min(pause * 2, self.opts.max_backoff_s)
                continue
            except StoreError as e:  # the store's words name no secret (its URL is masked)
                self._said("STORE", f"the state store cannot be read or written ({type(e).__name__})")
                self.leads_with = None  # the cursor is read again
                self._stop.wait(pause)
                pause = min(pause * 2, self.opts.max_backoff_s)
                continue
            pause = self.opts.backoff_s
            if not worked:
                self._stop.wait(self.opts.poll_s)
        fence = self.leading()
        if fence is not None and fence == self.leads_with:
            try:
                self._save(fence, force=True)
            except (StoreError, SinkDown):
                pass  # sent again by the next leader: at least once, as said

    def step(self) -> bool:
        """One round: a batch sent and its cursor saved (True), or nothing to send (False: a probe
        on a standby or an idle leader's look). Raises SinkDown or StoreError."""
        fence = self.leading()
        if fence is None:
            self.leads_with = None
            stored = self.store.audit_sink_cursor(self.target.name)
            self.cursor, self.head = stored, self.store.chain_head_seq()
            self._probe()
            return False
        if self.leads_with != fence:
            self.cursor = self.store.audit_sink_cursor(self.target.name)
            self.leads_with, self._unsaved = fence, False
        replay = self.transport.take_replay()
        if replay is not None and replay <= (self.cursor or 0):
            self._said("REPLAY", f"the receiver closed a connection rows {replay} to {self.cursor} were written on; "
                                 "they are sent again (at least once: deduplicate by seq at the receiver)")
            self.cursor = replay - 1
        after = self.cursor or 0
        rows = self.store.chain_rows(after, self.opts.batch)
        self.head = max(self.store.chain_head_seq(), rows[-1].seq if rows else 0)
        if not rows:
            self._save(fence, force=True)  # caught up: the cursor stored now
            self._probe()
            return False
        if rows[0].seq != after + 1:  # a gap in the chain: never skipped over silently
            self._said("GAP", f"the chain has no row {after + 1} (next: {rows[0].seq}); audit verify says why; "
                              "shipping goes on from the rows there are")
        self.transport.send(rows)
        self.cursor, self._unsaved = rows[-1].seq, True
        self.sent += len(rows)
        self._up()
        self._save(fence, force=False)
        return True

    def _save(self, fence: int, *, force: bool) -> None:
        """The cursor stored (fenced), if it moved: at once with ``force``, else once save_every_s
        has passed since the last save."""
        now = time.monotonic()
        if not self._unsaved or (not force and now - self._saved_at < self.opts.save_every_s):
            return
        self.transport.confirm()  # SinkDown: not saved, sent again
        try:
            self.store.save_audit_sink_cursor(self.target.name, self.cursor or 0, fence, int(self.clock() * 1000))
        except FencedError:
            self.leads_with = None  # deposed: the new leader goes on from the stored cursor
            return
        self._unsaved, self._saved_at = False, now

    def _probe(self) -> None:
        """Whether the receiver takes rows: at once while it is not known to, else every probe_s."""
        now = time.monotonic()
        if self.up is True and now - self._probed < self.opts.probe_s:
            return
        self._probed = now
        self.transport.probe()
        self._up()

    # --- state ------------------------------------------------------------------------------------

    def _up(self) -> None:
        if self.up is not True:
            self.echo(f"ksctl run: audit sink {self.target.name} takes rows (acknowledged through seq "
                      f"{self.cursor or 0})")
        self.up, self.cause, self.since_ms = True, None, None

    def _caused(self, cause: str) -> None:
        if self.cause != cause or self.since_ms is None:
            self.since_ms = int(self.clock() * 1000)
        self.cause = cause

    def _down(self, cause: str, text: str) -> None:
        self.failures += 1
        if self.up is not False or self.cause != cause:
            self.err(f"ksctl run: AUDIT_SINK_DOWN: audit sink {self.target.name}: {text}; tried again from seq "
                     f"{(self.cursor or 0) + 1}, nothing is skipped")
        self.up = False
        self._caused(cause)

    def _said(self, cause: str, text: str) -> None:
        if self.cause != cause:
            self.err(f"ksctl run: AUDIT_SINK_{cause}: audit sink {self.target.name}: {text}")
        self._caused(cause)

    @property
    def lag(self) -> int:
        return max(0, self.head - (self.cursor or 0))

    def status(self) -> dict:
        """What ``GET /v1/status`` shows of the sink (``audit_sinks.sinks``): its URL without
        credentials nor query, its state, the last error (a reason code) and since when, the
        cursor and the lag in rows."""
        return {"name": self.target.name, "target": self.target.describe(), "url": self.target.shown_url(),
                "state": "up" if self.up else ("down" if self.up is False else "unknown"), "cause": self.cause,
                "since_ms": self.since_ms, "acknowledged_seq": self.cursor, "head_seq": self.head,
                "lag_rows": self.lag, "shipping": self.leads_with is not None}


class AuditSinks:
    """Every configured sink (see the module doc). ``required``: operator writes that add risk are
    refused while no sink takes rows (:meth:`refusal`); what reduces risk goes on, its rows kept
    in the chain and shipped from the cursor when a sink answers. On /metrics (:meth:`collect_metrics`) and, as the
    collector whose ``status_key`` it is, in the runner's status (:meth:`status`)."""

    status_key = "audit_sinks"

    def __init__(self, shippers: list[SinkShipper], required: bool):
        self.shippers = shippers
        self.required = required

    def start(self) -> None:
        for s in self.shippers:
            s.start()

    def stop(self) -> None:
        for s in self.shippers:
            s.stop()

    def refusal(self) -> Optional[str]:
        """Why an operator write that adds risk is refused now (``AUDIT_SINK_DOWN``), or None: it
        may go on. What reduces risk never waits (:mod:`killswitch.face.api.access`)."""
        if not self.required or any(s.up for s in self.shippers):
            return None
        why = "; ".join(f"{s.target.name}: {s.cause or 'not reached yet'}" for s in self.shippers)
        return (f"no audit sink takes rows ({why}) and --audit-sink-required is set: writes that add risk wait "
                "for one (a halt, lock, cancel, close, kill or revoke goes on)")

    def status(self) -> dict:
        return {"required": self.required,
                "sinks": [{**s.status(), "required": self.required} for s in self.shippers]}

    def collect_metrics(self, registry: Registry) -> None:
        lag = registry.sampled("killswitch_audit_sink_lag_rows", "gauge",
                               "Audit rows written to the chain and not yet acknowledged by the sink.", ("sink",))
        up = registry.sampled("killswitch_audit_sink_up", "gauge",
                              "1 while the audit sink takes rows (its last send or probe succeeded), else 0.",
                              ("sink",))
        sent = registry.sampled("killswitch_audit_sink_rows_total", "counter",
                                "Audit rows the sink acknowledged, since start.", ("sink",))
        failed = registry.sampled("killswitch_audit_sink_failures_total", "counter",
                                  "Sends and probes of the audit sink that failed, since start.", ("sink",))
        required = registry.sampled("killswitch_audit_sink_required", "gauge",
                                    "1 when operator writes that add risk are refused while no audit sink takes rows.")
        required.add(1 if self.required else 0)
        for s in self.shippers:
            lag.add(s.lag, sink=s.target.name)
            up.add(1 if s.up else 0, sink=s.target.name)
            sent.add(s.sent, sink=s.target.name)
            failed.add(s.failures, sink=s.target.name)
