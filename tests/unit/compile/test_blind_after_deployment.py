"""KS219: a trigger with ``on_missing_data: hold`` that reads a windowed signal needing more history
than the policy's interval × the trigger's confirmations is blind after a deployment; the warning
gives the blind time in minutes and names the signal. The history each kind needs is checked
against the engine itself: ticking a fresh state, the signal first has a value exactly then."""

from __future__ import annotations

import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.engine.evaluate import evaluate
from killswitch.policy.load import load_text
from killswitch.snapshot import Snapshot

POLICY = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: p}
    spec:
      interval: INTERVAL
      signals:
        dd_15m: {equity_drawdown: {window: 15m, min_coverage: 80%}}
        dd_1h: {equity_drawdown: {window: 1h, min_coverage: 80%}}
        stale: data_age
        SIGNAL
      triggers:
        soft: {when: "WHEN", FOR on_missing_data: RULE}
      stages:
        - {level: 1, name: reduce, on: [soft], actions: [{lock_trading: {mode: reducing}}]}
    """)


def compile_policy(when: str, rule: str = "hold", confirm: str = "for: 3 ticks,", interval: str = "5s",
                   signal: str = "", extra: str = ""):
    text = (POLICY.replace("INTERVAL", interval).replace("WHEN", when).replace("RULE", rule)
            .replace("FOR", confirm).replace("SIGNAL", signal or "spare: data_age") + extra)
    return compile_documents(load_text(text, "p.yaml"))


def blind(result) -> list[str]:
    return [x.message for x in result.diagnostics if x.code == "KS219"]


def test_a_trigger_on_a_1h_drawdown_is_blind_for_48_minutes():
    result = compile_policy("dd_1h >= 7%")
    [x] = [x for x in result.diagnostics if x.code == "KS219"]
    assert x.message == ('trigger "soft" reads dd_1h, which needs 48 min of history (80% of 1h) before it has a '
                         "value: after a deployment the trigger cannot fire for 48 min")
    assert (x.pos.line, x.pos.col) == (12, 19)  # at dd_1h in the condition
    assert x.severity.value == "warning" and result.graph is not None
    assert "min_coverage" in x.hint and "while_blind" in x.hint and "shorter window" in x.hint


def test_two_windows_or_ed_say_when_the_trigger_can_fire_and_when_the_longer_side_can():
    [msg] = blind(compile_policy("dd_15m >= 4.5% || dd_1h >= 7%"))
    assert msg == ('trigger "soft" reads dd_15m, which needs 12 min of history (80% of 15m), and dd_1h, which '
                   "needs 48 min (80% of 1h), before they have a value: after a deployment the trigger cannot fire "
                   "for 12 min, nor on dd_1h for 48 min")


def test_an_or_with_a_signal_available_at_once_still_names_the_blind_side():
    [msg] = blind(compile_policy("stale > 60s || dd_1h >= 7%"))
    assert msg == ('trigger "soft" reads dd_1h, which needs 48 min of history (80% of 1h) before it has a value: '
                   "after a deployment the trigger can fire on stale at once, but not on dd_1h for 48 min")


def test_an_and_with_a_signal_available_at_once_waits_for_the_windowed_one():
    [msg] = blind(compile_policy("stale > 60s && dd_1h >= 7%"))
    assert msg.endswith("after a deployment the trigger cannot fire for 48 min")
    [msg] = blind(compile_policy("(stale > 60s && dd_1h >= 7%) || dd_15m >= 9%"))
    assert msg.endswith("the trigger cannot fire for 12 min, nor on dd_1h for 48 min")
    [msg] = blind(compile_policy("(stale > 60s && dd_1h >= 7%) || !(stale <= 30s)"))
    assert msg.endswith("the trigger can fire on stale at once, but not on dd_1h for 48 min")


@pytest.mark.parametrize("rule", ["fire", "ignore"])
def test_only_hold_keeps_a_blind_trigger_quiet(rule):
    assert blind(compile_policy("dd_1h >= 7%", rule=rule)) == []


@pytest.mark.parametrize("confirm,interval,warned", [
    ("for: 9 ticks,", "5s", True),     # 45 s of confirmations: 48 s of history is more
    ("for: 10 ticks,", "5s", False),   # 50 s: the trigger waits for its confirmations anyway
    ("for: 45s,", "5s", True),
    ("for: 50s,", "5s", False),        # a confirmation time as long as the history (on 5 s ticks: 50 s)
    ("", "1m", False),                 # one tick of a minute
    ("", "30s", True),
])
def test_the_confirmations_take_their_own_time_first(confirm, interval, warned):
    result = compile_policy("dd_1m >= 2%", confirm=confirm, interval=interval,
                            signal="dd_1m: {equity_drawdown: {window: 1m, min_coverage: 80%}}")
    assert bool(blind(result)) == warned, blind(result)


def test_a_blind_time_under_a_minute_is_said_in_tenths_of_a_minute():
    [msg] = blind(compile_policy("dd_1m >= 2%", signal="dd_1m: {equity_drawdown: {window: 1m, min_coverage: 80%}}"))
    assert "needs 0.8 min of history (80% of 1m)" in msg


def test_no_coverage_asked_is_no_history_needed():
    result = compile_policy("dd_0 >= 2%", signal="dd_0: {equity_drawdown: {window: 1h, min_coverage: 0%}}")
    assert blind(result) == []


def test_while_blind_said_in_the_policy_silences_the_warning():
    """A policy that says what it does while blind (spec.while_blind) has decided: no warning."""
    result = compile_policy("dd_1h >= 7%", extra="  while_blind: {lock_trading: reducing}\n")
    assert not result.errors and blind(result) == []
    assert result.graph is not None and result.graph.policy("p").while_blind_lock == "reducing"
    assert blind(compile_policy("dd_1h >= 7%")) != []  # and without it, the warning


def test_no_blind_warning_beside_errors():
    """A graph that cannot be deployed is not blind after a deployment: the errors come alone."""
    extra = ("  correlation_groups: [{name: a, symbols: [BTC/USDT, ETH/USDT]}, "
             "{name: b, symbols: [BTC/USDT, SOL/USDT]}]\n")  # BTC/USDT in two groups: KS215
    result = compile_policy("dd_1h >= 7%", extra=extra)
    assert blind(result) == [] and [x.code for x in result.errors] == ["KS215"]


def test_unused_triggers_are_not_judged():
    text = POLICY.replace("INTERVAL", "5s").replace("WHEN", "stale > 60s").replace("RULE", "hold").replace(
        "FOR", "").replace("SIGNAL", "spare: data_age").replace(
        "  stages:", '    spare_t: {when: "dd_1h >= 1%", on_missing_data: hold}\n  stages:')
    result = compile_documents(load_text(text, "p.yaml"))
    assert "KS205" in [x.code for x in result.diagnostics] and blind(result) == []


# --- the history the compiler counts is the engine's ---------------------------------------------

CASES = [
    ("{equity_drawdown: {window: 15m, min_coverage: 80%}}", "5s", 12 * 60_000),
    ("{equity_drawdown: {window: 1h, min_coverage: 80%}}", "7s", 2_884_000),  # 48 min on a 7 s tick
    ("{equity_drawdown: {window: 10m, min_coverage: 33%}}", "15s", 210_000),
    ("{realized_volatility: {window: 1h, sample: 5m}}", "15s", 50 * 60_000),  # 10 returns of 5m
    ("{realized_volatility: {window: 10m, sample: 5m, min_coverage: 10%}}", "1m", 10 * 60_000),  # 2 returns
    ("{realized_volatility: {window: 1h, sample: 7m}}", "5m", 70 * 60_000),  # a return every 10 min
    ("{value_at_risk: {window: 1h, horizon: 5m, confidence: 95%}}", "5m", 50 * 60_000),
    ("{expected_shortfall: {window: 30m, horizon: 1m, min_coverage: 1%}}", "20s", 60_000),  # 1 return
    ("{realized_volatility: {window: 2h, sample: 6m}}", "5m", None),  # 16 returns, 10 min apart: never
]


@pytest.mark.parametrize("kind,interval,expected", CASES, ids=[f"{k} @ {i}" for k, i, _ in CASES])
def test_the_history_a_signal_needs_is_when_the_engine_first_gives_it_a_value(kind, interval, expected):
    text = POLICY.replace("INTERVAL", interval).replace("WHEN", "x >= 5%").replace("RULE", "hold").replace(
        "FOR", "").replace("SIGNAL", f"x: {kind}")
    result = compile_documents(load_text(text, "p.yaml"))
    graph = result.graph
    node = graph.policy("p")
    need = next(s for s in node.signals if s.name == "x").history_need(int(node.interval_s * 1000))
    assert need is not None and need.ms == expected
    step = int(node.interval_s * 1000)
    state, first = None, None
    horizon = (expected or 3 * 3_600_000) + 5 * step
    for now in range(0, horizon + 1, step):
        snap = Snapshot(venue="v", account="a", market_type="futures", ts_event=now, equity=10_000.0)
        ev, state = evaluate(graph, [snap], state, now)
        [value] = [v for v in ev.scopes[0].signals if v.name == "x"]
        if value.value is not None:
            first = now
            break
    assert first == expected, (need, first)
    if expected is not None:
        [msg] = blind(result)
        assert f"needs {round(expected / 60_000, 1):g} min of history" in msg
    else:
        [msg] = blind(result)
        assert "never has the history it needs" in msg and "the trigger can never fire" in msg


def test_every_blind_side_is_named_beside_a_signal_known_at_once():
    [msg] = blind(compile_policy("stale > 60s || dd_1h >= 7% || dd_15m >= 3%"))
    assert msg.endswith("the trigger can fire on stale at once, but not on dd_15m for 12 min, nor on dd_1h for 48 min")


def test_a_window_that_never_holds_its_returns_is_said_so():
    never = "v: {realized_volatility: {window: 2h, sample: 6m}}"  # a return every 10 min: 13 in 2h of the 16 asked
    [msg] = blind(compile_policy("v >= 150%", interval="5m", signal=never))
    assert msg == ('trigger "soft" reads v, which never has the history it needs (80% of 2h in 6m returns: more than '
                   "its window keeps): the trigger can never fire")
    [msg] = blind(compile_policy("stale > 60s || v >= 150%", interval="5m", signal=never))
    assert msg.endswith("the trigger can fire on stale at once, but never on v")
