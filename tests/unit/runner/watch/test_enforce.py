"""The venue watch's decision (killswitch/runner/watch/enforce/): what a lock in force cancels and
reverts, as tables over a lock book, a snapshot, the runner's own ids and the baselines."""

from __future__ import annotations

from typing import Optional

import pytest

from killswitch.runner.lock.lock import OPERATOR, LockBook, LockStatus
from killswitch.runner.watch.enforce import Enforce, Flag, enforce_details, enforce_of, grows, watch
from killswitch.snapshot import FetchStatus, MarketRules, Order, Position, Snapshot

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
ACCT = "binanceusdm/main"
T = 1_000_000


def pos(symbol: str = BTC, side: str = "long", contracts: float = 5.0, mark: float = 60_000.0,
        leg: Optional[str] = None, strategy: Optional[str] = None) -> Position:
    return Position(symbol=symbol, side=side, position_side=leg, contracts=contracts, notional=contracts * mark,
                    mark_price=mark, unrealized_pnl=0.0, strategy=strategy)


def order(oid: str = "1", side: str = "buy", amount: float = 1.0, *, symbol: str = BTC, cid: Optional[str] = "bot-1",
          reduce_only: bool = False, kind: str = "regular", leg: Optional[str] = None, price: Optional[float] = 59e3,
          strategy: Optional[str] = None, filled: float = 0.0) -> Order:
    return Order(id=oid, client_id=cid, symbol=symbol, side=side, type="limit", kind=kind, reduce_only=reduce_only,
                 amount=amount, filled=filled, price=price, position_side=leg, strategy=strategy)


def snap(positions=(), orders=(), *, ok: bool = True, account: str = "main", step: float = 0.001,
         min_amount: float = 0.0) -> Snapshot:
    return Snapshot(venue="binanceusdm", account=account, market_type="futures", ts_event=T, positions=list(positions),
                    orders=list(orders), fetch=FetchStatus(ok=ok),
                    markets={BTC: MarketRules(amount_step=step, min_amount=min_amount),
                             ETH: MarketRules(amount_step=step, min_amount=min_amount)})


def locked(mode: str = "halted", scope: str = ACCT, **details) -> LockBook:
    return LockBook().apply(scope, mode, now_ms=T - 10_000, policy=OPERATOR, details=details or None)


# --- what each lock enforces -------------------------------------------------------------------------


@pytest.mark.parametrize("mode, details, want", [
    ("halted", {}, Enforce(True, True)),
    ("reducing", {}, Enforce(True, False)),
    ("halted", {"enforce": {"cancel": False}}, Enforce(False, True)),
    ("halted", {"enforce": {"revert_growth": False}}, Enforce(True, False)),
    ("reducing", {"enforce": {"revert_growth": True}}, Enforce(True, True)),
    ("halted", {"enforce": {"cancel": "no"}}, Enforce(True, True)),  # not a bool: the mode's default
])
def test_a_lock_enforces_by_its_mode_unless_its_details_say_otherwise(mode, details, want):
    st = LockStatus(True, mode, ACCT, details=details)
    assert enforce_of(st) == want
    assert enforce_of(LockStatus.unlocked(ACCT)) == Enforce(False, False)


def test_enforce_details_carry_only_the_flags_given():
    assert enforce_details(None, None) == {}
    assert enforce_details(False, None) == {"enforce": {"cancel": False}}
    assert enforce_details(True, False) == {"enforce": {"cancel": True, "revert_growth": False}}


# --- orders --------------------------------------------------------------------------------------------


HALT_CASES = [
    # (what, the order, cancelled)
    ("a rogue limit entry", order(), True),
    ("a rogue sell entry", order(side="sell"), True),
    ("an order without a client id (placed by hand)", order(cid=None), True),
    ("a conditional entry (a stop buy)", order(kind="conditional", price=None), True),
    ("a reduce-only order", order(side="sell", reduce_only=True), False),
    ("a take-profit attached to the position", order(side="sell", kind="tpsl", price=None), False),
    ("the runner's own order", order(cid="ks-own-1"), False),
    ("an order filled whole", order(filled=1.0), False),
]


