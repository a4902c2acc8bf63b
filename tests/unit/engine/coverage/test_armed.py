"""Armed coverage in the pure engine: every policy × scope instance is armed, blind (which
triggers, why, until when) or unmatched, and the README's own example says so from its first tick.
"""

from __future__ import annotations

from pathlib import Path

from killswitch.compile.compiler import compile_documents
from killswitch.engine import coverage as cv
from killswitch.engine.evaluate import evaluate
from killswitch.engine.state import FROZEN_AFTER_MS, State
from tests.unit.engine_helpers import MIN, SEC, compile_graph, failed, only, policy_graph, policy_text, pos, run, snap

ROOT = Path(__file__).resolve().parents[4]


def example_graph(replace: tuple[str, str] = ("", "")):
    """The README's example repository (policies/), with one text replacement in futures-book."""
    sources = []
    for p in sorted((ROOT / "policies").glob("*.yaml")):
        text = p.read_text()
        if p.name == "futures-book.yaml" and replace[0]:
            assert replace[0] in text
            text = text.replace(*replace)
        sources.append((str(p), text))
    return compile_graph(sources)


def futures(ts: int, equity: float = 1_000_000.0, **kw):
    return snap(equity, ts, venue="binanceusdm", account="binance-futures-main",
                labels={"book": "futures", "desk": "crypto"}, positions=[pos(mark=100.0 + ts / 1e9)], **kw)


def test_a_new_runner_is_blind_on_the_example_ladder_and_says_until_when():
    g = example_graph()
    ev, state = evaluate(g, [futures(0)], State(), 0)
    se = only(ev, policy="futures-book")
    c = se.coverage
    assert c.state == cv.BLIND and c.reason == cv.INSUFFICIENT_HISTORY and c.changed
    assert {t.trigger for t in c.triggers} == {"soft", "harder", "hard"}
    assert "dd_1h: INSUFFICIENT_HISTORY: coverage=0% min=80%" in c.detail
    # dd_1h (80% of 1h) is the last to fill: 48 minutes, whatever dd_15m says before
    assert c.until_ms == 48 * MIN
    assert ev.blind and se in ev.blind


def test_the_example_ladder_arms_when_the_windows_fill_and_says_so_once():
    g = example_graph()
    ticks = [(t, [futures(t)]) for t in range(0, 49 * MIN, 5 * SEC)]
    evs, state = run(g, ticks)
    covs = [only(e, policy="futures-book").coverage for e in evs]
    first_armed = next(i for i, c in enumerate(covs) if c.armed)
    assert ticks[first_armed][0] == 48 * MIN  # exactly when it said it would be
    assert all(c.state == cv.BLIND for c in covs[:first_armed])
    assert [i for i, c in enumerate(covs) if c.changed] == [0, first_armed]
    assert covs[-1].since_ms == 48 * MIN
    # a restart from the saved state continues the windows: no blind time at all
    again = State.from_json(state.to_json())
    ev, _ = evaluate(g, [futures(49 * MIN + 5 * SEC)], again, 49 * MIN + 5 * SEC)
    c = only(ev, policy="futures-book").coverage
    assert c.armed and not c.changed and c.since_ms == 48 * MIN


def test_a_typo_in_the_selector_is_unmatched_not_calm():
    # (validate refuses the typo against the declared accounts, KS218; a policy prepared ahead of
    # its account says allow_empty, and the engine still says it protects nothing)
    g = example_graph(("    accounts: {match_labels: {book: futures}}\n",
                       "    accounts: {match_labels: {book: futurs}}\n    allow_empty: true\n"))
    ev, state = evaluate(g, [futures(0)], State(), 0)
    assert not [s for s in ev.scopes if s.policy == "futures-book"]
    (u,) = [u for u in ev.unmatched if u.policy == "futures-book"]
    assert u.selector == "labels{book=futurs}" and u.since_ms == 0 and u.changed
    ev, state = evaluate(g, [futures(5 * SEC)], State.from_json(state.to_json()), 5 * SEC)
    (u,) = [u for u in ev.unmatched if u.policy == "futures-book"]
    assert u.since_ms == 0 and not u.changed  # since is kept across a restart
    # the good selector matches: the entry goes
    ev, state = evaluate(example_graph(), [futures(10 * SEC)], state, 10 * SEC)
    assert not [u for u in ev.unmatched if u.policy == "futures-book"] and "futures-book" not in state.unmatched


def test_an_account_not_read_makes_its_scope_blind_with_the_fetch_reason():
    g = policy_graph("s: {equity_change: {against: initial_capital}}",
                     't: {when: "s <= -5%", on_missing_data: hold}',
                     "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
                     interval="5s")
    evs, _ = run(g, [(0, [snap(10_000.0, 0, initial_capital=10_000.0)]), (5 * SEC, [failed(5 * SEC)])])
    assert only(evs[0]).coverage.armed
    c = only(evs[1]).coverage
    assert c.state == cv.BLIND and c.reason == cv.ACCOUNT_NOT_READ and c.until_ms is None
    assert "simulated/a not read: EXCHANGE_UNAVAILABLE" in c.detail


