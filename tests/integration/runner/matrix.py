"""The runner's matrix: a case (a scripted scenario, the faults injected into it, what it must
produce) run by the real :class:`killswitch.runner.tick.loop.Runner` over both simulator
accounts (``sim-main``: one-way, long BTC/ETH and short SOL; ``sim-hedge``: hedge mode, net
short) on a manual clock, on a store at a URL, with what it did seen from outside (the store's
and the adapters' taps); then checked, whatever the case:

* orders: every order at the venue is a close (reduce-only, or the closing side of a hedge
  leg) that was journaled before it was sent, and no fill ever grew a position or flipped it;
  a client order id is submitted again only after an unclear answer (timeout, lost
  connection), and no client order id fills twice;
* journal: no intent is left pending; every intent matches its order at the venue (status and
  filled amount), or was refused before reaching it and reported as a failed order; the fills
  journaled account for every position change;
* lock file: locked (halted) for exactly the scopes that ended in the manual-reset flatten;
* audit: the chain verifies, with one stage-transition row per transition;

and what the case itself must produce: the stages entered per account, which books end flat or
untouched, how many orders were sent again, which failures were reported. The cases:
test_matrix.py.
"""

from __future__ import annotations

import asyncio
import functools
import json
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from adapters.base import AdapterError
from adapters.simulated.adapter import ORDER_STATUS, SimulatedAdapter
from adapters.simulated.engine import ManualClock, SimExchange
from adapters.simulated.faults import FaultPlan
from adapters.simulated.scenarios import build
from killswitch.process.bootstrap import RunnerAndDesk, build_runner_and_desk
from killswitch.runner.tick.loop import Runner
from killswitch.runner.tick.report import TickReport
from killswitch.runner.venue.execution import UNCLEAR
from killswitch.state import open_store
from tests.integration.runner.rig import Crash
from tests.integration.sim_helpers import T0
from tests.unit.engine_helpers import compile_graph

ACCOUNTS = ("sim-main", "sim-hedge")
# The adapters' timeout: an injected TIMEOUT costs this much wall time. Every other call must
# answer well within it, or it is an unclear answer and the order is (rightly) sent again: calls
# take a few ms here, but with the machine several times oversubscribed one on PostgreSQL took
# more than the 0.2 s this used to be, and the "latency" case saw a resend it does not expect.
# 1 s costs the 8 injected timeouts of the matrix 6 s in all.
TIMEOUT_S = 1.0
TIME_SCALE = 0.1  # injected latency sleeps a tenth of its simulated length, far inside the timeout
UNCLEAR_CODES = {r.value for r in UNCLEAR}
# refused by the adapter itself, before anything is sent (see adapters.base.check_close)
LOCAL_REFUSALS = {"CLOSE_EXCEEDS_POSITION", "NOT_REDUCE_ONLY"}