@pytest.mark.parametrize("what, o, cancelled", HALT_CASES, ids=[c[0] for c in HALT_CASES])
def test_under_a_halt_every_order_that_is_not_reduce_only_and_not_ours_is_cancelled(what, o, cancelled):
    w = watch(locked(), [snap([pos()], [o])], {"ks-own-1"}, {}, T)
    assert bool(w.cancels) == cancelled, what
    if cancelled:
        (c,) = w.cancels
        assert (c.venue, c.account, c.order_ids) == ("binanceusdm", "main", (o.id,))
        (v,) = w.violations
        assert (v.action, v.kind, v.scope, v.mode, v.symbol, v.side) == ("cancel", "LOCK_VIOLATION", ACCT, "halted",
                                                                         BTC, o.side)
        assert v.key == f"cancel|{ACCT}|{o.id}" and v.client_order_id == o.client_id and v.strategy == "unknown"
    else:
        assert not w.violations


REDUCING_CASES = [
    # (what, positions, the order, cancelled)
    ("a buy into the long", [pos()], order(side="buy"), True),
    ("a sell out of the long (not flagged reduce-only)", [pos()], order(side="sell", amount=2.0), False),
    ("a sell larger than the long (it flips)", [pos()], order(side="sell", amount=6.0), True),
    ("a buy with no position", [], order(side="buy"), True),
    ("a buy out of a short", [pos(side="short")], order(side="buy"), False),
    ("hedge mode: a buy opening LONG", [pos(leg="LONG")], order(side="buy", leg="LONG"), True),
    ("hedge mode: a sell closing LONG", [pos(leg="LONG")], order(side="sell", leg="LONG"), False),
]


@pytest.mark.parametrize("what, positions, o, cancelled", REDUCING_CASES, ids=[c[0] for c in REDUCING_CASES])
def test_under_a_reducing_lock_only_orders_that_grow_a_position_are_cancelled(what, positions, o, cancelled):
    w = watch(locked("reducing"), [snap(positions, [o])], (), {}, T)
    assert bool(w.cancels) == cancelled, what
    assert not w.reverts and not w.baselines  # reducing does not revert by default


def test_grows_reads_the_position_the_order_faces():
    sizes = {f"{BTC}|long": 5.0}
    assert grows(order(side="buy"), sizes) and not grows(order(side="sell", amount=5.0), sizes)
    assert grows(order(side="sell", amount=5.5), sizes)


def test_cancel_off_leaves_orders_and_an_unlocked_or_other_account_is_left_alone():
    o = order()
    assert not watch(locked(enforce={"cancel": False}), [snap([pos()], [o])], (), {}, T).cancels
    assert not watch(LockBook(), [snap([pos()], [o])], (), {}, T).cancels
    assert not watch(locked(scope="binanceusdm/other"), [snap([pos()], [o])], (), {}, T).cancels
    # a venue's and the global lock bind the account; a symbol lock binds that symbol only
    assert watch(locked(scope="binanceusdm"), [snap([pos()], [o])], (), {}, T).cancels
    assert watch(locked(scope="global"), [snap([pos()], [o])], (), {}, T).cancels
    assert watch(locked(scope=BTC), [snap([pos()], [o])], (), {}, T).cancels
    assert not watch(locked(scope=ETH), [snap([pos()], [o])], (), {}, T).cancels


def test_a_strategy_lock_binds_that_strategys_orders_only():
    mine, other = order("1", strategy="alpha"), order("2", strategy="beta", cid="beta-1")
    w = watch(locked(scope="alpha"), [snap([pos()], [mine, other])], (), {}, T)
    assert [c.order_ids for c in w.cancels] == [("1",)]
    assert w.violations[0].strategy == "alpha"


def test_an_expired_lock_enforces_nothing():
    book = LockBook().apply(ACCT, "halted", now_ms=T - 10_000, policy=OPERATOR, ttl_ms=5_000)
    assert watch(book, [snap([pos()], [order()])], (), {}, T) == watch(LockBook(), [], (), {}, T)


def test_an_unread_account_is_not_judged_and_keeps_its_baselines():
    base = {ACCT: {"since": T - 5, "legs": {f"{BTC}|long": 5.0}}}
    w = watch(locked(), [snap([pos(contracts=9)], [order()], ok=False)], (), base, T)
    assert not w.cancels and not w.reverts and w.baselines == base