def test_fire_on_missing_data_is_not_blind_and_ignore_is():
    def graph(rule: str):
        return policy_graph("s: {equity_change: {against: initial_capital}}",
                            f't: {{when: "s <= -5%", on_missing_data: {rule}}}',
                            "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
                            interval="5s")
    for rule, armed in (("fire", True), ("ignore", False), ("hold", False)):
        ev, _ = evaluate(graph(rule), [failed(0)], State(), 0)
        assert only(ev).coverage.armed is armed, rule


def test_a_trigger_no_stage_uses_does_not_make_the_scope_blind():
    g = policy_graph("s: {equity_change: {against: initial_capital}}\nd: {equity_drawdown: {window: 1h}}",
                     't: {when: "s <= -5%", on_missing_data: hold}\nu: {when: "d >= 5%", on_missing_data: hold}',
                     "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
                     interval="5s")
    ev, _ = evaluate(g, [snap(10_000.0, 0, initial_capital=10_000.0)], State(), 0)
    assert only(ev).coverage.armed


def test_a_frozen_feed_makes_book_triggers_blind_but_not_the_data_age_trigger():
    g = policy_graph("s: {equity_change: {against: initial_capital}}\nage: {data_age: {}}",
                     't: {when: "s <= -5%", on_missing_data: hold}\nstale: {when: "age > 10m", on_missing_data: fire}',
                     "- {level: 1, name: one, on: [t, stale], actions: [{lock_trading: {mode: reducing}}]}",
                     interval="5s")
    same = [pos(mark=100.0)]
    ticks = [(t, [snap(10_000.0, t, initial_capital=10_000.0, positions=same)])
             for t in range(0, FROZEN_AFTER_MS + 10 * SEC, 5 * SEC)]
    evs, _ = run(g, ticks)
    assert only(evs[0]).coverage.armed
    c = only(evs[-1]).coverage
    assert c.state == cv.BLIND and c.reason == cv.STALE_DATA
    assert [t.trigger for t in c.triggers] == ["t"] and "frozen feed" in c.detail


def test_old_data_is_stale_after_three_intervals_and_thirty_seconds():
    g = policy_graph("s: {equity_change: {against: initial_capital}}",
                     't: {when: "s <= -5%", on_missing_data: hold}',
                     "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
                     interval="5s")
    # the venue keeps answering with a timestamp 20 s, then 40 s, behind the tick
    evs, _ = run(g, [(20 * SEC, [snap(10_000.0, 0, initial_capital=10_000.0)]),
                     (40 * SEC, [snap(10_000.0, 0, initial_capital=10_000.0)])])
    assert only(evs[0]).coverage.armed
    assert only(evs[1]).coverage.reason == cv.STALE_DATA


def test_blindness_follows_what_a_trigger_reads_not_the_values_so_it_does_not_flap():
    # s is known at once and crosses its threshold back and forth; d needs 30 minutes of history
    g = policy_graph("s: {equity_change: {against: initial_capital}}\n"
                     "d: {equity_drawdown: {window: 1h, min_coverage: 50%}}",
                     't: {when: "s <= -5% || d >= 10%", on_missing_data: hold}',
                     "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
                     interval="5s")
    ticks = [(t, [snap(10_000.0 if (t // (5 * SEC)) % 2 else 9_000.0, t, initial_capital=10_000.0)])
             for t in range(0, 10 * MIN, 5 * SEC)]
    evs, _ = run(g, ticks)
    covs = [only(e).coverage for e in evs]
    assert all(c.state == cv.BLIND for c in covs) and [c.changed for c in covs].count(True) == 1
    assert covs[-1].triggers[0].detail.startswith("d: INSUFFICIENT_HISTORY")


def test_a_global_scope_over_many_accounts_names_three_and_counts_the_rest():
    g = policy_graph("s: {equity_change: {against: initial_capital}}",
                     't: {when: "s <= -5%", on_missing_data: hold}',
                     "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
                     scope="{level: global}", interval="5s")
    ev, _ = evaluate(g, [failed(0, account=f"a{i}") for i in range(100)], State(), 0)
    detail = only(ev).coverage.detail
    assert "simulated/a0 not read: EXCHANGE_UNAVAILABLE, simulated/a1" in detail and "and 97 more" in detail
    assert len(detail) < 400


def test_a_while_blind_mode_or_key_misspelt_is_refused_with_the_close_match():
    from killswitch.policy.load import load_text

    base = policy_text("s: {equity_change: {against: initial_capital}}",
                       't: {when: "s <= -5%", on_missing_data: hold}',
                       "- {level: 1, name: one, on: [t], actions: [close_all]}", interval="5s")
    for extra, code, hint in (("while_blind: {lock_trading: reduce}", "KS103", 'did you mean "reducing"?'),
                              ("while_blnd: {lock_trading: reducing}", "KS101", 'did you mean "while_blind"?')):
        result = compile_documents(load_text(base + "  " + extra + "\n", "p.yaml"))
        assert result.graph is None and [d.code for d in result.errors] == [code], result.errors
        assert hint in result.errors[0].hint