# The crash ladder of rig.py over a one-hour window (so the slow scenarios escalate too),
# with a data-age trigger: blind for a minute is a flatten.
POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: matrix}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 1h, min_coverage: 1%}}
        stale: {data_age: {}}
      triggers:
        soft: {when: "dd >= 1%", on_missing_data: hold}
        harder: {when: "dd >= 2.5%", on_missing_data: hold}
        hard: {when: "dd >= 4%", on_missing_data: hold}
        blind: {when: "stale > 60s", on_missing_data: hold}
      stages:
        - {level: 1, name: trim, on: [soft], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 2, fraction: 50%}}]}
        - {level: 2, name: trim-more, on: [harder], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 1, fraction: 25%}}]}
        - {level: 3, name: flatten, on: [hard, blind], reset: manual,
           actions: [{cancel_orders: all}, close_all, {lock_trading: {mode: halted}}]}
      unwind: {chunk_notional: 200k}
    """
)


@functools.lru_cache(maxsize=1)
def graph():
    return compile_graph(POLICY, "matrix.yaml")


# --- taps: what the runner did, seen from outside ---------------------------------------------------


@dataclass(frozen=True)
class Submit:
    tick: int
    account: str
    client_order_id: str
    answer: str  # the venue's status, or the reason code of the AdapterError


class StoreTap:
    """Forwards to a store, keeps the audit rows written through it, and (``die_on``) dies at
    the n-th call of one method, as a process killed at that point would."""

    def __init__(self, store, audits: list, die_on: Optional[tuple[str, int]] = None):
        self._store, self._audits, self._die_on, self._calls = store, audits, die_on, Counter()

    def __getattr__(self, name):
        attr = getattr(self._store, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*a, **k):
            self._calls[name] += 1
            if self._die_on == (name, self._calls[name]):
                raise Crash(f"died at {name} #{self._calls[name]}")
            if name not in ("audit", "audit_many"):
                return attr(*a, **k)
            out = attr(*a, **k)  # kept once stored: a refused or failed append wrote nothing
            if name == "audit":  # audit(kind, ts_ms, payload)
                args = dict(zip(("kind", "ts_ms", "payload"), a), **k)
                self._audits.append((args["kind"], args["payload"]))
            else:  # audit_many(rows): (kind, ts_ms, payload) each
                self._audits += [(kind, payload) for kind, _, payload in (a[0] if a else k["rows"])]
            return out

        return call


class SubmitTap:
    """Forwards to an adapter and logs every order submitted through it with its answer."""

    def __init__(self, adapter, log: list, tick: list):
        self._adapter, self._log, self._tick = adapter, log, tick

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    async def submit(self, intent):
        try:
            res = await self._adapter.submit(intent)
        except AdapterError as e:
            self._log.append(Submit(self._tick[0], intent.account, intent.client_order_id, e.reason.value))
            raise
        self._log.append(Submit(self._tick[0], intent.account, intent.client_order_id, res.status))
        return res


# --- a case and what came of it -------------------------------------------------------------------


@dataclass
class Outcome:
    case: "Case"
    engine: SimExchange
    plan: FaultPlan
    start: dict  # (account, "SYMBOL/POSITIONSIDE") → signed amount
    end: dict
    dump: dict
    store: object
    parts: Any  # the runner's parts, as bootstrap built them
    reports: list[TickReport]
    audits: list
    submits: list[Submit]
    lock: dict
    crashed: bool

    @property
    def events(self):
        return [e for r in self.reports for e in r.events]

    def transitions(self, account: str) -> list:
        return [t for r in self.reports for t in r.transitions if t.scope == f"simulated/{account}"]


@dataclass
class Case:
    id: str
    scenario: str
    ticks: int
    tick_ms: int = 5_000
    faults: Callable[[FaultPlan], object] = lambda plan: None
    levels: dict = field(default_factory=dict)  # account → the stage levels entered, in order
    flat: tuple = ()  # accounts whose book ends flat
    untouched: tuple = ()  # accounts, or (account, "SYMBOL/POSITIONSIDE") legs, never traded
    ends: dict = field(default_factory=dict)  # (account, leg) → the amount it ends at
    resent: int = 0  # orders sent again because the venue did not know them
    failed: Optional[dict] = field(default_factory=dict)  # reason → orders reported failed (None: any)
    refused: tuple = ()  # reasons an order may be refused with before reaching the venue
    snapshot_failures: int = 0
    die_on: Optional[tuple[str, int]] = None  # the first runner dies at this store call
    check: Optional[Callable[[Outcome], None]] = None


def answers_of(o: Outcome) -> dict[str, list[str]]:
    """Each client order id's answers, in the order it was sent."""
    out: dict[str, list[str]] = {}
    for s in o.submits:
        out.setdefault(s.client_order_id, []).append(s.answer)
    return out



# --- running a case --------------------------------------------------------------------------------


def legs(dump: dict) -> dict:
    """(account, "SYMBOL/POSITIONSIDE") → signed amount, open legs only."""
    return {(a, k): v[0] for a, acct in dump["accounts"].items() for k, v in acct["legs"].items()
            if abs(v[0]) > 1e-12}


