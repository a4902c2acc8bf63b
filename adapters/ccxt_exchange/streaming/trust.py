"""When an account's private stream may be trusted: its health, its REST reconciles, its snapshot.

What it owns (:class:`StreamTrust`, a part of :class:`~.stream.AccountStream`)
    * :meth:`StreamTrust.health`: off | connecting | live | stale | down, with its reason; a
      stream asked for and not started yet is ``connecting`` (it starts when the runner leads;
      ``off`` is for an account that polls, and for a stream stopped with its adapter);
    * when the stream's state may be trusted: not until a REST reconcile read wholly after the
      connection's sockets opened (ccxt's ``on_connected``: a fill between a REST read and the
      user data socket's opening reaches neither) has found nothing wrong; a disagreement, or
      a close the adapter found larger than the position (:meth:`StreamTrust.distrust`),
      sends the snapshots back to REST until one agrees; a connection given up is down at
      once and what its closing client still delivers is not read;
    * the REST reconciles' bookkeeping: when the last good one was taken, and the failed ones
      since (how many, the last one's reason code: a run of failures is keyed to the count of
      good reconciles, so a good one ends it without being told); a stream whose last good
      reconcile is older than ``OVERDUE_AFTER`` × ``reconcile_every`` is *overdue*: not
      confirmed any more, its snapshots read REST in front until a reconcile agrees (blind, as
      any failed snapshot, while REST fails too);
    * the snapshot from the stream's state, its ``ts_event`` the venue's latest event time
      (``E``, the dialect's ``stream_time``): the venue's clock, as a REST snapshot's, never
      our receipt time;
    * the marks the venue refused to stream (a refused subscription, on this connection or the
      venue's shared one, :mod:`.hub`): the symbols held among them named on its health
      (``unstreamed``, STREAM_MARKS_REFUSED while live), valued at REST's price at each
      reconcile, and the stream not trusted while one is held (each snapshot reads REST in
      front, as a polled account's does) until a new connection subscribes them again;
    * the stream's state changes (:meth:`StreamTrust._enter`) and the one-time log of each kind
      of thing it says per account.

What it must not do
    read REST (the adapter does, and hands its snapshot to :meth:`StreamTrust.reconcile`), or
    log anything but scrubbed text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Iterable, Mapping, Optional

from killswitch.snapshot import MarketRules, Snapshot

from ...base import OVERDUE_AFTER, StreamHealth
from ..dialects.stream_hooks import EVERY
from ..errors import scrub
from .state import StreamState, prepare_stepwise

log = logging.getLogger(__package__)


class StreamTrust:
    """The stream's health and its reconciles (the base of :class:`~.stream.AccountStream`'s
    parts, which declares the state they share; its constructor sets it)."""

    key: str  # the runner's venue/account
    state: StreamState
    orders_due: bool  # an order came whose kind the stream does not say: the next REST read lists them all
    in_doubt: set[str]  # those orders' ids, until a REST list names them
    asking: dict[str, asyncio.Task]  # such orders asked of the venue, until it answers (:mod:`.kinds`)
    stale_after_ms: int
    reconcile_every_ms: int
    reconnects: int
    disagreements: int
    reconciles: int
    _clock: Callable[[], int]
    _secrets: Callable[[], Iterable[str]]
    _contract_size: Callable[[str], float]
    _rules: Callable[[str], Optional[MarketRules]]
    _wake: Optional[Callable[[str], None]]
    _state: str
    _reason: Optional[str]
    _since: Optional[int]
    _last_message: Optional[int]
    _reconciled_at: Optional[int]
    _failed: Optional[tuple[int, int, str]]
    _reconcile_due: bool
    _epoch: int
    _base_epoch: int
    _event_ms: Optional[int]
    _preparing: Optional[asyncio.Future]
    _held: set[str]
    _refused: set[str]  # the symbols whose marks the venue refused on this connection (EVERY: all)
    _refused_of: Callable[[Any], Optional[str]]  # the dialect's stream_refused (its symbols bound)
    _hub: Optional[Any]  # the venue's shared mark connection this stream reads its marks from
    stretch: int  # the reconcile cadence's multiple under load (runner/tick/shed.py); 1: as configured
    _logged: set[str]

    def health(self) -> StreamHealth:
        state, reason, since = self._state, self._reason, self._since
        now = self._clock()
        if state == "live" and self._last_message is not None and now - self._last_message > self.stale_after_ms:
            state, reason, since = "stale", "STREAM_STALE", self._last_message + self.stale_after_ms
        overdue = self._overdue(now)
        failures, failure = self.reconcile_failures()
        unstreamed = self.unstreamed()
        if state == "live" and unstreamed:
            reason = "STREAM_MARKS_REFUSED"
        return StreamHealth(state=state, reason=reason, since_ms=since, last_message_ms=self._last_message,
                            reconnects=self.reconnects, disagreements=self.disagreements,
                            dropped=dict(self.state.dropped), reconciles=self.reconciles,
                            answers=state == "live" and not self._reconcile_due and self._reconciled_at is not None
                            and not overdue and not unstreamed,
                            reconciled_ms=self._reconciled_at,
                            reconcile_every_ms=self.reconcile_every_ms * self.stretch,
                            reconcile_failures=failures, reconcile_failure_reason=failure, reconcile_overdue=overdue,
                            unstreamed=unstreamed)

    def unstreamed(self) -> tuple[str, ...]:
        """The symbols held whose marks the venue refused to stream on the connection that
        carries them (this one's, or the venue's shared one: :mod:`.hub`), sorted."""
        refused = self._hub.refused if self._hub is not None else self._refused
        if not refused:
            return ()
        return tuple(sorted(self._held if EVERY in refused else refused & self._held))

    def marks_refused(self, refused: set[str], message: Any) -> None:
        """The venue refused a subscription of marks (a ``refused`` message): its symbol (the
        dialect's ``stream_refused``; EVERY where it names none) kept in ``refused`` — the
        connection's that carried it —, said once per account with the venue's words, and the
        runner woken (the next snapshot reads REST while a symbol held is one). Never asked again
        on that connection (the streaming client keeps the subscription as sent)."""
        symbol = self._refused_of(message) or EVERY
        refused.add(symbol)
        said = str(message.get("msg") or "") if isinstance(message, Mapping) else str(message)
        self._once("marks-refused", logging.WARNING, "%s: STREAM_MARKS_REFUSED: the venue refused the marks of %s: "
                   "%s; valued from REST, each snapshot reads REST while one is held, until a reconnect subscribes "
                   "them again (said once)", self.key, "every symbol" if symbol == EVERY else symbol,
                   scrub(said[:200], self._secrets()))
        self.wake_runner()
    def reconcile_failures(self) -> tuple[int, Optional[str]]:
        """The REST reconciles that failed since the last good one, and the last one's reason code
        ((0, None) when the last read was good, or none failed)."""
        if self._failed is None or self._failed[0] != self.reconciles:
            return 0, None  # none failed, or a good reconcile came after them
        return self._failed[1], self._failed[2]

    def _overdue(self, now: int) -> bool:
        """The last good reconcile is older than ``OVERDUE_AFTER`` × ``reconcile_every``."""
        return self._reconciled_at is not None and \
            now - self._reconciled_at > OVERDUE_AFTER * self.reconcile_every_ms * self.stretch

    def needs_rest(self) -> bool:
        """Whether the next snapshot must read REST before it can answer: the stream is not live,
        a reconnect or a disagreement has not been reconciled yet, nothing has been, the last
        good reconcile is overdue (the cadence's reads beside the ticks have failed for
        ``OVERDUE_AFTER`` × ``reconcile_every``: the stream's word is not confirmed any more)."""
        return self.health().state != "live" or self._reconcile_due or self._reconciled_at is None or \
            self._overdue(self._clock()) or bool(self.unstreamed())

    def reconcile_aged(self) -> bool:
        """Whether the cadence's reconcile is due: the last one is ``reconcile_every`` old. The
        stream still answers (it is live and was confirmed); the REST read runs beside it."""
        return self._reconciled_at is not None and \
            self._clock() - self._reconciled_at >= self.reconcile_every_ms * self.stretch

    def wake_runner(self) -> None:
        """The runner woken (a reconcile beside the ticks changed what the next one reads)."""
        if self._wake is not None:
            try:
                self._wake(self.key)
            except Exception as e:  # noqa: BLE001 — the runner's callback never ends the stream
                log.debug("%s: wake: %s", self.key, type(e).__name__)

    def reconcile_failed(self, reason: Optional[str]) -> None:
        """A REST read for a reconcile failed: counted with its reason code until a good one; the
        read is tried again at the next snapshot. A confirmed live stream goes on answering until
        the reconcile is overdue (``OVERDUE_AFTER`` × ``reconcile_every`` since the last good
        one), then REST is read in front of each snapshot. Said once per account (the runner says
        when it is overdue, and when it is not any more)."""
        code = reason or "unknown"
        if self._failed is not None and self._failed[0] == self.reconciles:
            self._failed = (self.reconciles, self._failed[1] + 1, code)
        else:
            self._failed = (self.reconciles, 1, code)
        self._once("reconcile-failed", logging.WARNING, "%s: the reconcile's REST read failed (%s); tried again "
                   "at the next snapshot, a live stream answering alone for %d× reconcile_every at most meanwhile",
                   self.key, code, OVERDUE_AFTER)

    def snapshot(self) -> Optional[Snapshot]:
        """The account from the stream's state (None before a REST snapshot gave its base).

        ``ts_event`` is the venue's time, as a REST snapshot's is: the latest event time (``E``)
        the stream delivered, or the REST base's own when that is later — never our receipt
        time, which is another clock (a simulated venue's runs apart from ours, and a data age
        taken between the two would be wrong). ``ts_observed`` is our clock's now. An order
        whose kind is being asked of the venue (``asking``) is not in it yet: the snapshot says
        no kind it does not know (a REST snapshot between two lists of every open order has no
        order placed since either)."""
        now = self._clock()
        base = self.state.base
        ts = self._event_ms
        source: Optional[str] = "venue"  # an E the stream delivered: the venue's stamp
        if base is not None and (ts is None or base.ts_event > ts):
            ts, source = base.ts_event, base.ts_source
        if ts is None:
            ts, source = now, "runner"
        return self.state.snapshot(now, ts, self._contract_size, self._rules, ts_source=source, withheld=self.asking)

    async def prepare_stepwise(self) -> None:
        """The legs made after a reconcile beside the ticks, the loop free every few hundred; a
        snapshot asked meanwhile waits for them (:meth:`made`) rather than make them at once."""
        done = asyncio.get_running_loop().create_future()
        self._preparing = done
        try:
            await prepare_stepwise(self.state, self._contract_size, self._rules)
        finally:
            self._preparing = None
            done.set_result(None)

    async def made(self) -> None:
        """Once the legs being made a slice at a time are (at once when none are)."""
        if self._preparing is not None:
            await asyncio.shield(self._preparing)

    def reconcile_token(self) -> int:
        """Taken before a REST read and handed back with it to :meth:`reconcile`: whether the
        connection began or a socket of it opened while the read was under way."""
        return self._epoch

    def distrust(self, why: str) -> None:
        """The stream's state was found wrong outside a reconcile (a close it sized was larger
        than the position): the next snapshot reads REST, and REST reads go on until one agrees."""
        self._reconcile_due = True
        self._once("distrust", logging.WARNING, "%s: the stream's state is in doubt (%s): snapshots read REST until "
                   "a reconcile agrees with the stream", self.key, scrub(why, self._secrets()))

    def reconcile(self, rest: Snapshot, token: Optional[int] = None, *, orders: bool = True,
                  orders_since: Optional[int] = None, prepare: bool = True) -> None:
        """A good REST snapshot: compared with the stream's state (each kind of disagreement
        logged once per account, every one counted) and put in its place.

        The stream answers snapshots again only after a reconcile that found nothing wrong,
        read wholly after the connection's sockets were open (``token`` from
        :meth:`reconcile_token`; None: taken now): a disagreement says the stream missed or
        misread something — its next state is not to be trusted until REST confirms it — and a
        REST read begun before a socket opened cannot cover the fills in between, which the
        stream never delivers.

        A disagreement is counted only where the stream's state was its word: live, on the same
        sockets since the last reconcile's read began (a stream down or reconnected since
        missed what it missed; REST takes its place without a count). ``orders`` false: the
        REST snapshot's open orders are an earlier read's (the adapter lists them on its own
        cadence), neither compared nor taken. A failed REST snapshot is a failed reconcile
        (:meth:`reconcile_failed`, with its reason code)."""
        if not rest.fetch.ok:
            self.reconcile_failed(rest.fetch.error_code)
            return
        token = self._epoch if token is None else token
        compare = self._state == "live" and self._base_epoch == token == self._epoch
        self._base_epoch = token
        found = self.state.reconcile(rest, self._clock(), self._contract_size, compare=compare, orders=orders,
                                     orders_since=orders_since, rest_marks=self.unstreamed())
        # an order whose kind the stream could not say stays in doubt until a REST list names it:
        # a read begun before it came lists it not, and its kind (a stop that only reduces?) is
        # still unknown — the enforcement must not take it for an entry (nor cancel it as one)
        if orders:
            self.in_doubt -= {str(o.id) for o in rest.orders}
        self.in_doubt &= set(self.state.orders)  # an order gone since is no doubt
        self.orders_due = bool(self.in_doubt) or (self.orders_due and not orders)
        # every leg is made anew after a reconcile: now, in the tick that read REST, not in the
        # next one, which a stream update starts and waits on (a quarter of a second at 10,000);
        # ``prepare`` false: the caller makes them a slice at a time (:meth:`prepare_stepwise`)
        if prepare:
            self.state.prepare(self._contract_size, self._rules)
        self.reconciles += 1
        self._reconciled_at = self._clock()
        self._reconcile_due = bool(found) or token != self._epoch or bool(self.in_doubt)
        if found:
            self.disagreements += 1
        for d in found:
            self._once("disagree:" + d.kind, logging.WARNING, "%s: stream and REST disagree on %s (REST wins): %s",
                       self.key, d.kind, scrub(d.detail, self._secrets()))
        self._held = self.state.held()

    def _enter(self, state: str, reason: Optional[str]) -> None:
        if (state, reason) != (self._state, self._reason):
            self._state, self._reason, self._since = state, reason, self._clock()

    def _once(self, what: str, level: int, msg: str, *args: Any) -> None:
        if what not in self._logged:
            self._logged.add(what)
            log.log(level, msg, *args)


__all__ = ["StreamTrust"]
