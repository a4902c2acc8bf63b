"""The pre-trade gate: every lock mode, hedge-mode legs, flips, strict request validation, and
the resumption schedule after a reset.

Invariants checked with hypothesis: the gate never raises on any JSON-ish request; HALTED
allows nothing; REDUCING never allows an order that increases |position| or flips it.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import event, given, settings, strategies as st

from killswitch.runner.gate.gate import check_order
from killswitch.runner.gate.request import Decision, parse_request
from killswitch.runner.gate.resume_plan import ResumePlan, Resumption, resume_limits
from killswitch.runner.lock.lock import LockBook
from tests.unit.engine_helpers import DAY, HOUR, pos

T0 = 1_700_000_000_000
ACCT = "binanceusdm/main"
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def locked(mode: str, scope: str = ACCT, **kw) -> LockBook:
    return LockBook().apply(scope, mode, now_ms=T0, policy="futures-book", stage=3 if mode == "halted" else 1, **kw)


def req(**kw) -> dict:
    base = {"account": ACCT, "symbol": BTC, "side": "buy", "amount": 1.0}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not ...}


# --- ACTIVE and HALTED -------------------------------------------------------------------------------


@pytest.mark.parametrize("request_", [
    pytest.param(req(), id="buy"),
    pytest.param(req(side="sell", amount=5), id="sell"),
    pytest.param(req(reduce_only=True), id="reduce_only"),
])
def test_active_allows(request_):
    assert check_order(LockBook(), request_, [], T0) == Decision(True, "ACTIVE")


def test_active_allows_with_positions_unknown():
    assert check_order(LockBook(), req(), None, T0).allow


@pytest.mark.parametrize("request_, positions", [
    pytest.param(req(), [], id="open"),
    pytest.param(req(side="sell", amount=1, reduce_only=True), [pos(BTC, "long", 2)], id="reduce_only_close"),
    pytest.param(req(side="sell", amount=0.5), [pos(BTC, "long", 2)], id="partial_close"),
    pytest.param(req(position_side="LONG", side="sell"), [pos(BTC, "long", 2, position_side="LONG")], id="hedge_close"),
])
def test_halted_denies_everything_even_closes(request_, positions):
    d = check_order(locked("halted", manual=True), request_, positions, T0)
    assert not d.allow
    assert d.reason == (f"HALTED: stage=3 policy=futures-book scope={ACCT} since 2023-11-14T22:13:20.000Z "
                        "until manual reset")


def test_halted_reason_names_ttl_expiry():
    d = check_order(locked("halted", ttl_ms=HOUR), req(), [], T0)
    assert d.reason.endswith("until 2023-11-14T23:13:20.000Z")


def test_expired_lock_no_longer_applies():
    b = locked("halted", ttl_ms=HOUR)
    assert not check_order(b, req(), [], T0 + HOUR - 1).allow
    assert check_order(b, req(), [], T0 + HOUR).allow


@pytest.mark.parametrize("lock_scope, request_, applies", [
    pytest.param("global", req(), True, id="global_applies_to_all"),
    pytest.param("binanceusdm", req(), True, id="venue_of_account_applies"),
    pytest.param(ACCT, req(), True, id="account_applies"),
    pytest.param(BTC, req(), True, id="symbol_applies"),
    pytest.param("strategy-a", req(strategy="strategy-a"), True, id="strategy_applies"),
    pytest.param("strategy-a", req(scope="strategy-a", account=...), True, id="scope_key_applies"),
    pytest.param("okx/other", req(), False, id="other_account_does_not"),
    pytest.param("okx", req(), False, id="other_venue_does_not"),
    pytest.param(ETH, req(), False, id="other_symbol_does_not"),
    pytest.param("strategy-b", req(strategy="strategy-a"), False, id="other_strategy_does_not"),
])
def test_which_locks_apply_to_an_order(lock_scope, request_, applies):
    d = check_order(locked("halted", scope=lock_scope), request_, [], T0)
    assert d.allow is not applies


# --- REDUCING -------------------------------------------------------------------------------------------


REDUCING_CASES = [
    # one-way mode
    ("sell", 1, None, None, [pos(BTC, "long", 2)], True, "REDUCING: reduces the position"),
    ("sell", 2, None, None, [pos(BTC, "long", 2)], True, "REDUCING: reduces the position"),
    ("sell", 2, True, None, [pos(BTC, "long", 2)], True, "REDUCING: reduces the position"),
    ("buy", 0.5, False, None, [pos(BTC, "short", 1)], True, "REDUCING: reduces the position"),
    ("buy", 1, None, None, [pos(BTC, "long", 2)], False, "REDUCING: order would open or increase exposure"),
    ("sell", 1, None, None, [pos(BTC, "short", 2)], False, "REDUCING: order would open or increase exposure"),
    ("buy", 1, None, None, [], False, "REDUCING: order would open or increase exposure"),
    ("sell", 1, True, None, [], False, "REDUCING: order would open or increase exposure"),
    ("sell", 1, None, None, [pos(ETH, "long", 2)], False, "REDUCING: order would open or increase exposure"),
    ("sell", 1, None, None, [pos(BTC, "long", 0)], False, "REDUCING: order would open or increase exposure"),
    ("sell", 3, False, None, [pos(BTC, "long", 2)], False, "REDUCING: order would flip the position"),
    ("sell", 3, None, None, [pos(BTC, "long", 2)], False, "REDUCING: order larger than the position"),
    ("sell", 3, True, None, [pos(BTC, "long", 2)], False, "REDUCING: order larger than the position"),
    ("sell", 1, None, "BOTH", [pos(BTC, "long", 2, position_side="BOTH")], True, "REDUCING: reduces"),
    ("sell", 1, None, None, [pos(BTC, "long", 2), pos(BTC, "short", 1)], False, "REDUCING: cannot tell"),
    # hedge mode
    ("sell", 1, None, "LONG", [pos(BTC, "long", 2, position_side="LONG"), pos(BTC, "short", 1, position_side="SHORT")],
     True, "REDUCING: reduces the position"),
    ("buy", 1, True, "SHORT", [pos(BTC, "long", 2, position_side="LONG"), pos(BTC, "short", 1, position_side="SHORT")],
     True, "REDUCING: reduces the position"),
    ("buy", 1, None, "LONG", [pos(BTC, "long", 2, position_side="LONG")], False,
     "REDUCING: order would open or increase exposure"),
    ("sell", 1, None, "SHORT", [pos(BTC, "long", 2, position_side="LONG")], False,
     "REDUCING: order would open or increase exposure"),
    ("buy", 2, None, "SHORT", [pos(BTC, "short", 1, position_side="SHORT")], False,
     "REDUCING: order larger than the position"),
    ("sell", 1, None, None, [pos(BTC, "long", 2, position_side="LONG")], False,
     "REDUCING: cannot tell which position the order reduces: BTC/USDT:USDT is held in hedge mode"),
    ("sell", 1, None, "BOTH", [pos(BTC, "long", 2, position_side="LONG")], False, "REDUCING: cannot tell"),
    ("sell", 1, None, "LONG", [pos(BTC, "long", 2)], False, "REDUCING: cannot tell"),
    ("sell", 1, None, "LONG", [pos(BTC, "short", 2, position_side="LONG")], False, "REDUCING: cannot tell"),
]


def _case_id(c) -> str:
    held = "_".join(f"{p.side}{p.contracts:g}{p.position_side or ''}{p.symbol[:3]}" for p in c[4]) or "flat"
    return f"{c[0]}_{c[1]:g}_ro={c[2]}_ps={c[3]}_held={held}"


@pytest.mark.parametrize("side, amount, reduce_only, position_side, positions, allow, reason",
                         [pytest.param(*c, id=_case_id(c)) for c in REDUCING_CASES])
def test_reducing(side, amount, reduce_only, position_side, positions, allow, reason):
    r = req(side=side, amount=amount, reduce_only=reduce_only if reduce_only is not None else ...,
            position_side=position_side if position_side is not None else ...)
    d = check_order(locked("reducing"), r, positions, T0)
    assert d.allow is allow, d.reason
    assert d.reason.startswith(reason), d.reason


def test_reducing_denies_when_positions_unknown():
    d = check_order(locked("reducing"), req(side="sell"), None, T0)
    assert not d.allow and d.reason.startswith("REDUCING: positions unknown")


def test_reducing_denial_names_the_lock():
    d = check_order(locked("reducing", ttl_ms=HOUR), req(), [], T0)
    assert "stage=1 policy=futures-book" in d.reason


# --- bad requests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("request_, why", [
    pytest.param(None, "JSON object", id="null"),
    pytest.param([], "JSON object", id="list"),
    pytest.param("buy", "JSON object", id="string"),
    pytest.param({1: 2, **req()}, "field names", id="non_string_key"),
    pytest.param(req(leverage=5), "unknown field(s) 'leverage'", id="unknown_field"),
    pytest.param(req(account=...), 'give "scope" or "account"', id="no_scope_or_account"),
    pytest.param(req(account=""), '"account" must be a non-empty string', id="empty_account"),
    pytest.param(req(account=5), '"account" must be a non-empty string', id="account_not_text"),
    pytest.param(req(account="x" * 300), "longer than", id="account_too_long"),
    pytest.param(req(symbol=...), '"symbol" is required', id="no_symbol"),
    pytest.param(req(symbol=" "), '"symbol" must be a non-empty string', id="blank_symbol"),
    pytest.param(req(side="BUY"), '"side" must be "buy" or "sell"', id="upper_case_side"),
    pytest.param(req(side="long"), '"side" must be "buy" or "sell"', id="position_word_as_side"),
    pytest.param(req(side=...), '"side" must be "buy" or "sell"', id="no_side"),
    pytest.param(req(side=["buy"]), '"side" must be "buy" or "sell"', id="side_list"),
    pytest.param(req(amount=...), '"amount" is required', id="no_amount"),
    pytest.param(req(amount=0), '"amount" must be a finite number above 0', id="zero_amount"),
    pytest.param(req(amount=-1), '"amount" must be a finite number above 0', id="negative_amount"),
    pytest.param(req(amount=math.nan), '"amount" must be a finite number above 0', id="nan_amount"),
    pytest.param(req(amount=math.inf), '"amount" must be a finite number above 0', id="inf_amount"),
    pytest.param(req(amount="1"), '"amount" must be a finite number above 0', id="string_amount"),
    pytest.param(req(amount=True), '"amount" must be a finite number above 0', id="bool_amount"),
    pytest.param(req(amount=10 ** 400), '"amount" must be a finite number above 0', id="huge_int_amount"),
    pytest.param(req(amount=None), '"amount" is required', id="null_amount"),
    pytest.param(req(price=0), '"price" must be a finite number above 0', id="zero_price"),
    pytest.param(req(price=math.nan), '"price" must be a finite number above 0', id="nan_price"),
    pytest.param(req(reduce_only="true"), '"reduce_only" must be true or false', id="string_reduce_only"),
    pytest.param(req(reduce_only=1), '"reduce_only" must be true or false', id="int_reduce_only"),
    pytest.param(req(position_side="longer"), '"position_side" must be', id="other_position_side"),
    pytest.param(req(position_side=1), '"position_side" must be', id="int_position_side"),
])
def test_bad_requests_denied_with_reason(request_, why):
    for book in (LockBook(), locked("halted")):
        d = check_order(book, request_, [], T0)
        assert not d.allow
        assert d.reason.startswith("BAD_REQUEST: ") and why in d.reason, d.reason


def test_parse_request_accepts_nulls_for_optional_fields():
    r = parse_request(req(reduce_only=None, position_side=None, price=None, scope="s", strategy=None))
    assert (r.reduce_only, r.position_side, r.price, r.scope) == (None, None, None, "s")


@pytest.mark.parametrize("written, read", [("short", "SHORT"), ("Long", "LONG"), ("both", "BOTH"), ("SHORT", "SHORT")])
def test_position_side_is_read_in_any_case(written, read):
    """Status prints a leg as ``short SHORT`` and ccxt writes ``short``: either case is the leg."""
    assert parse_request(req(position_side=written)).position_side == read
    hedge = [pos(BTC, "long", 2, position_side="LONG"), pos(BTC, "short", 1, position_side="SHORT")]
    if read != "BOTH":
        assert check_order(locked("reducing"), req(side="buy" if read == "SHORT" else "sell", amount=1,
                                                   position_side=written), hedge, T0).allow


def test_position_side_other_than_the_three_is_refused():
    with pytest.raises(ValueError, match=r'must be "LONG", "SHORT" or "BOTH" \(in any case\), not \'sideways\''):
        parse_request(req(position_side="sideways"))


def test_ccxts_order_type_is_refused_saying_the_price_tells_it():
    with pytest.raises(ValueError, match="unknown field\\(s\\) 'type'") as e:
        parse_request(req(type="limit", price=50000.0))
    assert 'reads no order "type": an order with a "price" is checked as a limit order' in str(e.value)


def test_parse_request_raises_value_error():
    with pytest.raises(ValueError, match="side"):
        parse_request(req(side="hold"))


def test_gate_never_raises_on_broken_positions():
    class Weird:
        symbol = BTC
        contracts = "lots"

    d = check_order(locked("reducing"), req(side="sell"), [Weird()], T0)
    assert not d.allow and d.reason.startswith("INTERNAL: ")


# --- properties ---------------------------------------------------------------------------------------


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20), st.floats(allow_nan=True),
                      st.text(max_size=8), st.sampled_from(["buy", "sell", "LONG", "SHORT", "BOTH", BTC, ACCT]))
json_any = st.recursive(json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c,
                                                                                       max_size=3), max_leaves=6)
fields = st.sampled_from(["scope", "account", "strategy", "symbol", "side", "amount", "price", "reduce_only",
                          "position_side", "extra"])
well_formed = st.fixed_dictionaries(
    {"account": st.sampled_from([ACCT, "x/y"]), "symbol": st.sampled_from([BTC, ETH]),
     "side": st.sampled_from(["buy", "sell"]),
     "amount": st.one_of(st.floats(min_value=-1, max_value=10), st.just(math.nan), st.integers(-2, 10))},
    optional={"reduce_only": st.booleans(), "position_side": st.sampled_from(["LONG", "SHORT", "BOTH"]),
              "price": st.floats(allow_nan=True)})
requests = st.one_of(json_any, st.dictionaries(fields, json_any, max_size=9), well_formed)
position_lists = st.lists(st.builds(
    lambda sym, side, n, ps: pos(sym, side, n, position_side=ps),
    st.sampled_from([BTC, ETH]), st.sampled_from(["long", "short"]), st.floats(0, 5),
    st.sampled_from([None, "BOTH", "LONG", "SHORT"])), max_size=3)


@settings(max_examples=500, deadline=None)
@given(requests, st.one_of(st.none(), position_lists), st.sampled_from(["active", "reducing", "halted"]))
def test_gate_never_raises_and_halted_never_allows(request_, positions, mode):
    book = LockBook() if mode == "active" else locked(mode, scope="global")
    d = check_order(book, request_, positions, T0)
    assert isinstance(d, Decision) and isinstance(d.allow, bool) and d.reason
    if mode == "halted":
        assert not d.allow


def _signed(positions, symbol, leg):
    total = 0.0
    for p in positions:
        if p.symbol == symbol and p.contracts > 0 and (leg is None or p.position_side == leg):
            total += p.contracts if p.side == "long" else -p.contracts
    return total


@st.composite
def near_reducing(draw):
    """Well-formed orders aimed at a held position: its symbol and leg, either side, amounts at,
    below and just above its size; sometimes a different leg or a random amount."""
    positions = draw(st.lists(position_lists.filter(bool).map(lambda x: x[0]), min_size=1, max_size=2))
    target = draw(st.sampled_from(positions).filter(lambda p: p.contracts > 0))
    closing = "sell" if target.side == "long" else "buy"
    side = draw(st.sampled_from([closing, closing, closing, "buy" if closing == "sell" else "sell"]))
    c = target.contracts
    amount = draw(st.sampled_from([c, c / 2, c * 1.000001, c + 1]).filter(lambda x: x > 0) | st.floats(0.001, 6))
    r = {"account": ACCT, "symbol": target.symbol, "side": side, "amount": amount}
    ps = draw(st.sampled_from([target.position_side, target.position_side, None, "LONG", "SHORT", "BOTH"]))
    if ps:
        r["position_side"] = ps
    ro = draw(st.sampled_from([None, True, False]))
    if ro is not None:
        r["reduce_only"] = ro
    return r, positions


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.tuples(requests, position_lists), near_reducing(), near_reducing(), near_reducing()))
def test_reducing_never_increases_or_flips_a_position(case):
    request_, positions = case
    d = check_order(locked("reducing", scope="global"), request_, positions, T0)
    if not d.allow:
        return
    event("allowed")
    assert d.reason.startswith("REDUCING: reduces the position")
    leg = request_.get("position_side") if request_.get("position_side") in ("LONG", "SHORT") else None
    before = _signed(positions, request_["symbol"], leg)
    delta = request_["amount"] if request_["side"] == "buy" else -request_["amount"]
    after = before + delta
    assert abs(after) <= abs(before)
    assert after == 0 or (after > 0) == (before > 0)


# --- resumption schedule -----------------------------------------------------------------------------


PLAN = ResumePlan(max_positions=10, max_gross_exposure=100_000.0, start_fraction=0.4, step_factor=1.5, step_ms=DAY)


@pytest.mark.parametrize("offset, day, fraction, positions, gross, done", [
    pytest.param(-HOUR, 1, 0.4, 4, 40_000.0, False, id="clock_before_reset_is_day_1"),
    pytest.param(0, 1, 0.4, 4, 40_000.0, False, id="at_reset_day_1"),
    pytest.param(DAY - 1, 1, 0.4, 4, 40_000.0, False, id="last_ms_of_day_1"),
    pytest.param(DAY, 2, 0.6, 6, 60_000.0, False, id="first_ms_of_day_2"),
    pytest.param(2 * DAY, 3, 0.9, 9, 90_000.0, False, id="day_3"),
    pytest.param(3 * DAY - 1, 3, 0.9, 9, 90_000.0, False, id="last_ms_of_day_3"),
    pytest.param(3 * DAY, 4, 1.0, 10, 100_000.0, True, id="back_to_normal"),
    pytest.param(300 * DAY, 301, 1.0, 10, 100_000.0, True, id="long_after"),
])
def test_resume_limits_schedule(offset, day, fraction, positions, gross, done):
    lim = resume_limits(PLAN, T0, T0 + offset)
    assert (lim.day, lim.days, lim.done, lim.max_positions) == (day, 3, done, positions)
    assert lim.fraction == pytest.approx(fraction)
    assert lim.max_gross_exposure == pytest.approx(gross)
    if not done:
        assert lim.until_ms == T0 + day * DAY


def test_resume_limits_keep_at_least_one_position():
    lim = resume_limits(ResumePlan(max_positions=1, start_fraction=0.1), T0, T0)
    assert lim.max_positions == 1


def test_resume_full_start_fraction_is_done_at_once():
    assert resume_limits(ResumePlan(max_positions=3, start_fraction=1.0), T0, T0).done


@pytest.mark.parametrize("kwargs", [
    dict(start_fraction=0), dict(start_fraction=1.5), dict(start_fraction=math.nan), dict(step_factor=1.0),
    dict(step_factor=0.5), dict(step_ms=0), dict(step_ms=1.5), dict(max_positions=-1), dict(max_positions=True),
    dict(max_gross_exposure=-1.0), dict(max_gross_exposure=math.inf), dict(start_fraction=1e-9, step_factor=1.0001),
], ids=lambda k: "_".join(f"{a}={b}" for a, b in k.items()))
def test_resume_plan_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        ResumePlan(**kwargs)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.01, 1.0), st.floats(1.01, 4.0), st.integers(0, 400 * DAY))
def test_resume_limits_never_exceed_normal_and_never_step_down(start, factor, offset):
    plan = ResumePlan(max_positions=20, max_gross_exposure=1e6, start_fraction=start, step_factor=factor)
    a = resume_limits(plan, T0, T0 + offset)
    b = resume_limits(plan, T0, T0 + offset + DAY)
    assert a.max_positions <= 20 and a.max_gross_exposure <= 1e6 * (1 + 1e-12)
    assert b.max_positions >= a.max_positions and b.max_gross_exposure >= a.max_gross_exposure


RESUME = Resumption(PLAN, T0)


@pytest.mark.parametrize("request_, positions, now, allow, reason", [
    pytest.param(req(amount=300, price=100), [], T0, True, "RESUMING: gross exposure 30,000.00 <= limit 40,000.00 "
                 "(day 1 of 3)", id="open_within_gross"),
    pytest.param(req(amount=500, price=100), [], T0, False, "RESUMING: gross exposure would be 50,000.00 > limit "
                 "40,000.00 (day 1 of 3)", id="open_above_gross"),
    pytest.param(req(amount=500, price=100), [], T0 + DAY, True, "RESUMING: gross exposure 50,000.00 <= limit "
                 "60,000.00 (day 2 of 3)", id="same_order_fits_on_day_2"),
    pytest.param(req(amount=2000, price=100), [], T0 + 3 * DAY, True, "ACTIVE", id="normal_after_schedule"),
    pytest.param(req(amount=100), [pos(BTC, "long", 300)], T0, True, "RESUMING: gross exposure 40,000.00 <= limit "
                 "40,000.00", id="increase_to_exactly_the_limit"),
    pytest.param(req(amount=101), [pos(BTC, "long", 300)], T0, False, "RESUMING: gross exposure would be 40,100.00 > "
                 "limit 40,000.00 (day 1 of 3)", id="increase_valued_at_position_price"),
    pytest.param(req(amount=50), [pos(BTC, "long", 300)], T0, True, "RESUMING: gross exposure 35,000.00",
                 id="increase_within_gross"),
    pytest.param(req(side="sell", amount=300), [pos(BTC, "long", 300)], T0, True, "RESUMING: reduces exposure",
                 id="close_allowed"),
    pytest.param(req(side="sell", amount=500, reduce_only=True), [pos(BTC, "long", 300)], T0, True,
                 "RESUMING: reduce-only close", id="oversized_reduce_only_close_allowed"),
    pytest.param(req(side="sell", amount=500), [pos(BTC, "long", 300)], T0, True, "RESUMING: gross exposure "
                 "20,000.00 <= limit", id="flip_that_shrinks_gross_allowed"),
    pytest.param(req(side="sell", amount=800), [pos(BTC, "long", 100)], T0, False, "RESUMING: gross exposure would "
                 "be 70,000.00 > limit 40,000.00", id="flip_that_grows_gross_denied"),
    pytest.param(req(amount=1), [], T0, False, 'RESUMING: cannot value the order; give "price"',
                 id="new_symbol_without_price"),
    pytest.param(req(symbol="X5", amount=1, price=1),
                 [pos(f"X{i}", "long", 1, mark=1) for i in range(4)], T0, False,
                 "RESUMING: open positions would be 5 > limit 4 (day 1 of 3)", id="count_limit"),
    pytest.param(req(symbol="X0", amount=1, price=1),
                 [pos(f"X{i}", "long", 1, mark=1) for i in range(4)], T0, True, "RESUMING: gross exposure",
                 id="adding_to_held_symbol_does_not_count"),
    pytest.param(req(side="sell", amount=1, position_side="LONG"), [pos(BTC, "long", 300, position_side="LONG")], T0,
                 True, "RESUMING: reduces exposure", id="hedge_close"),
    pytest.param(req(amount=1), [pos(BTC, "long", 300, position_side="LONG")], T0, False,
                 "RESUMING: cannot tell", id="hedge_without_position_side"),
    pytest.param(req(amount=1), None, T0, False, "RESUMING: positions unknown", id="positions_unknown"),
])
def test_gate_during_resumption(request_, positions, now, allow, reason):
    d = check_order(LockBook(), request_, positions, now, resume=RESUME)
    assert d.allow is allow, d.reason
    assert d.reason.startswith(reason), d.reason


def test_lock_wins_over_resumption():
    d = check_order(locked("halted"), req(amount=1, price=1), [], T0, resume=RESUME)
    assert d.reason.startswith("HALTED")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["buy", "sell"]), st.floats(0.01, 1000), st.one_of(st.none(), st.floats(1, 200)),
       position_lists, st.integers(0, 4 * DAY))
def test_resumption_never_lets_gross_exceed_the_limit_when_growing(side, amount, price, positions, offset):
    positions = [p for p in positions if p.position_side in (None, "BOTH")][:1]
    r = req(side=side, amount=amount, price=price if price is not None else ...)
    d = check_order(LockBook(), r, positions, T0 + offset, resume=RESUME)
    lim = resume_limits(PLAN, T0, T0 + offset)
    if not d.allow or lim.done:
        return
    held = [p for p in positions if p.contracts > 0]
    before = sum(p.notional for p in held)
    signed = _signed(held, BTC, None)
    after_contracts = signed + (amount if side == "buy" else -amount)
    if abs(after_contracts) > abs(signed) or (after_contracts * signed < 0):
        event("growing order allowed")
        unit = price if price is not None else next(p.notional / p.contracts for p in held if p.symbol == BTC)
        mine = sum(p.notional for p in held if p.symbol == BTC)
        assert before - mine + abs(after_contracts) * unit <= lim.max_gross_exposure * (1 + 1e-9)


@settings(max_examples=300, deadline=None)
@given(st.floats(0.01, 1.0), st.floats(1.01, 4.0), st.integers(60_000, 30 * DAY), st.integers(-DAY, 600 * DAY),
       st.integers(0, 600 * DAY))
def test_resume_limits_step_up_only_at_the_scheduled_steps(start, factor, step_ms, t1, gap):
    plan = ResumePlan(max_positions=20, max_gross_exposure=1e6, start_fraction=start, step_factor=factor,
                      step_ms=step_ms)
    a, b = resume_limits(plan, T0, T0 + t1), resume_limits(plan, T0, T0 + t1 + gap)
    assert a.max_positions <= 20 and b.max_gross_exposure <= 1e6 * (1 + 1e-12)
    assert (b.max_positions, b.max_gross_exposure) >= (a.max_positions, a.max_gross_exposure)
    if max(0, t1) // step_ms == (t1 + gap) // step_ms:  # no step boundary between the two times
        assert (a.max_positions, a.max_gross_exposure, a.day) == (b.max_positions, b.max_gross_exposure, b.day)
    if not a.done:
        assert a.until_ms == T0 + a.day * step_ms and a.until_ms > T0 + t1  # the next step is in the future
        assert resume_limits(plan, T0, a.until_ms - 1).fraction == a.fraction


@pytest.mark.parametrize("scope, request_, held", [
    pytest.param(ACCT, req(amount=500, price=100), True, id="its_account"),
    pytest.param("global", req(amount=500, price=100), True, id="global_holds_everyone"),
    pytest.param(None, req(amount=500, price=100), True, id="no_scope_holds_everyone"),
    pytest.param("binanceusdm", req(amount=500, price=100), True, id="the_account_venue"),
    pytest.param("strategy-a", req(amount=500, price=100, strategy="strategy-a"), True, id="the_named_strategy"),
    pytest.param("strategy-a", req(amount=500, price=100), False, id="a_strategy_the_order_does_not_name"),
    pytest.param("okx/other", req(amount=500, price=100), False, id="another_account"),
])
def test_a_resumption_holds_the_orders_that_name_its_scope(scope, request_, held):
    d = check_order(LockBook(), request_, [], T0, resume=[Resumption(PLAN, T0, scope)])
    assert d.allow is not held and d.reason.startswith("RESUMING" if held else "ACTIVE"), d.reason


def test_an_order_must_pass_every_resumption_that_holds_it():
    loose = Resumption(ResumePlan(max_gross_exposure=1e9, start_fraction=0.5), T0, "global")
    tight = Resumption(PLAN, T0, ACCT)
    order = req(amount=300, price=100)  # 30 000: within both on day 1
    assert check_order(LockBook(), order, [], T0, resume=[loose, tight]).allow
    big = req(amount=500, price=100)  # 50 000: over the account's 40 000
    for both in ([loose, tight], [tight, loose]):
        d = check_order(LockBook(), big, [], T0, resume=both)
        assert not d.allow and "limit 40,000.00" in d.reason


@pytest.mark.parametrize("request_", [
    pytest.param(req(), id="account"),
    pytest.param(req(account=..., scope=ACCT), id="account-as-scope"),
])
def test_a_venue_halt_binds_an_account_however_the_order_names_it(request_):
    d = check_order(locked("halted", scope="binanceusdm", manual=True), request_, [], T0)
    assert not d.allow and d.reason.startswith("HALTED"), d


# --- the positions as a check reads them ---------------------------------------------------------------


def _on_reading(positions):
    """``positions`` made on reading, as the simulated adapter hands them, with the models read kept."""
    from killswitch.snapshot import PositionList, PositionsOnReading

    cols = PositionList.of(positions).columns
    read: list[int] = []

    def make(i: int):
        read.append(i)
        return positions[i]

    return PositionsOnReading(cols, make), read


@pytest.mark.parametrize("side, amount, reduce_only, position_side, positions, allow, reason",
                         [pytest.param(*c, id=_case_id(c)) for c in REDUCING_CASES])
def test_reducing_reads_the_same_from_the_columns(side, amount, reduce_only, position_side, positions, allow,
                                                  reason):
    """Every reducing case answers the same when the account's positions are made on reading
    (the gate finds the symbol's legs in the column of symbols), with 500 other symbols held."""
    others = [pos(f"X{i}/USDT:USDT", "long", 1) for i in range(500)]
    held, read = _on_reading(others + positions)
    r = req(side=side, amount=amount, reduce_only=reduce_only if reduce_only is not None else ...,
            position_side=position_side if position_side is not None else ...)
    d = check_order(locked("reducing"), r, held, T0)
    assert d.allow is allow and d.reason.startswith(reason), d.reason
    assert all(i >= 500 for i in read), "a model of another symbol was made"


def test_a_check_under_a_resumption_counts_and_sums_the_open_positions_without_their_models():
    from killswitch.runner.gate.gate import HeldPositions

    book = [pos(BTC, "long", 2), pos(ETH, "short", 0), *(pos(f"X{i}/USDT:USDT", "long", 1) for i in range(300))]
    held, read = _on_reading(book)
    plan = ResumePlan(max_positions=1000, max_gross_exposure=1e12, start_fraction=1e-3)
    as_list = check_order(LockBook(), req(symbol=ETH, amount=1.0, price=100.0), book, T0, resume=Resumption(plan, T0))
    kept = HeldPositions(held)
    on_reading = check_order(LockBook(), req(symbol=ETH, amount=1.0, price=100.0), kept, T0,
                             resume=Resumption(plan, T0))
    assert as_list == on_reading
    assert kept.opened() == (301, sum(p.notional for p in book if p.contracts > 0))
    assert read == []  # ETH is not open: no model made to tell
