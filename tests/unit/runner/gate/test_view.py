"""The pre-trade gate's published view (killswitch.runner.gate.view): refused when absent or stale,
swapped whole (a check sees one publication, never a mix), published at the loop's next yield
after a change, kept when a publication raises, and the message buckets spent exactly once
whichever thread checks."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from types import MappingProxyType

import pytest

from killswitch.runner.gate.limits_state import LimitsState, MessageBuckets
from killswitch.runner.gate.placement import Placement
from killswitch.runner.gate.view import GATE_VIEW_MISSING, GATE_VIEW_STALE, GateView, PublishedGate, answer
from killswitch.runner.lock.lock import OPERATOR, LockBook
from killswitch.runner.names import Catalog
from killswitch.snapshot import FetchStatus, Position, Snapshot
from tests.unit.engine_helpers import compile_graph

T0 = 1_700_000_000_000
ACCOUNT = "binance/a"
SYMBOL = "BTC/USDT:USDT"
CATALOG = Catalog(accounts=frozenset({ACCOUNT}), symbols={ACCOUNT: frozenset({SYMBOL})})


def snap(contracts: float) -> Snapshot:
    return Snapshot(venue="binance", account="a", market_type="futures", ts_event=T0, equity=1e6,
                    fetch=FetchStatus(ok=True),
                    positions=[Position(symbol=SYMBOL, side="long", contracts=contracts, notional=100 * contracts,
                                        mark_price=100, unrealized_pnl=0)])


def view(lock: LockBook = LockBook(), contracts: float = 5.0, *, leader: bool = False, limits=None) -> GateView:
    return GateView(lock, (), Placement(CATALOG), limits, MappingProxyType({ACCOUNT: snap(contracts)}), leader)


def reducing() -> LockBook:
    return LockBook().apply(ACCOUNT, "reducing", now_ms=T0, policy=OPERATOR, reason="drill")


def sell(amount: float) -> dict:
    return {"account": ACCOUNT, "symbol": SYMBOL, "side": "sell", "amount": amount}


class Clocks:
    def __init__(self) -> None:
        self.mono = 100.0
        self.leading = True


def gate(build, clocks: Clocks, stale_s: float = 5.0) -> PublishedGate:
    return PublishedGate(build, MessageBuckets(), clock=lambda: T0, leading=lambda: clocks.leading,
                         stale_after_s=lambda: stale_s, monotonic=lambda: clocks.mono)


# --- absent and stale views ------------------------------------------------------------------------


def test_no_view_yet_is_refused_with_its_reason():
    g = gate(lambda: view(), Clocks())
    d = g.check(sell(1))
    assert d.allow is False and d.reason.startswith(GATE_VIEW_MISSING + ":"), d
    g.publish()
    assert g.check(sell(1)).allow


def test_a_view_the_loop_has_not_confirmed_within_the_bound_is_refused_until_confirmed():
    clocks = Clocks()
    g = gate(lambda: view(), clocks, stale_s=5.0)
    g.publish()
    clocks.mono += 5.0
    assert g.check(sell(1)).allow  # at the bound: still answered
    clocks.mono += 0.1
    d = g.check(sell(1))
    assert d.allow is False and d.reason.startswith(GATE_VIEW_STALE + ":") and "5.1s ago (bound 5.0s)" in d.reason, d
    g.confirm()  # the loop shows life again: the same view, stamped
    assert g.check(sell(1)).allow


def test_the_stale_bound_has_a_floor():
    clocks = Clocks()
    g = gate(lambda: view(), clocks, stale_s=0.05)  # a lease TTL of 50 ms
    g.publish()
    clocks.mono += 0.5
    assert g.check(sell(1)).allow and g.stale_after_s == 1.0


def test_a_view_published_as_leader_is_refused_once_the_term_ran_out():
    clocks = Clocks()
    g = gate(lambda: view(leader=True), clocks)
    g.publish()
    assert g.check(sell(1)).allow
    clocks.leading = False
    d = g.check(sell(1))
    assert d.allow is False and d.reason.startswith(GATE_VIEW_STALE + ": the view was published while this runner "
                                                                      "led"), d


def test_a_standbys_view_is_answered_as_the_standby_it_is():
    clocks = Clocks()
    clocks.leading = False
    g = gate(lambda: view(reducing(), leader=False), clocks)
    g.publish()
    d = g.check(sell(1))
    assert d.allow and d.reason.startswith("REDUCING: reduces the position"), d


# --- the swap -----------------------------------------------------------------------------------------


def test_a_publication_that_raises_keeps_the_view_before_it():
    state = {"fail": False, "lock": LockBook()}

    def build():
        if state["fail"]:
            raise RuntimeError("a part of the book could not be read")
        return view(state["lock"])

    g = gate(build, Clocks())
    g.publish()
    state["fail"], state["lock"] = True, reducing()
    g.publish()  # logged and counted, never raised into the tick
    assert g.failures == 1 and g.publications == 1
    assert g.check(sell(1)).reason == "ACTIVE"  # the view before it
    state["fail"] = False
    g.publish()
    assert g.check(sell(1)).reason.startswith("REDUCING")


def test_a_check_sees_one_publication_whole_while_the_loop_swaps_them():
    """Two views: unlocked with 5 contracts, reducing with 2. Selling 4 is ACTIVE under the
    first and refused under the second; a mix (the lock of one, the positions of the other)
    would answer "REDUCING: reduces the position (amount 4 <= position 5)"."""
    views = [view(LockBook(), 5.0), view(reducing(), 2.0)]
    i = [0]

    def build():
        i[0] += 1
        return views[i[0] % 2]

    g = gate(build, Clocks())
    g.publish()
    seen: dict[str, int] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def checker():
        try:
            while not stop.is_set():
                reason = g.check(sell(4)).reason
                seen[reason.split(" (")[0]] = seen.get(reason.split(" (")[0], 0) + 1
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    threads = [threading.Thread(target=checker) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        swaps, deadline = 0, time.monotonic() + 10
        while swaps < 5_000 or (len(seen) < 2 and time.monotonic() < deadline):  # (until both were seen)
            g.publish()
            swaps += 1
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        sys.setswitchinterval(old)
    assert not errors
    assert set(seen) == {"ACTIVE", "REDUCING: order larger than the position"}, seen


def test_a_change_is_published_at_the_loops_next_yield_with_what_the_same_step_changed():
    """The lock book's write asks for a publication; the step goes on (here: the positions)
    before it yields, and the view published then holds both."""
    book = {"lock": LockBook(), "contracts": 5.0}
    g = gate(lambda: view(book["lock"], book["contracts"]), Clocks())

    async def step():
        g.publish()
        book["lock"] = reducing()
        g.changed()
        assert g.check(sell(4)).reason == "ACTIVE"  # not yet: the step has not yielded
        book["contracts"] = 2.0
        g.changed()  # (once however many changes come before the yield)
        await asyncio.sleep(0)
        return g.check(sell(4)).reason, g.publications

    reason, publications = asyncio.run(step())
    assert reason.startswith("REDUCING: order larger than the position (amount 4 > position 2)"), reason
    assert publications == 2


def test_outside_a_running_loop_a_change_is_published_at_once():
    book = {"lock": LockBook()}
    g = gate(lambda: view(book["lock"]), Clocks())
    book["lock"] = reducing()
    g.changed()
    assert g.check(sell(6)).reason.startswith("REDUCING: order larger")


def test_the_loop_confirms_the_view_while_it_runs():
    clocks = Clocks()
    g = PublishedGate(lambda: view(), MessageBuckets(), clock=lambda: T0, leading=lambda: True,
                      stale_after_s=lambda: 1.0, monotonic=lambda: clocks.mono, refresh_s=0.01)

    async def run():
        g.publish()
        clocks.mono += 2.0  # (the fake clock moved on: only a confirmation makes the view fresh again)
        await asyncio.sleep(0.05)
        return g.check(sell(1))

    assert asyncio.run(run()).allow


# --- the message buckets across threads -------------------------------------------------------------

POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: lim}
spec:
  scope: {level: account}
  signals: {dd: {equity_drawdown: {window: 15m}}}
  triggers: {hard: {when: "dd >= 10%", on_missing_data: hold}}
  stages: [{level: 1, name: flatten, on: [hard], actions: [close_all]}]
  limits: {message_rate: {per_second: 1, burst: 1}, max_order_notional: 1M}
"""