def run_case(case: Case, url: str, work: Path) -> Outcome:
    clock = ManualClock(T0)
    plan = FaultPlan()
    case.faults(plan)
    engine = build(case.scenario, clock, faults=plan)
    start = legs(engine.dump_state())
    audits: list = []
    submits: list[Submit] = []
    tick = [0]
    lock = work / "lock.json"
    adapters = {f"simulated/{a}": SubmitTap(SimulatedAdapter(engine, a, labels={"book": "futures"}, timeout_s=TIMEOUT_S,
                                                             time_scale=TIME_SCALE), submits, tick)
                for a in ACCOUNTS}
    reports: list[TickReport] = []

    def new_runner(die_on=None) -> RunnerAndDesk:
        store = StoreTap(open_store(url), audits, die_on)
        # simulated time, ticked as fast as the runner goes: each tick waits for its sends and
        # the reconciliation (send_wait_s None), as a tick a real interval long would have
        return build_runner_and_desk(graph(), adapters, store, lock_path=lock, dry_run=False, clock=clock,
                                     confirm_gap_ms=case.tick_ms, send_wait_s=None)

    async def drive(runner: Runner) -> None:
        await runner.start()
        while tick[0] < case.ticks:
            tick[0] += 1
            clock.advance(case.tick_ms)
            reports.append(await runner.tick())

    runner, _, parts = new_runner(case.die_on)
    crashed = False
    try:
        asyncio.run(asyncio.wait_for(drive(runner), 60))
    except Crash:
        crashed = True  # a process killed mid-tick: its report is lost with it
        runner.store.close()
        runner, _, parts = new_runner()  # restarted on the same store and the same exchange
        asyncio.run(asyncio.wait_for(drive(runner), 60))
    dump = engine.dump_state()
    return Outcome(case, engine, plan, start, legs(dump), dump, runner.store, parts, reports, audits, submits,
                   json.loads(lock.read_text()), crashed)


def closes(order: dict) -> bool:
    ps, side = order["position_side"], order["side"]
    return order["reduce_only"] or (ps == "LONG" and side == "SELL") or (ps == "SHORT" and side == "BUY")


def leg_of(entry, hedge: bool) -> str:
    symbol = entry.symbol.split("/")[0] + "USDT"
    if not hedge:
        return f"{symbol}/BOTH"
    return f"{symbol}/{entry.position_side or ('LONG' if entry.side == 'sell' else 'SHORT')}"


def check_end_state(o: Outcome) -> None:
    journal = o.store.journal(limit=10_000)
    at_venue = _check_venue_orders(o, {(e.account, e.client_order_id): e for e in journal})
    _check_sends(o)
    _check_journal(o, journal, at_venue)
    _check_stages(o)
    _check_lock(o)
    assert o.store.verify_audit() == (True, None)
    if o.case.check is not None:
        o.case.check(o)


def _check_venue_orders(o: Outcome, journaled: dict) -> dict:
    """Orders at the venue: closes only, each journaled before it was sent, never a fill that
    opens, none filled twice. Returns them by (account, client order id)."""
    dump = o.dump
    at_venue = {}
    for account in ACCOUNTS:
        for order in dump["accounts"][account]["orders"]:
            key = (account, order["client_order_id"])
            assert key not in at_venue, f"client order id placed twice: {key}"
            at_venue[key] = order
            assert closes(order), f"not a close: {order}"
            assert key in journaled, f"at the venue but never journaled: {key}"
    book = dict(o.start)
    ids = {(a, order["order_id"]): order["client_order_id"] for (a, _), order in at_venue.items()}
    filled = Counter()
    for ev in dump["events"]:
        if ev.get("event") != "fill":
            continue
        key = (ev["account"], f"{ev['symbol']}/{ev['position_side']}")
        before = book.get(key, 0.0)
        after = before + (ev["qty"] if ev["side"] == "BUY" else -ev["qty"])
        assert before and abs(after) <= abs(before) + 1e-9 and after * before >= 0, \
            f"a fill opened exposure on {key}: {before} -> {after}"
        book[key] = after
        filled[ids[(ev["account"], ev["order"])]] += 1
    assert all(n == 1 for n in filled.values()), f"filled twice: {filled}"
    return at_venue


def _check_sends(o: Outcome) -> None:
    """Submissions: the same client order id again only after an unclear answer, and only as a
    resend the audit trail records (a resend may also be the first send of an intent that a
    crash kept from leaving)."""
    resent = Counter(p["client_order_id"] for k, p in o.audits if k == "order_resent")
    for cid, answers in answers_of(o).items():
        assert all(a in UNCLEAR_CODES for a in answers[:-1]), f"{cid} sent again after {answers}"
        assert len(answers) - 1 <= resent[cid], f"{cid} sent {len(answers)} times, resent {resent[cid]}"
    assert sum(resent.values()) == o.case.resent, resent


