"""A shard carrying out the firm's directives on its own accounts, once each, and an operator's
firm-wide command sent to this shard's API written as a directive for every shard.

What it owns:

* :class:`DirectiveApplier` — reads the directives written after the last it holds (at every
  tick, and at once on a ``NOTIFY killswitch_firm``: a notification can be lost, a tick cannot),
  claims each in the shard's schema (fenced by the shard's token: a standby or a deposed leader
  claims nothing) and applies it to the accounts of this shard it spans
  (:func:`killswitch.firm.directives.targets`) through the paths an operator's command takes:
  a firm policy's lock goes in the lock book as the firm policy's hold (``firm:<name>``, held
  until the firm's reset lifts it; an operator's unlock of it is refused ``POLICY_LOCK``), an
  operator's firm-wide lock as an operator lock, a cancel through the executor's cancels (as a
  tick sends a stage's ``cancel_orders``: each account's open orders the venue lists now, all of
  them or its entries; audited ``firm_cancel``, a venue's refusal ``cancel_failed``), a close
  through the manual close (previewed, then sent, journaled in the shard's own journal). A stage
  entry's cancel is written before its close and so applied first: its cancels are sent at
  once, its close at the next tick. A directive claimed and never marked
  applied (the runner stopped between) is applied again by the next leader. A shard's first run
  skips the directives written before it, except the firm's locks then in force
  (:func:`killswitch.firm.directives.locks_in_force`), which its first leader applies before
  anything newer — a shard that joins the firm during a firm-wide halt starts halted; a
  firm-wide kill and its release are handed to :class:`~.kill.KillApplier`, which also takes up,
  at every tick, what a kill carried out here has not reached yet;
* :class:`Listener` — the ``LISTEN`` connection, on a thread of its own, reconnecting.

Must not: apply a directive to an account of another shard, or apply one twice under a token.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable, Optional

from ..firm.directives import (
    CANCEL_ORDERS,
    CLOSE_ALL,
    FIRM_HOLD_PREFIX,
    KILL,
    KILL_RELEASE,
    LOCK,
    PER_ACCOUNT,
    RESET,
    UNLOCK,
    Directive,
    inherited,
    locks_in_force,
    targets,
)
from ..orders import CancelIntent
from ..state.store import FencedError, StoreError
from ..view import ChangeResult
from .kill import KillApplier
from .ports import ShardPorts

log = logging.getLogger("killswitch.firm")


class DirectiveApplier:
    """See the module doc. ``ports``: the shard runner's parts it applies a directive through
    (:class:`~.ports.ShardPorts`)."""

    def __init__(self, ports: ShardPorts, firm: Any, shard: str, schema: str, clock: Callable[[], int],
                 echo: Callable[[str], None], err: Callable[[str], None], *,
                 wake: Callable[[], None] = lambda: None,
                 spans_now: Callable[[Directive], list[str]] = lambda d: []):
        self.ports = ports
        self.firm = firm
        self.shard = shard
        self.schema = schema
        self.clock = clock
        self.echo = echo
        self.err = err
        self.after_id = 0
        self.applied_total = 0
        self._lock = asyncio.Lock()
        self._retaken: Optional[int] = None  # the token under which unfinished claims were taken up
        # ends the wait between ticks: a close is taken up by the next tick, which need not wait its interval
        self.wake = wake
        # the accounts a lock's scope spans under today's configuration (the firm link's)
        self.spans_now = spans_now
        self.kills = KillApplier(ports, firm, shard, schema, clock, echo)  # the firm-wide kill's part here

    async def start(self) -> None:
        last = await asyncio.to_thread(self.firm.last_directive_id)
        now = self.clock()
        self.after_id = await asyncio.to_thread(self.firm.ensure_applied, self.schema, last, now,
                                                lambda old: [d.id for d in locks_in_force(old, now)])

    @property
    def mine(self) -> list[str]:
        return list(self.ports.accounts)

    async def apply_new(self) -> int:
        """Apply every directive written since the last one read (the leader only): how many."""
        lead = self.ports.lead
        if not lead.leader or not lead.fence:
            return 0
        # the turn before the lock: a firm-wide command applied from inside the API's turn must not wait
        # for a NOTIFY's application that holds the lock and waits for that turn
        async with self.ports.turn.here(), self._lock:
            fence = lead.fence
            done = 0
            try:
                if self._retaken != fence:
                    for did in await asyncio.to_thread(self.firm.inherited, self.schema):
                        done += await self._inherit(did, fence)
                    for did in await asyncio.to_thread(self.firm.unfinished, self.schema):
                        d = await asyncio.to_thread(self.firm.directive, did)
                        if d is not None and await asyncio.to_thread(self.firm.reclaim, self.schema, fence, did,
                                                                     self.clock()):
                            done += await self._apply(d, fence, again="again: its application was not recorded")
                    self._retaken = fence
                for d in await asyncio.to_thread(self.firm.directives_after, self.after_id):
                    assert d.id is not None
                    if await asyncio.to_thread(self.firm.claim_directive, self.schema, fence, d.id, self.clock()):
                        done += await self._apply(d, fence)
                    self.after_id = max(self.after_id, d.id)
                await self.kills.follow_up(fence)
            except FencedError:
                return done  # deposed: the next leader takes them up from the shard's schema
            except StoreError as e:
                self.err(f"ksctl run: FIRM_DIRECTIVES_UNREAD: {e}; read again at the next tick")
            return done

    async def _inherit(self, did: int, fence: int) -> int:
        """A lock in force at the shard's first run, applied by its first leader (what remains of
        its TTL; the accounts its scope spans now)."""
        d = await asyncio.to_thread(self.firm.directive, did)
        if d is None or not await asyncio.to_thread(self.firm.reclaim, self.schema, fence, did, self.clock()):
            return 0
        now = self.clock()
        lock = inherited(d, now, self.spans_now(d))
        if lock is None:
            await asyncio.to_thread(self.firm.applied, self.schema, fence, did, "its TTL lapsed", now)
            return 0
        return await self._apply(lock, fence, again="in force at the shard's first run")

    async def _apply(self, d: Directive, fence: int, again: str = "") -> int:
        # a close or a cancel is of accounts (the manual close takes an account or a policy's scope,
        # a venue's cancel an account), a lock of the scope
        spots = [k for k in d.accounts if k in self.mine] if d.kind in PER_ACCOUNT else targets(d, self.mine)
        outcomes = []
        if d.kind in (KILL, KILL_RELEASE):  # every account of the shard at once (firmlink/kill.py)
            outcomes.append(await (self.kills.kill if d.kind == KILL else self.kills.release)(d, fence, self.mine))
            spots = []
        for scope in spots:  # (in the turn apply_new holds)
            outcomes.append(f"{scope}: {await self._one(d, scope)}")
        text = "; ".join(outcomes) or ("for the firm lease holder" if d.kind == RESET else
                                        "none of this shard's accounts")
        if d.kind == CLOSE_ALL and spots:
            self.wake()
        await asyncio.to_thread(self.firm.applied, self.schema, fence, d.id, text, self.clock())
        self.applied_total += 1
        self.echo(f"ksctl run: FIRM_DIRECTIVE {d.id} {d.kind} {d.scope} applied here: {text} (from {d.actor}"
                  f"{'; ' + again if again else ''})")
        return 1

    async def _one(self, d: Directive, scope: str) -> str:
        p, commands = d.payload, self.ports.commands
        reason = str(p.get("reason") or f"FIRM_DIRECTIVE {d.id}")
        if d.kind in (LOCK, UNLOCK) and p.get("source") == "policy":
            hold = FIRM_HOLD_PREFIX + str(p.get("policy"))
            audited = {"directive": d.id, "scope": scope, **dict(p)}
            if d.kind == UNLOCK:
                return await commands.firm_unlock(scope, hold, audited) or f"UNLOCKED ({hold})"
            mode = p.get("mode", "halted")
            refused = await commands.firm_lock(scope, hold, audited, mode=mode, reason=reason, stage=p.get("stage"),
                                               manual=bool(p.get("manual")), ttl_ms=p.get("ttl_ms"),
                                               details={"directive": d.id, "decision_id": d.decision_id})
            return refused or f"LOCKED {mode} ({hold})"
        if d.kind == LOCK:
            r: Any = await commands.lock_scope(scope, p.get("mode", "halted"), reason, p.get("ttl_s"),
                                               enforce=p.get("enforce") if isinstance(p.get("enforce"), dict) else None,
                                               actor=d.actor)
            return r.reason
        if d.kind == UNLOCK:
            r = await commands.unlock_scope(scope, reason, actor=d.actor)
            return r.reason
        if d.kind == CANCEL_ORDERS:
            return await self._cancel(d, scope, reason)
        if d.kind == CLOSE_ALL:
            closes = self.ports.closes
            preview = await closes.close(scope, reason, True, actor=d.actor)
            if preview.preview_id is None:
                return preview.reason
            r = await closes.close(scope, reason, False, actor=d.actor, preview_id=preview.preview_id)
            return r.reason
        return f"UNKNOWN_DIRECTIVE: {d.kind}"

    async def _cancel(self, d: Directive, account: str, reason: str) -> str:
        """The open orders of ``account`` (``venue/name``) the directive's ``which`` and ``symbols``
        select, cancelled now through the executor (what the venue lists at the cancel, not the
        last snapshot's: an entry order placed since is cancelled too), audited."""
        p, ports = d.payload, self.ports
        which, symbols = str(p.get("which") or "all"), tuple(p.get("symbols") or ())
        if which not in ("all", "entries"):
            return f"BAD_DIRECTIVE: cancel_orders which={which!r}"
        venue, name = account.split("/", 1)
        what = f"{which} open orders" + (f" of {', '.join(symbols)}" if symbols else "")
        if ports.dry_run:
            return f"DRY_RUN: would cancel its {what}"
        got = await ports.cancels.cancel([CancelIntent(venue, name, which, (), reason, symbols)], d.decision_id,
                                         f"FIRM_DIRECTIVE {d.id}: {reason}")
        left = [f"{r.symbol} {r.side} {r.left:g} order {r.order_id}: {r.said}" for r in got.still_open]
        await ports.lead.audit("firm_cancel", self.clock(), {
            "directive": d.id, "decision_id": d.decision_id, "account": account, "which": which,
            "symbols": list(symbols), "canceled": got.canceled, "failed": got.cancel_failed, "reason": reason,
            "still_open": left, "actor": d.actor})
        if got.cancel_failed:  # (each with the venue's code and words; those still listed named)
            return f"CANCEL_FAILED: {got.canceled} cancelled; " + "; ".join(got.cancel_failed)
        return f"CANCELED {got.canceled} ({what})"

    async def send(self, kind: str, scope: str, accounts: list[str], payload: dict, actor: Optional[str]
                   ) -> ChangeResult:
        """An operator's firm-wide ``kind`` on ``scope``: written as a directive for every shard
        (fenced by this shard's token), then applied here at once."""
        lead = self.ports.lead
        if (refused := lead.not_leader(kind)) is not None:
            return ChangeResult(False, refused)
        d = Directive(kind, scope, {**payload, "accounts": accounts, "source": "operator"}, None,
                      actor or "operator")
        try:
            did = await asyncio.to_thread(self.firm.send_directive, self.shard, self.schema, lead.fence, d,
                                          self.clock())
        except FencedError:
            return ChangeResult(False, lead.deposed())
        except StoreError as e:
            return ChangeResult(False, f"STATE_UNREACHABLE: the firm directive could not be written: {e}")
        await self.apply_new()
        return ChangeResult(True, f"FIRM_DIRECTIVE: {kind} {scope} written as directive {did} for every shard "
                                  f"({len(accounts)} account(s)); each shard carries it out on its own accounts")


class Listener:
    """``LISTEN killswitch_firm`` on a connection of its own, on a thread; ``on_notify`` is
    called (from that thread) for each notification. Reconnects after a lost connection."""

    def __init__(self, url: str, channel: str, on_notify: Callable[[str], None]):
        self.url = url
        self.channel = channel
        self.on_notify = on_notify
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="firm-listen", daemon=True)
        self.connected = False

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=3)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    self.connected = True
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=0.5):
                            self.on_notify(n.payload)
            except Exception as e:  # noqa: BLE001 - reconnect; the ticks read directives meanwhile
                log.warning("firm directives: LISTEN connection lost (%s); reconnecting", type(e).__name__)
            self.connected = False
            self._stop.wait(1.0)