def test_notional_is_the_open_amount_at_the_orders_price_else_the_mark():
    w = watch(locked(), [snap([pos()], [order(amount=2.0, filled=0.5), order("2", price=None, cid="b-2")])], (), {}, T)
    v1, v2 = w.violations
    assert v1.amount == 1.5 and v1.notional == pytest.approx(1.5 * 59_000)
    assert v2.notional == pytest.approx(60_000.0)
    # no price and no position to read a mark from: not valued
    (v3,) = watch(locked(), [snap([], [order(symbol=ETH, price=None)])], (), {}, T).violations
    assert v3.notional is None


# --- growth --------------------------------------------------------------------------------------------


def test_the_first_snapshot_under_the_lock_is_the_baseline_and_growth_after_it_is_reverted():
    book = locked()
    first = watch(book, [snap([pos(contracts=5.0)])], (), {}, T)
    assert not first.reverts and first.baselines == {ACCT: {"since": T, "legs": {f"{BTC}|long": 5.0}}}
    grown = watch(book, [snap([pos(contracts=6.0)])], (), first.baselines, T + 5_000)
    (plan,) = grown.reverts
    (o,) = plan.orders
    assert (o.side, o.amount, o.reduce_only, o.symbol, o.account) == ("sell", 1.0, True, BTC, "main")
    assert o.limit_price == pytest.approx(60_000 * 0.98) and o.decision_id.startswith("enforce/")
    (v,) = grown.violations
    assert (v.action, v.side, v.amount, v.baseline, v.contracts) == ("revert", "buy", 1.0, 5.0, 6.0)
    assert v.notional == pytest.approx(60_000.0) and v.revert_id == o.client_order_id
    assert grown.baselines[ACCT]["legs"] == {f"{BTC}|long": 5.0}  # kept at the lock's size


@pytest.mark.parametrize("what, before, now, want_amount", [
    ("a short grew", [pos(side="short", contracts=2.0)], [pos(side="short", contracts=3.5)], 1.5),
    ("a new symbol opened", [pos()], [pos(), pos(ETH, contracts=4.0, mark=3_000.0)], 4.0),
    ("rounded down to the step", [pos(contracts=5.0)], [pos(contracts=5.0127)], 0.012),
    ("hedge mode: the LONG leg grew", [pos(leg="LONG")], [pos(leg="LONG", contracts=7.0)], 2.0),
    ("no growth", [pos()], [pos()], None),
    ("it shrank", [pos()], [pos(contracts=3.0)], None),
])
def test_growth_is_reverted_by_one_reduce_only_order_of_the_excess_rounded_down(what, before, now, want_amount):
    base = watch(locked(), [snap(before, step=0.001)], (), {}, T).baselines
    w = watch(locked(), [snap(now, step=0.001)], (), base, T + 1)
    if want_amount is None:
        assert not w.reverts and not w.violations, what
        return
    (plan,) = w.reverts
    (o,) = plan.orders
    assert o.amount == pytest.approx(want_amount) and o.reduce_only, what
    p = now[-1]
    assert o.side == ("sell" if p.side == "long" else "buy")
    assert o.position_side == p.position_side


def test_a_baseline_is_lowered_when_the_position_shrinks_and_growth_after_that_is_reverted_to_the_lower_size():
    book = locked()
    b0 = watch(book, [snap([pos(contracts=5.0)])], (), {}, T).baselines
    b1 = watch(book, [snap([pos(contracts=3.0)])], (), b0, T + 1).baselines
    assert b1[ACCT]["legs"] == {f"{BTC}|long": 3.0}
    w = watch(book, [snap([pos(contracts=4.0)])], (), b1, T + 2)
    assert w.reverts[0].orders[0].amount == 1.0
    gone = watch(book, [snap([])], (), b1, T + 3).baselines
    assert gone[ACCT]["legs"] == {}  # closed: its baseline is 0 from then on


def test_growth_below_the_venues_minimum_is_reported_and_left_with_a_note():
    base = watch(locked(), [snap([pos()], min_amount=0.01)], (), {}, T).baselines
    w = watch(locked(), [snap([pos(contracts=5.004)], min_amount=0.01)], (), base, T + 1)
    assert not w.reverts and len(w.violations) == 1 and w.violations[0].revert_id is None
    assert w.notes and w.notes[0].startswith("REVERT_BELOW_MINIMUM: binanceusdm/main BTC/USDT:USDT long")