def _check_journal(o: Outcome, journal: list, at_venue: dict) -> None:
    """The journal: settled, and order by order what the venue holds; the positions moved by
    what it says was filled."""
    case, dump, store = o.case, o.dump, o.store
    assert store.pending_intents() == [], [(e.client_order_id, e.status) for e in store.pending_intents()]
    failed_events = Counter(e.data["client_order_id"] for e in o.events if e.kind == "order_failed")
    allowed = LOCAL_REFUSALS | set(case.refused)
    hedge = {a: dump["accounts"][a]["hedge_mode"] for a in ACCOUNTS}
    moved = Counter()
    for e in journal:
        order = at_venue.get((e.account, e.client_order_id))
        if order is None:
            assert e.status == "rejected" and e.reason_code in allowed, \
                f"journaled as {e.status} ({e.reason_code}) but never at the venue: {e.client_order_id}"
        else:
            assert e.status == ORDER_STATUS[order["status"]], (e, order)
            assert abs((e.filled or 0.0) - order["executed_qty"]) < 1e-9, (e, order)
        if e.status in ("rejected", "failed"):
            assert failed_events[e.client_order_id] == 1, f"refused without a report: {e.client_order_id}"
        moved[(e.account, leg_of(e, hedge[e.account]))] += (e.filled or 0.0) * (1 if e.side == "buy" else -1)
    for key in set(o.start) | set(o.end):
        assert abs(o.start.get(key, 0.0) + moved[key] - o.end.get(key, 0.0)) < 1e-9, \
            f"{key}: {o.start.get(key)} + journaled {moved[key]} != {o.end.get(key)}"
    if case.failed is not None:
        reasons = Counter(e.labels.get("reason") for e in o.events if e.kind == "order_failed")
        assert reasons == Counter(case.failed), reasons


def _check_stages(o: Outcome) -> None:
    """Stages (from the audit trail: a crashed tick's report dies with it, its audit rows do
    not), and the positions each case expects at the end."""
    case = o.case
    audited = [p for k, p in o.audits if k == "stage_transition"]
    for account in ACCOUNTS:
        levels = [p["to"] for p in audited if p["scope"] == f"simulated/{account}"]
        assert levels == case.levels.get(account, []), f"{account}: stages {levels}"
        if not o.crashed:
            assert levels == [t.transition.to_level for t in o.transitions(account)]
    for account in case.flat:
        left = {k[1]: v for k, v in o.end.items() if k[0] == account}
        assert not left, f"{account} not flat: {left}"
    for u in case.untouched:
        keys = [k for k in set(o.start) | set(o.end) if k == u or k[0] == u]
        assert keys and all(o.start.get(k) == o.end.get(k) for k in keys), f"{u} traded: {o.start} -> {o.end}"
    for key, amount in case.ends.items():
        assert o.end.get(key) == pytest.approx(amount), f"{key}: {o.end.get(key)}, expected {amount}"
    snapshot_failed = sum(1 for e in o.events if e.kind == "snapshot_failed")
    assert snapshot_failed == case.snapshot_failures


def _check_lock(o: Outcome) -> None:
    """The lock: halted for exactly the scopes in the flatten."""
    halted = {key.partition("|")[2] for key, ss in o.parts.book.state.scopes.items() if ss.stage.level == 3}
    assert o.lock["locked"] is bool(halted), o.lock
    assert set(o.lock["scopes"]) == halted, o.lock["scopes"]
    assert all(v["locked"] and v["mode"] == "halted" for v in o.lock["scopes"].values())
    if halted:
        assert o.lock["mode"] == "halted"


def run_checked(case: Case, url: str, work: Path) -> Outcome:
    """``case`` run on the store at ``url``, its end state checked whatever the case (:func:`check_end_state`)."""
    o = run_case(case, url, work)
    try:
        check_end_state(o)
    finally:
        o.store.close()
    return o