def test_the_buckets_are_spent_exactly_once_per_allowed_order_whichever_thread_checks():
    """Eight threads ask at one instant for the same strategy, a burst of 1, over 150 strategies:
    exactly one order of each is allowed. Read and spent apart, two checks of one strategy would
    both see its token."""
    graph = compile_graph(POLICY, "p.yaml")
    limits = LimitsState()
    snaps = {ACCOUNT: snap(1.0)}
    tables = limits.for_gate(graph, snaps).tables
    v = GateView(LockBook(), (), Placement(CATALOG), tables, MappingProxyType(snaps), False)
    rounds, n = 150, 8
    allowed = [[0] * rounds for _ in range(n)]
    together = threading.Barrier(n)

    def bot(k: int) -> None:
        for r in range(rounds):
            together.wait()
            order = {"account": ACCOUNT, "symbol": SYMBOL, "side": "buy", "amount": 1, "price": 100,
                     "strategy": f"bot-{r}"}
            allowed[k][r] = int(answer(v, order, T0, limits.buckets).allow)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=bot, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(old)
    per_strategy = [sum(allowed[k][r] for k in range(n)) for r in range(rounds)]
    assert per_strategy == [1] * rounds, [(f"bot-{r}", c) for r, c in enumerate(per_strategy) if c != 1]
    d = answer(v, {"account": ACCOUNT, "symbol": SYMBOL, "side": "buy", "amount": 1, "price": 100,
                   "strategy": "bot-0"}, T0, limits.buckets)
    assert d.reason.startswith("MESSAGE_RATE: strategy bot-0 used its burst of 1"), d