def test_a_leg_a_plan_of_this_tick_closes_is_not_reverted():
    base = watch(locked(), [snap([pos()])], (), {}, T).baselines
    w = watch(locked(), [snap([pos(contracts=6.0)])], (), base, T + 1, closing={(ACCT, BTC, "long")})
    assert not w.reverts and not w.violations


def test_revert_off_or_a_reducing_lock_keeps_no_baseline_and_reverts_nothing():
    for book in (locked(enforce={"revert_growth": False}), locked("reducing")):
        assert not watch(book, [snap([pos()])], (), {}, T).baselines
    on = locked("reducing", enforce={"revert_growth": True})
    base = watch(on, [snap([pos()])], (), {}, T).baselines
    assert watch(on, [snap([pos(contracts=6.0)])], (), base, T + 1).reverts


def test_baselines_end_with_the_lock_and_a_new_lock_takes_new_ones():
    base = watch(locked(), [snap([pos()])], (), {}, T).baselines
    assert watch(LockBook(), [snap([pos(contracts=8.0)])], (), base, T + 1).baselines == {}
    fresh = watch(locked(), [snap([pos(contracts=8.0)])], (), {}, T + 2)
    assert not fresh.reverts and fresh.baselines[ACCT]["legs"] == {f"{BTC}|long": 8.0}


def test_a_symbol_lock_takes_the_accounts_baselines_at_once_so_a_position_opened_after_it_is_reverted():
    book = locked(scope=ETH)
    base = watch(book, [snap([pos()])], (), {}, T).baselines  # ETH listed, not held: baseline 0
    w = watch(book, [snap([pos(contracts=9.0), pos(ETH, contracts=2.0, mark=3_000.0)])], (), base, T + 1)
    assert [p.orders[0].symbol for p in w.reverts] == [ETH]  # BTC grew too, but no lock binds BTC


def test_the_same_growth_has_the_same_key_and_more_growth_a_new_one():
    base = watch(locked(), [snap([pos()])], (), {}, T).baselines
    k1 = watch(locked(), [snap([pos(contracts=6.0)])], (), base, T + 1).violations[0].key
    k2 = watch(locked(), [snap([pos(contracts=6.0)])], (), base, T + 2).violations[0].key
    k3 = watch(locked(), [snap([pos(contracts=7.0)])], (), base, T + 3).violations[0].key
    assert k1 == k2 != k3


# --- extra checks ------------------------------------------------------------------------------------


def test_an_extra_check_cancels_what_it_flags_with_or_without_a_lock_but_never_ours_or_reduce_only():
    def big(_s, o):
        return Flag("LIMIT_VIOLATION", f"LIMIT_ORDER_NOTIONAL: {o.amount:g}", "futures") if o.amount > 2 else None

    orders = [order("1", amount=3.0), order("2", amount=1.0, cid="b2"), order("3", amount=5.0, cid="ks-own"),
              order("4", side="sell", amount=5.0, reduce_only=True, cid="b4")]
    w = watch(LockBook(), [snap([pos()], orders)], {"ks-own"}, {}, T, checks=[big])
    assert [c.order_ids for c in w.cancels] == [("1",)]
    (v,) = w.violations
    assert (v.kind, v.scope, v.mode, v.reason) == ("LIMIT_VIOLATION", "futures", "active", "LIMIT_ORDER_NOTIONAL: 3")
    # under a halt the lock's own violation comes first
    (v,) = watch(locked(), [snap([pos()], orders[:1])], (), {}, T, checks=[big]).violations
    assert v.kind == "LOCK_VIOLATION"


# --- a policy's lock_trading carries what it enforces into its hold -------------------------------------


POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: p}
spec:
  scope: {level: account}
  signals:
    loss: {position_loss: {of: notional}}
  triggers:
    soft: {when: "loss >= 5%", on_missing_data: hold}
    hard: {when: "loss >= 10%", on_missing_data: hold}
  stages:
    - {level: 1, name: wind-down, on: [soft], cooldown: 1h,
       actions: [{lock_trading: {mode: reducing, enforce: {revert_growth: true}}}]}
    - {level: 2, name: halt, on: [hard], reset: manual, actions: [{lock_trading: {mode: halted}}]}
