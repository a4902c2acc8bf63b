"""What the parts of :class:`~.sink.NotifySink` stand on: the state they share, and the calls
one part makes on another.

:class:`SinkHooks` declares the fields :class:`~.sink.NotifySink` sets when it is built (the
routes and receivers, the queues, the delivery tasks, the counters) and the calls its parts make
across: waking the worker (``_wake``, the sink's), a delivery's receipt, the receipt writer and a count
(``_receipt``, ``_writer``, ``_count``, :class:`~.receipts.Receipts`'). The delivery part
(:mod:`.delivery`), the receipts part (:mod:`.receipts`) and the part taking up what a stopped
runner handed over (:mod:`.takeup`) each take it as their base; the sink is built from them and
defines the rest.

Must not: hold state of its own, or decide anything about a page.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Optional

from ..metrics import Histogram, Registry
from .dispatch import Dispatcher
from .health import PageHealth
from .queues import NotifyOptions, _Item, _Job
from .receivers import ResolvedReceiver, SendResult
from .replay import Handed
from .routes import RouteTree

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..events import ReceiptWriter, SinkContext


class SinkHooks:
    """The fields and calls the parts of :class:`~.sink.NotifySink` share (it sets every field)."""

    trees: dict[str, RouteTree]
    receivers: dict[tuple[str, str], ResolvedReceiver]
    unresolved: dict[tuple[str, str], list[str]]  # (document, receiver) -> problems, by reference
    receipts: Optional["ReceiptWriter"]  # None: the context of the runner whose events the sink pages
    _ctx: Optional["SinkContext"]  # that runner, as its sinks see it
    clock: Callable[[], int]
    options: NotifyOptions
    dispatcher: Dispatcher
    health: PageHealth
    _events: deque[_Item]
    _deliveries: deque[_Job]
    _tasks: set[asyncio.Task]
    _busy: set[tuple[str, str]]  # (document, receiver) with a delivery in flight
    _dropped_jobs: list[_Job]
    _executor: Optional[ThreadPoolExecutor]
    _closing: bool
    dropped: dict[tuple[str, str], int]
    _dropped_audited: int
    notifications: dict[tuple[str, str], int]  # (receiver, result) -> count
    attempts: dict[tuple[str, str], int]
    receipt_errors: int
    _fenced_said: bool  # RECEIPTS_FENCED said since the last receipt written
    latency_registry: Registry  # the sink's own families, kept across scrapes: the page latency
    page_latency: Histogram
    _maybe_handed: Handed  # pages perhaps delivered just before the last runner died (:mod:`.replay`)

    def _wake(self) -> None:
        raise NotImplementedError

    def _handed(self, job: _Job) -> None:
        raise NotImplementedError

    def _receipt(self, job: _Job, attempt: int, res: SendResult, final: bool, retry_at: Optional[int] = None
                 ) -> None:
        raise NotImplementedError

    def _writer(self) -> Optional["ReceiptWriter"]:
        raise NotImplementedError

    @staticmethod
    def _count(table: dict, receiver: str, result: str) -> None:
        raise NotImplementedError
