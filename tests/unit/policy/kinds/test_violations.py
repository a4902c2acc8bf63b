"""The violation kinds (``gate_refusals``, ``venue_violations``: killswitch/policy/kinds/) and
the counts they read: the engine's tally (killswitch/engine/tally.py) and the runner's counts
between two ticks (killswitch/runner/gate/refusals.py). The language takes them (a typo at its
position, with its close match), a count is per scope instance and window, saved and restored
with the engine's state, and blind — never zero — where it was not counted."""

from __future__ import annotations

import pathlib
import re
import threading
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.compile.compiler import compile_documents
from killswitch.engine.scope import ScopeView
from killswitch.engine.state import State
from killswitch.engine.tally import GATE, MAX_WINDOW_MS, VENUE, Tally
from killswitch.policy.kinds._violations import GATE_CODES, VENUE_CODES
from killswitch.policy.load import load_text
from killswitch.runner.gate.refusals import Counted, refusal_key
from killswitch.runner.gate.request import Decision
from killswitch.runner.watch.enforcement import AUDIT_KIND
from killswitch.runner.watch.limits_watch import LIMIT_VIOLATION
from tests.unit.engine_helpers import policy_text

ONE_STAGE = "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: halted}}]}"
T = 1_772_456_400_000


def compile_signal(sig: str, when: str = "s >= 3"):
    text = policy_text(f"s: {sig}", f't: {{when: "{when}", on_missing_data: hold}}', ONE_STAGE)
    return compile_documents(load_text(text, "p.yaml"))


def test_the_compiled_node_keeps_its_source_window_and_codes():
    graph = compile_signal("{gate_refusals: {window: 1m, codes: [PRICE_COLLAR, MESSAGE_RATE]}}").graph
    [node] = graph.policies[0].signals
    assert node.kind == "gate_refusals"
    assert (node.params.source, node.params.window_ms, node.params.codes) == (GATE, 60_000,
                                                                              ("MESSAGE_RATE", "PRICE_COLLAR"))
    [node] = compile_signal("{venue_violations: {window: 5m}}").graph.policies[0].signals
    assert (node.params.source, node.params.codes) == (VENUE, VENUE_CODES)
    [node] = compile_signal("{gate_refusals: {window: 1m}}").graph.policies[0].signals
    assert "LIMITS_UNKNOWN" not in node.params.codes and "POSITION_LIMIT" in node.params.codes


@pytest.mark.parametrize("sig, when, code, message, hint", [
    ("{gate_refusal: {window: 1m}}", "s >= 3", "KS101", "gate_refusal", "gate_refusals"),
    ("{gate_refusals: {window: 1m, codes: [PRICE_COLAR]}}", "s >= 3", "KS103", 'unknown code "PRICE_COLAR"',
     'did you mean "PRICE_COLLAR"?'),
    ("{venue_violations: {window: 1m, codes: [LOCK_VIOLATIONS]}}", "s >= 3", "KS103",
     'unknown code "LOCK_VIOLATIONS"', 'did you mean "LOCK_VIOLATION"?'),
    ("{gate_refusals: {window: 2h}}", "s >= 3", "KS103", "at most 1h", None),
    ("{gate_refusals: {window: 0s}}", "s >= 3", "KS103", "longer than 0s", None),
    ("{gate_refusals: {window: 1m, codes: []}}", "s >= 3", "KS103", "at least one code", None),
    ("{gate_refusals: {window: 1m}}", "s >= 10%", "KS121", "cannot compare a number with a ratio", None),
], ids=["kind-typo", "code-typo", "venue-code-typo", "window-too-long", "window-zero", "no-codes", "ratio"])
def test_a_mistake_is_reported_with_its_close_match(sig, when, code, message, hint):
    result = compile_signal(sig, when)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert errors, result.diagnostics
    err = errors[0]
    assert err.code == code and message in err.message, err
    if hint is not None:
        assert hint in (err.hint or "") or hint in err.message, err


def test_the_metric_name_typo_in_a_condition_names_the_close_match():
    text = policy_text("refused_1m: {gate_refusals: {window: 1m}}",
                       't: {when: "refused_1n >= 100", on_missing_data: hold}', ONE_STAGE)
    [err] = [d for d in compile_documents(load_text(text, "p.yaml")).diagnostics if d.code == "KS122"]
    assert err.message == 'trigger "t" reads unknown signal "refused_1n"'
    assert (err.hint or "").startswith('did you mean "refused_1m"?')