"""


def test_a_stages_lock_trading_enforce_is_compiled_and_carried_into_its_hold():
    from types import SimpleNamespace

    from killswitch.compile.compiler import compile_documents
    from killswitch.engine.planner import Lock
    from killswitch.policy.asked import asked
    from killswitch.policy.load import load_text
    from killswitch.runner.lock.evaluation import apply_evaluation

    res = compile_documents(load_text(POLICY, "p.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    node = res.graph.policy("p")
    (one,), (two,) = (asked(a.plan, a.params).locks for a in (node.stage(1).actions[0], node.stage(2).actions[0]))
    assert (one.mode, one.cancel, one.revert_growth) == ("reducing", True, True)
    assert (two.mode, two.cancel, two.revert_growth) == ("halted", True, True)
    book = LockBook()
    for level, scope, lk in ((1, ACCT, one), (2, "binanceusdm/other", two)):
        locks = (Lock("lock_trading", scope, lk.mode, lk.ttl_ms, lk.cancel, lk.revert_growth),)
        plan = SimpleNamespace(stage=level, locks=locks, decision_id=f"p/{scope}/L{level}/e1")
        ev = SimpleNamespace(now_ms=T, digest="sha256:x", revision=None, scopes=[
            SimpleNamespace(policy="p", scope=scope, transition=None, plan=plan)])
        book = apply_evaluation(book, ev, res.graph)
    first = book.for_scope(ACCT, T)
    assert first.details["enforce"] == {"cancel": True, "revert_growth": True}
    assert enforce_of(first) == Enforce(True, True)  # reducing, told to revert too
    assert "enforce" not in book.for_scope("binanceusdm/other", T).details  # the mode's default: not written


def test_an_adapters_position_columns_are_read_as_the_positions_are():
    """A snapshot whose positions carry their columns (an adapter's), one-way legs named BOTH:
    the same baselines and reverts as from the position models."""
    from killswitch.snapshot import PositionList

    def both(contracts):
        return [pos(contracts=contracts).model_copy(update={"position_side": "BOTH"})]

    plain = watch(locked(), [snap(both(5.0))], (), {}, T).baselines
    s = snap().model_copy(update={"positions": PositionList.of(both(5.0))})
    assert s.positions.columns is not None
    assert watch(locked(), [s], (), {}, T).baselines == plain == {ACCT: {"since": T, "legs": {f"{BTC}|long": 5.0}}}
    grown = snap().model_copy(update={"positions": PositionList.of(both(6.0))})
    (plan,) = watch(locked(), [grown], (), plain, T + 1).reverts
    assert plan.orders[0].amount == 1.0 and plan.orders[0].position_side is None


def test_the_memo_changes_no_answer_over_calm_grown_shrunk_and_reverted_ticks():
    """A tick under a lock works out only what changed (:class:`SizesMemo`): over a run of
    snapshots — the same columns again, equal ones, growth, the same growth again, a shrink, a
    leg gone — the watch with the memo answers exactly as without it."""
    from killswitch.runner.watch.enforce import SizesMemo
    from killswitch.snapshot import PositionList

    def held(*contracts: float):
        return snap(PositionList.of([pos(contracts=c) if i == 0 else pos(ETH, contracts=c, mark=3_000.0)
                                     for i, c in enumerate(contracts)]))

    same = held(5.0, 2.0)
    run = [same, same, held(5.0, 2.0), held(6.0, 2.0), held(6.0, 2.0), held(4.0, 2.0), held(4.0, 2.0), held(4.0),
           held(4.0, 1.0)]
    book, memo = locked(), SizesMemo()
    plain: dict = {}
    kept: dict = {}
    for k, s in enumerate(run):
        want = watch(book, [s], (), plain, T + k)
        got = watch(book, [s], (), kept, T + k, memo=memo)
        assert got == want, k
        plain, kept = want.baselines, got.baselines
    assert any(w.reverts for w in [watch(book, [held(6.0, 2.0)], (), kept, T + 99, memo=memo)])
