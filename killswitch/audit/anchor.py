"""The audit anchor sink: the chain's head exported where the database cannot reach it.

Every ``every_ms`` of the runner's clock (and at its first tick) the sink reads the audit head
and, when it moved, logs one line through the daemon's ``echo``::

    AUDIT_HEAD seq=1042 hash=9f2c…e1 at=2026-03-02T13:05:00Z anchored=hmac:3f2a9c0d1e2b4a5f

and shows it on ``/metrics`` (``killswitch_audit_head_seq``, ``killswitch_audit_head_info{seq,hash}``,
``killswitch_audit_anchor_timestamp_seconds``). Log collectors and Prometheus keep these lines
beyond anyone's database access: ``ksctl audit verify --anchor SEQ:HASH`` (or ``--anchors-from``
a file of such lines) later proves the chain still holds each one unchanged, which catches a
chain cut back below an anchor or rewritten under it, key or no key.

At each export the sink also checks the previous anchor it exported against the chain (one row
read): a row that vanished or changed is said at once on ``err`` (``AUDIT_ANCHOR_BROKEN``) and
stays on ``/metrics`` (``killswitch_audit_anchor_broken`` 1, sticky until restart).
``killswitch_audit_anchored`` is 1 while the head carries a valid MAC of this runner's key.

Every replica runs it (a standby reads the same chain): any replica's line is a valid anchor.

At a tick the head and the row are read through the sink's view of the store (``ctx.store``: on
the runner's store thread, waited for a bounded time), never on the loop's own: a paused server
then fails an export (said and counted) rather than holding the loop.

Must not: write to the store, block a tick for more than a one-row read every ``every_ms``,
raise into the runner (a store that cannot be read is said on ``err`` and counted), or print
the key (it only ever sees the key's id).
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol, Sequence

from ..figures import iso
from ..metrics import Registry, render_collected
from ..state.store import AuditHead, StateStore, StoreError, key_problem

if TYPE_CHECKING:  # pragma: no cover
    from ..events import Event, SinkContext, TickFacts

DEFAULT_EVERY_MS = 5 * 60_000


class AnchorReads(Protocol):
    """The two reads an export makes: the store's own, or a tick's ``ctx.store``."""

    def audit_head(self) -> Optional[AuditHead]: ...

    def audit_rows(self, since_ms: Optional[int] = None, kinds: Optional[Sequence[str]] = None,
                   limit: int = 1000, *, after_seq: int = 0) -> Sequence[Any]: ...


class AuditAnchorSink:
    name = "audit-anchor"

    def __init__(self, store: StateStore, echo: Callable[[str], None], err: Callable[[str], None], *,
                 every_ms: int = DEFAULT_EVERY_MS, warn: Optional[Callable[[str], None]] = None):
        if every_ms <= 0:
            raise ValueError("the audit anchor interval must be longer than 0")
        self.store = store
        self.echo = echo
        self.err = err
        self.warn = warn or err  # a risk the runner runs on with (logged WARNING), not a failure
        self.every_ms = every_ms
        self.last: Optional[AuditHead] = None  # the head last exported
        self.last_ms: Optional[int] = None  # the last export attempt (the runner's clock)
        self.exported_ms: Optional[int] = None  # the last export that read the head
        self.now_ms: Optional[int] = None  # the last tick's time
        self.anchored = False
        self.broken = False
        self.exports = 0
        self.read_errors = 0

    def describe(self) -> str:
        """One line for the daemon's start-up message: how the chain is anchored and exported."""
        key = self.store.audit_key
        head = self._head()
        every = f"AUDIT_HEAD exported every {self.every_ms / 1000:g}s"
        if head is not None and head.anchored and key is not None and head.key_id == key.key_id:
            return f"audit chain anchored by HMAC from row {head.anchored_from} (key id {key.key_id}); {every}"
        return f"audit chain NOT anchored by this runner (no usable audit key); {every}"

    def announce(self) -> None:
        """Say at start how the chain is anchored; a key problem on ``err`` (the runner runs on)."""
        self.echo(f"ksctl run: {self.describe()}")
        try:
            problem = key_problem(self.store.audit_head(), self.store.audit_key)
        except StoreError as e:
            problem = f"AUDIT_HEAD_UNREADABLE: {e}"
        if problem:
            self.err(f"ksctl run: error: {problem}")
        elif self.store.audit_key is None:
            self.warn("ksctl run: warning: no audit key (KS_AUDIT_KEY or --audit-key-file): the audit chain is not "
                      "anchored; someone with database access could rewrite it undetected")

    # --- the Sink protocol --------------------------------------------------------------------

    def on_tick(self, report: "TickFacts", ctx: "SinkContext") -> None:
        self.now_ms = report.now_ms
        if self.last_ms is None or report.now_ms - self.last_ms >= self.every_ms:
            self.export(report.now_ms, ctx.store)

    def on_event(self, event: "Event", ctx: "SinkContext") -> None:
        pass

    async def aclose(self) -> None:
        if self.now_ms is not None:
            self.export(self.now_ms)  # the head at stop: the last anchor before a restart or an upgrade

    # --- exporting ----------------------------------------------------------------------------

    def _head(self) -> Optional[AuditHead]:
        try:
            return self.store.audit_head()
        except StoreError:
            return None

    def export(self, now_ms: int, reads: Optional["AnchorReads"] = None) -> Optional[AuditHead]:
        """Read the head, check the previous anchor still holds, and log the head if it moved;
        through ``reads`` (a tick's ``ctx.store``), else the store itself (at stop)."""
        self.last_ms = now_ms
        store = reads if reads is not None else self.store
        try:
            head = store.audit_head()
            self._check_previous(store)
        except StoreError as e:
            self.read_errors += 1
            self.err(f"ksctl run: AUDIT_HEAD_UNREADABLE: {e}")
            return None
        if head is None:
            self.anchored = False
            self.err("ksctl run: AUDIT_HEAD_MISSING: the audit_head row is gone; run ksctl audit verify")
            return None
        key = self.store.audit_key
        # isascii first: compare_digest raises on non-ASCII text, and the head is anyone's to write
        self.anchored = bool(key is not None and head.mac and head.mac.isascii() and head.key_id == key.key_id
                             and head.anchored_from
                             and hmac.compare_digest(head.mac, key.head_mac(head.seq, head.hash, head.anchored_from)))
        if self.last is None or (head.seq, head.hash) != (self.last.seq, self.last.hash):
            how = f"hmac:{head.key_id}" if self.anchored else "none"
            self.echo(f"{head.line()} at={iso(now_ms)} anchored={how}")
        self.last, self.exported_ms = head, now_ms
        self.exports += 1
        return head

    def _check_previous(self, store: "AnchorReads") -> None:
        prev = self.last
        if prev is None or prev.seq == 0:
            return
        rows = store.audit_rows(after_seq=prev.seq - 1, limit=1)
        if rows and rows[0].seq == prev.seq and rows[0].hash == prev.hash:
            return
        now = "is gone" if not rows or rows[0].seq != prev.seq else f"now has hash {rows[0].hash}"
        self.broken = True
        self.err(f"ksctl run: AUDIT_ANCHOR_BROKEN: row {prev.seq} was exported with hash {prev.hash} and {now}: "
                 f"the chain was cut or rewritten; run ksctl audit verify --anchor {prev.seq}:{prev.hash}")

    def collect_metrics(self, registry: Registry) -> None:
        registry.sampled("killswitch_audit_anchored", "gauge",
                         "1 when the audit chain is anchored by an HMAC key, 0 when not.").add(int(self.anchored))
        registry.sampled("killswitch_audit_anchor_broken", "gauge",
                         "1 once an exported audit head was found cut or rewritten.").add(int(self.broken))
        registry.sampled("killswitch_audit_anchor_exports_total", "counter",
                         "AUDIT_HEAD lines exported to the log.").add(self.exports)
        registry.sampled("killswitch_audit_head_read_errors_total", "counter",
                         "Reads of the audit head that failed.").add(self.read_errors)
        if self.last is not None and self.exported_ms is not None:
            registry.sampled("killswitch_audit_head_seq", "gauge",
                             "Sequence number of the audit head last exported.").add(self.last.seq)
            registry.sampled("killswitch_audit_head_info", "gauge", "The audit head last exported (always 1).",
                             ("seq", "hash")).add(1, seq=str(self.last.seq), hash=self.last.hash)
            registry.sampled("killswitch_audit_anchor_timestamp_seconds", "gauge",
                             "Unix time of the last audit head export.").add(round(self.exported_ms / 1000, 3))

    def metrics_text(self) -> str:
        return render_collected(self.collect_metrics)