def test_the_codes_are_those_the_gate_refuses_with():
    """Every code the gate's sources can deny with is one a policy may name, and no other."""
    root = pathlib.Path(__file__).resolve().parents[4] / "killswitch"
    src = "".join(p.read_text() for p in (root / "runner" / "gate").glob("*.py"))
    found = set(re.findall(r'(?:deny\(f?"|Decision\(False, f?")([A-Z_]+)', src))
    limits = set(re.findall(r'^[A-Z_]+ = "([A-Z_]+)"$', (root / "engine" / "limits.py").read_text(), re.M))
    assert found | limits | {"HALTED", "UNKNOWN_ACCOUNT", "UNKNOWN_SCOPE"} == set(GATE_CODES)
    assert set(VENUE_CODES) == {"LOCK_VIOLATION", LIMIT_VIOLATION} and AUDIT_KIND == "lock_violation"


# --- the tally ------------------------------------------------------------------------------------------

def _mine(key):
    return True


def test_a_window_counts_what_came_after_its_start_and_forgets_the_rest():
    t = Tally()
    t.add({}, T)  # counting begins
    key = (GATE, "simulated/a", "bot-a", "BTC/USDT:USDT", "PRICE_COLLAR")
    t.add({key: 3}, T + 60_000)
    t.add({key: 4}, T + 64_500)  # kept at T+65s: to the second, rounded up
    assert t.count(GATE, 60_000, T + 65_000, _mine) == (7.0, None)
    assert t.count(GATE, 60_000, T + 120_000, _mine) == (4.0, None)  # the 3 at T+60s are out (ts > start)
    assert t.count(GATE, 60_000, T + 125_000, _mine) == (0.0, None)
    assert t.count(VENUE, 60_000, T + 65_000, _mine) == (0.0, None)
    assert t.count(GATE, 60_000, T + 65_000, _mine, ("MESSAGE_RATE",)) == (0.0, None)
    t.add({}, T + MAX_WINDOW_MS + 70_000)
    assert t.counts == {}  # older than the longest window: forgotten


def test_a_window_reaching_back_before_counting_began_is_blind_not_zero():
    t = Tally()
    assert t.count(GATE, 60_000, T, _mine)[1].startswith("UNCOUNTED")  # never counted
    t.add({}, T)
    value, why = t.count(GATE, 60_000, T + 59_999, _mine)
    assert value is None and why.startswith("UNCOUNTED")
    assert t.count(GATE, 60_000, T + 60_000, _mine) == (0.0, None)


def test_a_dropped_count_blinds_the_windows_it_falls_in():
    t = Tally()
    t.add({}, T)
    t.add({}, T + 120_000, dropped=True)
    assert t.count(GATE, 60_000, T + 121_000, _mine)[1].startswith("TALLY_FULL")
    assert t.count(GATE, 60_000, T + 180_000, _mine) == (0.0, None)


def test_the_tally_is_saved_and_restored_with_the_engine_state():
    state = State()
    key = (VENUE, "simulated/a", "bot-a", "ETH/USDT:USDT", "LIMIT_VIOLATION")
    state.tally.add({}, T)
    state.tally.add({key: 2}, T + 70_000)
    back = State.from_json(state.to_json())
    assert back.tally == state.tally
    assert back.tally.count(VENUE, 60_000, T + 70_000, _mine) == (2.0, None)
    older = state.to_json()
    del older["tally"]  # a document saved before the counts were kept: not counted yet, blind
    assert State.from_json(older).tally.since_ms is None
    assert "tally" not in State().to_json()  # nothing counted yet: nothing written


events = st.lists(st.tuples(st.integers(0, 7_200_000), st.sampled_from(["a", "b"]), st.integers(1, 50)),
                  max_size=40)