@pytest.mark.parametrize("contracts, amount, allowed", [(5.0, 4, True), (2.0, 4, False)])
def test_the_answer_reads_the_positions_of_its_view(contracts, amount, allowed):
    assert answer(view(reducing(), contracts), sell(amount), T0, MessageBuckets()).allow is allowed


def test_a_locked_scope_resolves_while_its_lock_holds_and_not_after_its_ttl():
    """The catalog's held scopes are told from the view's lock at the check's time: a scope
    known only by its lock is refused once the lock's TTL ran out, as the loop would say."""
    lock = LockBook().apply("desk-7", "halted", now_ms=T0, policy=OPERATOR, reason="drill", ttl_ms=1_000)
    v = GateView(lock, (), Placement(CATALOG), None, MappingProxyType({ACCOUNT: snap(1.0)}), False)
    order = {"scope": "desk-7", "account": ACCOUNT, "symbol": SYMBOL, "side": "buy", "amount": 1}
    assert answer(v, order, T0 + 10, MessageBuckets()).reason.startswith("HALTED")
    assert answer(v, order, T0 + 1_000, MessageBuckets()).reason.startswith("UNKNOWN_SCOPE")


def test_unit_prices_are_the_first_holders_mark_times_size_and_read_only_the_position_asked():
    """The gate's unit prices come from the snapshots when a check first asks (mark × contract
    size of the first good snapshot holding the symbol); a symbol held nowhere has none; only the
    position asked for is read as a model."""
    from killswitch.runner.venue.catalog_build import UnitPrices
    from killswitch.snapshot import FetchStatus, Position, PositionList, PositionsOnReading, Snapshot, with_positions

    def held(symbol, mark, size=1.0):
        return Position(symbol=symbol, side="long", contracts=2.0, contract_size=size, notional=2.0 * mark * size,
                        mark_price=mark, unrealized_pnl=0.0)

    book = [held(f"X{i}/USDT:USDT", 10.0 + i) for i in range(200)] + [held("BTC/USDT:USDT", 60_000.0, 0.001)]
    read: list[int] = []

    def make(i: int):
        read.append(i)
        return book[i]

    # (as an adapter hands them over: validating the snapshot would read every position)
    first = with_positions(Snapshot(venue="v", account="a", market_type="futures", ts_event=1),
                           PositionsOnReading(PositionList.of(book).columns, make))
    second = Snapshot(venue="v", account="b", market_type="futures", ts_event=1,
                      positions=[held("BTC/USDT:USDT", 1.0), held("ETH/USDT:USDT", 3_000.0)])
    failed = Snapshot(venue="v", account="c", market_type="futures", ts_event=1, fetch=FetchStatus(ok=False),
                      positions=[held("SOL/USDT:USDT", 150.0)])
    prices = UnitPrices({"v/a": first, "v/b": second, "v/c": failed})
    assert prices.get("BTC/USDT:USDT") == pytest.approx(60.0) and read == [200]
    assert prices["ETH/USDT:USDT"] == 3_000.0
    assert prices.get("SOL/USDT:USDT") is None and "SOL/USDT:USDT" not in prices  # its snapshot failed
    assert prices.get("DOGE/USDT:USDT", 0.0) == 0.0


@pytest.mark.parametrize("amount, price, code", [(1, 100, None), (4, 1_000_000, "LIMIT_ORDER_NOTIONAL"),
                                                 (9, 100, "REDUCING")])
def test_a_scope_naming_an_account_is_answered_as_that_account(amount, price, code):
    """Every other verb spells the account ``--scope``: a check-order's ``scope`` naming an
    account of the runner reads that account's positions and limits, as ``account`` does (not
    "positions unknown" under a reducing lock)."""
    graph = compile_graph(POLICY, "p.yaml")
    snaps = {ACCOUNT: snap(5.0)}
    tables = LimitsState().for_gate(graph, snaps).tables
    v = GateView(reducing(), (), Placement(CATALOG), tables, MappingProxyType(snaps), False)
    order = {"symbol": SYMBOL, "side": "sell", "amount": amount, "price": price, "strategy": "bot-a"}
    by_account = answer(v, {**order, "account": ACCOUNT}, T0, MessageBuckets())
    by_scope = answer(v, {**order, "scope": ACCOUNT}, T0, MessageBuckets())
    assert by_scope == by_account, (by_scope, by_account)
    assert by_scope.allow is (code is None) and (code is None or by_scope.reason.startswith(code)), by_scope
