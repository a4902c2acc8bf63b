"""PolicyTest v2: the inputs a test gives (positions with legs, sizes and margins, open orders,
balances, initial capital, day open) and the expectations it checks (orders, cancels, triggers
not firing, a stage per tick), each shown failing when it should and passing when right."""

from __future__ import annotations

import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_sources
from killswitch.policy.policytest_doc import ExpectedOrder
from killswitch.preview.policytest import run_tests
from killswitch.preview.policytest.expect import SentCancel, SentOrder, cancels_first, compare_orders
from tests.conftest import POLICIES

DMS = (POLICIES / "dead-mans-switch.yaml").read_text()

# strategy-a goes silent: at 10m its orders are cancelled, then its two positions closed
GOOD = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: PolicyTest
    metadata: {name: dms-v2}
    spec:
      policy: dead-mans-switch
      interval: 1m
      tests:
        - name: silent bot
          input:
            equity: "100000x12"
            heartbeats: {strategy-a: "10x5 70+60x6"}
            positions:
              - {symbol: BTC/USDT:USDT, side: long, contracts: 0.5, mark: "60000x12", strategy: strategy-a}
              - {symbol: ETH/USDT:USDT, side: short, contracts: 4, mark: "3000x12", strategy: strategy-a}
              - {symbol: SOL/USDT:USDT, side: long, contracts: 30, mark: "150x12", strategy: strategy-b}
            open_orders:
              - {id: a-entry, symbol: BTC/USDT:USDT, side: buy, amount: 0.1, price: 58000, strategy: strategy-a}
              - {id: b-entry, symbol: SOL/USDT:USDT, side: buy, amount: 5, price: 140, strategy: strategy-b}
          expect:
            - {at: 9m, firing: [], not_firing: [silent], orders: [], cancels: []}
            - at: 10m
              stage: 1
              actions: [cancel_orders, close_all, lock_trading, notify, runbook]
              firing: [silent]
              cancels: [{which: all, orders: [a-entry], seq: 1}]
              orders:
                - {symbol: BTC/USDT:USDT, side: sell, fraction: 100%, reduce_only: true, position_side: none, seq: 2}
                - {symbol: ETH/USDT:USDT, side: buy, amount: 4, reduce_only: true, action: close_all, seq: 3}
    """
)


SECOND = "            - {symbol: ETH/USDT:USDT, side: buy, amount: 4, reduce_only: true, action: close_all, "


def run(test_text: str, policy_text: str = DMS):
    result = compile_documents(load_sources([("p.yaml", policy_text), ("t.yaml", test_text)]))
    assert result.errors == [], [f"{e.pos.line}:{e.pos.col} {e.message}" for e in result.errors]
    return run_tests(result)


def failing(test_text: str, policy_text: str = DMS) -> str:
    report = run(test_text, policy_text)
    assert report.failed >= 1, "expected a failure"
    return "\n".join(f"{f.pos.line}:{f.pos.col}: {f.message}" for f in report.failures)


def test_the_right_expectations_pass():
    report = run(GOOD)
    assert (report.checks, report.failed, report.failures) == (2, 0, [])


@pytest.mark.parametrize("old, new, said", [
    # a wrong side: the whole order is shown as sent
    ("side: sell, fraction: 100%", "side: buy, fraction: 100%",
     "orders[0] buy BTC/USDT:USDT (line 27): expected buy BTC/USDT:USDT, got #2 sell 0.5 BTC/USDT:USDT reduce-only"),
    # an amount off
    ("amount: 4,", "amount: 3.9,", "orders[1] buy ETH/USDT:USDT (line 28): amount: expected 3.9, got 4"),
    # a fraction off: the position it closes is named with its size
    ("fraction: 100%", "fraction: 50%", "fraction: expected 50% of 0.5 (0.25), got 100% (0.5)"),
    ("reduce_only: true, position_side: none", "reduce_only: false, position_side: none",
     "reduce_only: expected false, got true"),
    ("position_side: none", "position_side: LONG", "position_side: expected LONG, got none"),
    ("action: close_all", "action: close_side", "action: expected close_side, got close_all"),
    # the wrong order of sending: the two orders swapped
    ("seq: 2}\n" + SECOND + "seq: 3}", "seq: 3}\n" + SECOND + "seq: 2}",
     "orders[0] sell BTC/USDT:USDT (line 27): seq: expected 3, got 2 (the send order)"),
    # cancels expected after the closes
    ("cancels: [{which: all, orders: [a-entry], seq: 1}]", "cancels: [{which: all, orders: [a-entry], seq: 3}]",
     "cancels[0] (line 25): seq: expected 3, got 1 (the send order)"),
    ("which: all,", "which: entries,", "cancels[0] (line 25): which: expected entries, got all"),
    ("orders: [a-entry]", "orders: [a-entry, b-entry]", "orders: expected [a-entry, b-entry], got [a-entry]"),
    # a trigger that fires when it should not
    ("firing: [silent]\n", "firing: [silent]\n          not_firing: [silent]\n",
     "not_firing: expected [silent] not to fire, but it fires"),
    # firing: [] is checked (it was skipped before v2)
    ("firing: [silent]\n", "firing: []\n", "firing: expected [], got [silent]"),
    # an order too many, and one too few
    ("      - {symbol: ETH/USDT:USDT, side: buy, amount: 4, reduce_only: true, action: close_all, seq: 3}\n", "",
     "orders: not expected: #3 buy 4 ETH/USDT:USDT reduce-only (close_all)"),
    ("seq: 3}\n", "seq: 3}\n            - {symbol: SOL/USDT:USDT, side: sell}\n",
     "orders[2] (line 29): expected sell SOL/USDT:USDT, not sent"),
    ("orders: [], cancels: []}", "orders: [{symbol: BTC/USDT:USDT, side: sell}], cancels: []}",
     "orders[0] (line 20): expected sell BTC/USDT:USDT, not sent"),
])
def test_each_expectation_fails_when_it_should(old, new, said):
    assert old in GOOD
    message = failing(GOOD.replace(old, new))
    assert said in message
    if "firing" not in said:  # a difference in what is sent shows all that was sent, to compare
        assert "\n    sent: #1 cancel all [a-entry]; #2 " in message or "\n    sent: nothing" in message


def test_a_failure_is_at_its_expectation_with_one_line_per_difference():
    report = run(GOOD.replace("amount: 4,", "amount: 3,").replace("which: all,", "which: entries,"))
    [f] = report.failures
    assert (f.file, f.pos.line, f.pos.col, f.test) == ("t.yaml", 21, 11, "silent bot")
    assert f.message.splitlines()[:4] == [
        "at 10m: orders[1] buy ETH/USDT:USDT (line 28): amount: expected 3, got 4",
        "    cancels[0] (line 25): which: expected entries, got all",
        "    sent: #1 cancel all [a-entry]; #2 sell 0.5 BTC/USDT:USDT reduce-only (close_all); "
        "#3 buy 4 ETH/USDT:USDT reduce-only (close_all)",
        "    heartbeat=310s",
    ]


def test_cancels_sent_after_closes_are_a_difference():
    order = SentOrder(2, "v/a", "BTC/USDT:USDT", "sell", 1.0, 1, True, None, "close_all")
    early, late = SentCancel(1, "v/a", "all", ("o1",)), SentCancel(3, "v/a", "all", ("o1",))
    assert cancels_first([early], [order]) == []
    assert cancels_first([late], [order]) == [
        "cancels go before closes: #3 cancel all [o1] is sent after #2 sell 1 BTC/USDT:USDT reduce-only (close_all)"]


def test_an_amount_matches_within_a_millionth():
    got = [SentOrder(1, "v/a", "X/USDT:USDT", "sell", 1.0000005, 1, True, None, "close_all")]
    near = ExpectedOrder(symbol="X/USDT:USDT", side="sell", amount=1.0)
    far = ExpectedOrder(symbol="X/USDT:USDT", side="sell", amount=1.00001)
    assert compare_orders([near], got, lambda *a: 1.0, lambda k: None) == []
    assert compare_orders([far], got, lambda *a: 1.0, lambda k: None) == [
        "orders[0] sell X/USDT:USDT: amount: expected 1.00001, got 1"]


def test_a_fraction_of_no_position_says_so():
    got = [SentOrder(1, "v/a", "X/USDT:USDT", "sell", 1.0, 1, True, None, "close_all")]
    want = ExpectedOrder(symbol="X/USDT:USDT", side="sell", fraction="100%")
    [line] = compare_orders([want], got, lambda *a: None, lambda k: None)
    assert "there is no position it closes at this tick" in line


def test_a_stage_series_is_checked_tick_by_tick():
    ok = GOOD.replace("      expect:\n", '      stages: "0x9 1x2"\n      expect:\n')
    assert run(ok).failed == 0
    report = run(GOOD.replace("      expect:\n", '      stages: "0x8 1x3"\n      expect:\n'))
    [f] = report.failures
    assert (f.pos.line, f.message) == (19, "stages: at 9m: expected 1, got 0")
    assert report.checks == 3


def test_hedge_mode_legs_margins_and_chunks():
    futures = (POLICIES / "futures-book.yaml").read_text()
    text = textwrap.dedent(
        """\
        apiVersion: killswitch/v1
        kind: PolicyTest
        metadata: {name: fb}
        spec:
          policy: futures-book
          interval: 1m
          tests:
            - name: ladder
              input:
                equity: "1000000x15 995000-5000x14 910000-15000x6"
                positions:
                  - {symbol: BTC/USDT:USDT, side: long, position_side: LONG, contracts: 2, margin: 12000,
                     mark: "60000x15 59500-500x14 58000-1500x6"}
                  - {symbol: BTC/USDT:USDT, side: short, position_side: SHORT, contracts: 1, mark: "60000x35"}
              expect:
                - at: 26m
                  stage: 1
                  actions: [reduce_top_risk, notify]
                  orders: [{symbol: BTC/USDT:USDT, side: sell, fraction: 50%, chunks: 2, position_side: LONG}]
        """
    )
    assert run(text, futures).failed == 0
    wrong = failing(text.replace("position_side: LONG}]", "position_side: SHORT}]"), futures)
    assert "position_side: expected SHORT, got LONG" in wrong
    assert "chunks: expected 3, got 2" in failing(text.replace("chunks: 2", "chunks: 3"), futures)


def _spot(extra: str) -> str:
    return textwrap.dedent(
        """\
        apiVersion: killswitch/v1
        kind: PolicyTest
        metadata: {name: spot}
        spec:
          policy: spot-book
          interval: 1m
          tests:
            - name: day
              input:
                market_type: spot
        %s
                equity: "100000x2 96000x5"
                balances:
                  - {asset: USDT, total: 50000}
                  - {asset: ETH, total: 10, price: "3000x7"}
              expect:
                - {at: 4m, stage: 1, actions: [close_all, lock_trading, notify, runbook],
                   orders: [{symbol: ETH/USDT, side: sell, amount: 10, reduce_only: false}]}
        """
    ) % extra


def test_day_open_is_the_equity_the_day_opened_at():
    spot = (POLICIES / "spot-book.yaml").read_text()
    assert run(_spot("        day_open: 105k"), spot).failed == 0
    # without it the first equity opened the day: -4% is not -8%, nothing happens
    assert "stage: expected 1, got 0" in failing(_spot(""), spot)


def test_initial_capital_is_what_the_loss_is_measured_against():
    breaker = (POLICIES / "portfolio-breaker.yaml").read_text()
    text = textwrap.dedent(
        """\
        apiVersion: killswitch/v1
        kind: PolicyTest
        metadata: {name: pb}
        spec:
          policy: portfolio-breaker
          interval: 1m
          tests:
            - name: capital
              input: {initial_capital: 1.1M, equity: "1000000x3"}
              expect: [{at: 0m, firing: [halt], not_firing: [warn], stage: 2, actions: [lock_trading, notify, runbook]}]
        """
    )
    assert run(text, breaker).failed == 0
    assert "firing: expected [halt], got []" in failing(text.replace("1.1M", "1M"), breaker)


def test_a_position_gone_from_the_input_is_not_closed():
    text = GOOD.replace('contracts: 4, mark', 'contracts: "4x9 0", mark')
    assert "orders: not expected" not in failing(text)
    assert "orders[1] (line 28): expected buy ETH/USDT:USDT, not sent" in failing(text)


def test_a_position_in_another_account_is_refused_not_misplaced():
    report = run(GOOD.replace("contracts: 4, mark", "account: other, contracts: 4, mark"))
    [f] = report.failures
    assert (report.checks, f.pos.line, f.pos.col) == (1, 14, 59)
    assert f.message == ('positions[1] is in account "other", but the test account is "test": a test has one '
                         "account (set input.account), so it did not run")
    assert run(GOOD.replace("contracts: 4, mark", "account: test, contracts: 4, mark")).failed == 0


def test_a_margin_series_reaches_the_snapshot():
    from killswitch.policy.policytest_doc import PolicyTest
    from killswitch.preview.policytest.input import CaseInput, Identity

    doc = PolicyTest.model_validate({
        "apiVersion": "killswitch/v1", "kind": "PolicyTest", "metadata": {"name": "m"},
        "spec": {"policy": "p", "tests": [{"name": "t", "input": {
            "equity": "100", "positions": [{"symbol": "X/USDT:USDT", "side": "short", "position_side": "SHORT",
                                           "contracts": "2 _ 3", "mark": "10", "margin": "5 6",
                                           "liquidation": "20", "leverage": 3}],
            "open_orders": [{"symbol": "X/USDT:USDT", "side": "buy", "amount": 1, "reduce_only": True}]}}]}})
    inp = CaseInput(doc.spec.tests[0], Identity("v", "a", {}))
    [s0] = inp.snapshots(0, 0)
    [p] = s0.positions
    assert (p.contracts, p.margin, p.position_side, p.liquidation_price, p.leverage) == (2, 5, "SHORT", 20, 3)
    assert [(o.id, o.reduce_only) for o in s0.orders] == [("o1", True)]
    assert inp.snapshots(1, 1)[0].positions == []  # "_": no position at that tick
    assert inp.snapshots(2, 2)[0].positions[0].margin == 6  # the last sample holds


# --- bad input: refused with its place and a hint, never a test that passes by accident ----------


def diagnostics(test_text: str, policy_text: str = DMS) -> list[tuple[str, int, int, str, str]]:
    result = compile_documents(load_sources([("p.yaml", policy_text), ("t.yaml", test_text)]))
    return [(x.code, x.pos.line, x.pos.col, x.message, x.hint) for x in result.diagnostics if x.file == "t.yaml"]


@pytest.mark.parametrize("old, new, where, message, hint", [
    # an expected order for a symbol the input does not hold could never be met
    ("symbol: ETH/USDT:USDT, side: buy, amount: 4", "symbol: ETH/USDT, side: buy, amount: 4", (28, 24),
     'expected order names symbol "ETH/USDT", which is not in this test\'s input', 'did you mean "ETH/USDT:USDT"?'),
    ("orders: [a-entry]", "orders: [a-entyr]", (25, 43),
     'expected cancel names order "a-entyr", which is not an open order of this test', 'did you mean "a-entry"?'),
    ("not_firing: [silent]", "not_firing: [silnet]", (20, 45),
     'policy "dead-mans-switch" has no trigger "silnet"', 'did you mean "silent"?'),
    ("      expect:\n", '      stages: "0x9 2"\n      expect:\n', (19, 15),
     'policy "dead-mans-switch" has no stage at level 2', "levels declared: 1"),
    # typos of the new keys
    ("not_firing: [silent]", "not_fring: [silent]", (20, 32), 'unknown key "not_fring" in tests[0].expect[0]',
     'did you mean "not_firing"?'),
    ("reduce_only: true, position_side", "reduceonly: true, position_side", (27, 67),
     'unknown key "reduceonly" in tests[0].expect[1].orders[0]', 'did you mean "reduce_only"?'),
    ("        open_orders:", "        open_order:", (16, 9), 'unknown key "open_order" in tests[0].input',
     'did you mean "open_orders"?'),
    ("side: short, contracts: 4", "side: short, size: 4", (14, 50),
     'unknown key "size" in tests[0].input.positions[1]', ""),
])
def test_a_wrong_name_is_refused_at_its_place_with_a_hint(old, new, where, message, hint):
    assert old in GOOD
    [(code, line, col, msg, h)] = diagnostics(GOOD.replace(old, new))
    assert (line, col, msg) == (*where, message)
    assert h.startswith(hint)
    assert code in ("KS101", "KS104")


@pytest.mark.parametrize("old, new, said", [
    ("fraction: 100%, reduce_only", "fraction: 100%, amount: 0.5, reduce_only", "give amount or fraction, not both"),
    ("      expect:\n", '      stages: "0 stale 1"\n      expect:\n', "a stage series holds levels 0 to 99"),
    ("      expect:\n", '      stages: "0 0.5"\n      expect:\n', "a stage series holds levels 0 to 99"),
    ('contracts: 4, mark', 'contracts: "4 stale", mark', "a size series cannot be stale"),
    ('contracts: 4, mark', 'contracts: -4, mark', "a size is never negative"),
    ("id: b-entry", "id: a-entry", 'open order id "a-entry" is given twice'),
    ("side: sell, fraction", "side: sel, fraction", "sel"),
    ("position_side: none", "position_side: long", "long"),
    ("amount: 4,", "amount: 0,", "greater than 0"),
])
def test_a_bad_value_is_refused(old, new, said):
    assert old in GOOD
    found = diagnostics(GOOD.replace(old, new))
    assert found, "expected a diagnostic"
    assert any(said in f"{m} {h}" for _, _, _, m, h in found), found