@settings(max_examples=60, deadline=None)
@given(events, st.integers(1, 3_600_000), st.integers(0, 7_200_000))
def test_a_count_is_the_sum_of_what_was_handed_in_within_the_window(evs, window, at):
    """Whatever is handed in at which ticks, a count read at a tick is the sum over the window,
    through a save and a restore, or blind when counting began inside the window."""
    t = Tally()
    t.add({}, T)
    handed = []
    for ts, strategy, n in sorted(evs):
        key = (GATE, "simulated/a", strategy, "BTC/USDT:USDT", "PRICE_COLLAR")
        t.add({key: n}, T + ts)
        handed.append((T + ts, strategy, n))
    now = max([T + at] + [ts for ts, _, _ in handed])
    t = Tally.from_json(t.to_json())
    t.add({}, now)
    value, why = t.count(GATE, window, now, lambda k: k[2] == "a")
    if now - window < T:
        assert value is None and why.startswith("UNCOUNTED")
        return
    # kept to the second, rounded up: a window holds at most one second more, never less
    exact = sum(n for ts, s, n in handed if s == "a" and ts > now - window)
    loose = sum(n for ts, s, n in handed if s == "a" and ts > now - window - 1_000)
    assert exact <= value <= loose


# --- an instance's own -----------------------------------------------------------------------------------

def test_an_instance_counts_its_accounts_strategies_and_symbols():
    acct = ScopeView("simulated/a", accounts=frozenset({"simulated/a"}))
    strat = ScopeView("bot-a", accounts=frozenset({"simulated/a"}), whole_accounts=False,
                      strategies=frozenset({"bot-a"}))
    k = (GATE, "simulated/a", "bot-a", "BTC/USDT:USDT", "PRICE_COLLAR")
    assert acct.owns_violation(k) and strat.owns_violation(k)
    assert not acct.owns_violation((GATE, "simulated/b", "bot-a", "BTC/USDT:USDT", "PRICE_COLLAR"))
    assert not strat.owns_violation((GATE, "simulated/a", "bot-b", "BTC/USDT:USDT", "PRICE_COLLAR"))
    assert not strat.owns_violation((GATE, "simulated/a", "-", "BTC/USDT:USDT", "PRICE_COLLAR"))
    none = (GATE, "", "bot-a", "BTC/USDT:USDT", "PRICE_COLLAR")  # the request named no account
    assert strat.owns_violation(none) and not acct.owns_violation(none)


# --- the runner's counts between two ticks -----------------------------------------------------------

def test_a_refusal_is_counted_under_its_account_strategy_symbol_and_code():
    req = {"account": "simulated/a", "strategy": "bot-a", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1}
    assert refusal_key(req, "PRICE_COLLAR: price 66000 ...") == (GATE, "simulated/a", "bot-a", "BTC/USDT:USDT",
                                                                "PRICE_COLLAR")
    assert refusal_key({"scope": "simulated/b", "symbol": "X"}, "HALTED: ...")[1:3] == ("simulated/b", "-")
    assert refusal_key({"scope": "futures-desk", "symbol": "X"}, "HALTED: ...")[1] == ""
    assert refusal_key(req, "GATE_VIEW_STALE: ...") is None  # the runner's own, not the bot's
    assert refusal_key("not a mapping", "BAD_REQUEST: ...") == (GATE, "", "-", "", "BAD_REQUEST")
    assert refusal_key({**req, "strategy": "x" * 300}, "HALTED")[2] == "-"  # text the gate refuses is no key


def test_a_refusal_of_several_limits_counts_once_under_each_of_its_codes():
    req = {"account": "simulated/a", "strategy": "bot-a", "symbol": "S", "side": "buy", "amount": 1}
    limit = {"code": "PRICE_COLLAR", "breaches": [{"code": "PRICE_COLLAR"}, {"code": "LIMIT_ORDER_QUANTITY"},
                                                  {"code": "LIMIT_ORDER_NOTIONAL"}]}
    c = Counted()
    c.refused(req, Decision(False, "PRICE_COLLAR: ...; LIMIT_ORDER_QUANTITY: ...; LIMIT_ORDER_NOTIONAL: ...", limit))
    counts, _ = c.drain()
    key = (GATE, "simulated/a", "bot-a", "S", "PRICE_COLLAR+LIMIT_ORDER_QUANTITY+LIMIT_ORDER_NOTIONAL")
    assert counts == {key: 1}
    tally = Tally()
    tally.add({}, T - 120_000)
    tally.add(counts, T)
    every = lambda k: True  # noqa: E731
    assert tally.count(GATE, 60_000, T, every, ("LIMIT_ORDER_QUANTITY",)) == (1.0, None)  # not only the first code
    assert tally.count(GATE, 60_000, T, every, ("LIMIT_ORDER_NOTIONAL", "PRICE_COLLAR")) == (1.0, None)  # once
    assert tally.count(GATE, 60_000, T, every, None) == (1.0, None)
    assert tally.count(GATE, 60_000, T, every, ("MESSAGE_RATE",)) == (0.0, None)


def test_counts_are_drained_once_and_a_full_counter_says_so():
    c = Counted(max_keys=2)
    req = {"account": "simulated/a", "symbol": "S", "strategy": "bot-a"}
    c.refused(req, Decision(True, "ACTIVE"))  # an allow is not counted
    for _ in range(3):
        c.refused(req, Decision(False, "PRICE_COLLAR: ..."))
    c.violated("simulated/a", "bot-a", "S", "LIMIT_VIOLATION")
    c.refused({**req, "strategy": "bot-c"}, Decision(False, "PRICE_COLLAR: ..."))  # a third key: no room
    counts, dropped = c.drain()
    assert counts == {(GATE, "simulated/a", "bot-a", "S", "PRICE_COLLAR"): 3,
                      (VENUE, "simulated/a", "bot-a", "S", "LIMIT_VIOLATION"): 1}
    assert dropped and (c.refusals, c.violations) == (4, 1)
    assert c.drain() == ({}, False)


def test_refusals_on_many_threads_are_each_counted():
    c = Counted()
    req = {"account": "simulated/a", "symbol": "S", "strategy": "bot-a"}

    def work():
        for _ in range(2_000):
            c.refused(req, Decision(False, "MESSAGE_RATE: ..."))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert c.drain()[0] == {(GATE, "simulated/a", "bot-a", "S", "MESSAGE_RATE"): 8_000}


# --- a recording's counts ------------------------------------------------------------------------------

def test_a_recording_carries_the_counts_or_leaves_them_blind():
    import io
    import json

    from killswitch.preview.replay import ReplayError, read_ticks

    snap = {"venue": "v", "account": "a", "market_type": "futures", "ts_event": T, "equity": 1.0,
            "fetch": {"ok": True}}
    line = {"now": T, "snapshots": [snap], "violations": [
        {"code": "PRICE_COLLAR", "count": 40, "account": "v/a", "strategy": "bot-a", "symbol": "S"},
        {"code": "LOCK_VIOLATION", "count": 2}]}
    [tick] = read_ticks(io.StringIO(json.dumps(line)))
    assert tick.violations == {(GATE, "v/a", "bot-a", "S", "PRICE_COLLAR"): 40,
                               (VENUE, "", "-", "", "LOCK_VIOLATION"): 2}
    [tick] = read_ticks(io.StringIO(json.dumps({"now": T, "snapshots": [snap]})))
    assert tick.violations is None  # not counted: the tally never begins
    for bad in ([{"code": "PRICE_COLAR", "count": 1}], [{"code": "HALTED", "count": -1}], {"code": "HALTED"},
                [{"code": "HALTED", "count": 1, "extra": 1}]):
        with pytest.raises(ReplayError, match="violations"):
            list(read_ticks(io.StringIO(json.dumps({**line, "violations": bad}))))


def test_a_tally_not_yet_counting_is_blind_only_for_a_policy_that_reads_it_and_says_when_in_utc():
    from killswitch.engine.tally import Tally
    from killswitch.face.readout.readout import counts_read

    t = Tally()
    t.add({}, 1_772_456_460_000, 0)  # counting begins at this tick
    shown = t.shown(1_772_456_470_000)
    assert shown["blind"].startswith("UNCOUNTED: violations counted since 2026-03-02T13:01:00Z, after"), shown
    assert t.shown(1_772_456_470_000, read=False)["blind"] is None
    ks = SimpleNamespace(policies=[SimpleNamespace(signals=[SimpleNamespace(kind="drawdown")])])
    assert not counts_read(ks)
    ks.policies[0].signals.append(SimpleNamespace(kind="gate_refusals"))
    assert counts_read(ks)
