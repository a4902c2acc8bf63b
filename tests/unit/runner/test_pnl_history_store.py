"""The PnL attribution history kept apart from the engine state document.

``pnl_changes`` must turn the stored history into the state's, whatever happened between two
saves (samples added, trimmed, accounts appearing, a history dropped); the runner saves the
document without samples plus those changes, and gets the same history back on a restart, as
a standby following the leader, and on taking over.
"""

from __future__ import annotations

from array import array

from hypothesis import given, settings, strategies as st

from killswitch.engine.state import PnlHistory, State, pnl_changes, pnl_marks
from killswitch.state import PnlSampleRow
from tests.unit.runner.operator.rig import ACCOUNT, GUARD, make, run, start, ticks

WINDOW_MS = 600_000  # attribution over 10 minutes: a sample every 10 s, every other 5 s tick

POLICY = GUARD.replace("  interval: 5s\n", "  interval: 5s\n  attribution: {reference_window: 10m}\n")


def apply(stored: dict, added, kept) -> None:
    """What the store does with a save's changes, over {(window, account): {ts: (keys, values)}}."""
    for w, acct, keep_from in kept:
        rows = stored.get((w, acct), {})
        for ts in [t for t in rows if keep_from is None or t < keep_from]:
            del rows[ts]
    for w, acct, ts, keys, values in added:
        stored.setdefault((w, acct), {})[ts] = (tuple(keys), list(values))


def as_stored(state: State) -> dict:
    return {(w, acct): {ts: (keys, list(values)) for ts, keys, values in q}
            for w, hist in state.pnl.items() for acct, q in hist.accounts.items() if q}


ops = st.lists(st.one_of(
    st.tuples(st.just("sample"), st.sampled_from([60_000, 3_600_000]), st.sampled_from(["a", "b", "c"]),
              st.lists(st.sampled_from(["BTC", "ETH", "SOL"]), unique=True, max_size=3),
              st.floats(-1e6, 1e6, allow_nan=False)),
    st.tuples(st.just("trim"), st.sampled_from([60_000, 3_600_000]), st.sampled_from(["a", "b", "c"]),
              st.integers(0, 3)),
    st.tuples(st.just("drop"), st.sampled_from([60_000, 3_600_000])),
    st.tuples(st.just("save")),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_the_stored_history_follows_the_state_whatever_changed(steps):
    state, stored, marks, ts = State(), {}, {}, 0
    for op in steps:
        ts += 1_000
        if op[0] == "sample":
            _, w, acct, symbols, v = op
            hist = state.pnl.setdefault(w, PnlHistory(w, 1_000))
            hist.add(acct, ts, {(s, "long"): v + i for i, s in enumerate(symbols)})
        elif op[0] == "trim":
            q = state.pnl.get(op[1], PnlHistory(0, 1)).accounts.get(op[2])
            for _ in range(min(op[3], len(q) - 1 if q else 0)):
                q.popleft()
        elif op[0] == "drop":
            state.pnl.pop(op[1], None)
        added, kept = pnl_changes(state, marks)
        if pnl_marks(state) == marks:  # what Book.save skips the walk on: nothing to add or drop
            assert (added, kept) == ([], [])
        if op[0] != "save" and not added and not kept:
            continue
        apply(stored, added, kept)
        marks = pnl_marks(state)
        assert {k: v for k, v in stored.items() if v} == as_stored(state)


def test_nothing_changes_between_sample_steps():
    state = State()
    hist = state.pnl[WINDOW_MS] = PnlHistory(WINDOW_MS, 10_000)
    hist.add("x/a", 1, {("BTC", "long"): 1.0})
    marks = pnl_marks(state)
    assert pnl_changes(state, marks) == ([], [])
    hist.add("x/a", 2, {("BTC", "long"): 2.0})
    hist.accounts["x/a"].popleft()
    added, kept = pnl_changes(state, marks)
    assert [a[:3] for a in added] == [(WINDOW_MS, "x/a", 2)] and kept == [(WINDOW_MS, "x/a", 2)]


def test_a_document_without_samples_and_the_rows_give_the_state_back():
    state = State()
    hist = state.pnl[WINDOW_MS] = PnlHistory(WINDOW_MS, 10_000, next_sample_ms=30)
    for t in (10, 20):
        hist.add("x/a", t, {("BTC", "long"): t * 1.5, ("ETH", "short"): -0.1})
    added, _ = pnl_changes(state, {})
    rows = [PnlSampleRow(w, a, ts, [list(k) for k in keys], values.tolist()) for w, a, ts, keys, values in added]
    doc = state.to_json(pnl_samples=False)
    assert doc["pnl"][str(WINDOW_MS)][3] == {}
    back = State.from_json(doc, rows)
    assert back.to_json() == state.to_json()
    q = back.pnl[WINDOW_MS].accounts["x/a"]
    assert q[0][1] is q[1][1], "samples of the same positions share their keys"
    assert isinstance(q[0][2], array)


def test_samples_in_an_older_document_win_over_rows_of_the_same_account():
    state = State()
    hist = state.pnl[WINDOW_MS] = PnlHistory(WINDOW_MS, 10_000)
    hist.add("x/a", 10, {("BTC", "long"): 1.0})
    rows = [PnlSampleRow(WINDOW_MS, "x/a", 5, [["BTC", "long"]], [9.0]),
            PnlSampleRow(WINDOW_MS, "x/b", 5, [["ETH", "long"]], [2.0]),
            PnlSampleRow(123, "x/a", 5, [["ETH", "long"]], [2.0])]  # a window no history reads
    back = State.from_json(state.to_json(), rows)
    assert [s[0] for s in back.pnl[WINDOW_MS].accounts["x/a"]] == [10]
    assert [s[0] for s in back.pnl[WINDOW_MS].accounts["x/b"]] == [5]
    assert 123 not in back.pnl


# --- through the runner ----------------------------------------------------------------------------------


def saved_rows(w) -> list:
    return w.store.load_engine_state_and_pnl()[1]


def history(parts) -> dict:
    return {str(k): v.to_json() for k, v in parts.book.state.pnl.items()}


def test_the_runner_saves_the_history_apart_and_a_restart_gets_it_back(tmp_path):
    w = make(tmp_path, text=POLICY)
    start(w)
    saves = []
    inner = w.store.save_engine_state

    def spy(doc, digest, fence, **kw):
        saves.append((len(kw.get("pnl_added", ())), len(kw.get("pnl_kept", ()))))
        return inner(doc, digest, fence, **kw)

    w.store.save_engine_state = spy
    ticks(w, 150)  # 750 s: the 10-minute window filled, then trimmed
    doc = w.store.load_engine_state()
    assert doc["engine"]["pnl"][str(WINDOW_MS)][3] == {}, "no sample in the document saved every tick"
    q = w.parts.book.state.pnl[WINDOW_MS].accounts[ACCOUNT]
    assert 60 <= len(q) <= 62
    assert [(r.ts_ms, r.values) for r in saved_rows(w)] == [(ts, list(v)) for ts, _, v in q]
    # a sample every other tick, a row each; no tick in between writes one
    with_samples = [n for n, _ in saves if n]
    assert with_samples and set(with_samples) == {1}
    assert 0.4 * len(saves) <= len(with_samples) <= 0.6 * len(saves), saves
    assert any(k for _, k in saves), "the window's oldest samples were dropped"
    again = make(tmp_path, text=POLICY, engine=w.engine, clock=w.clock)
    assert history(again.parts) == history(w.parts)


def test_an_older_document_with_samples_in_it_moves_them_to_rows(tmp_path):
    w = make(tmp_path, text=POLICY)
    start(w)
    ticks(w, 20)
    before = history(w.parts)
    doc = w.store.load_engine_state()
    doc["engine"] = w.parts.book.state.to_json()  # as a runner before the split saved it
    w.store.save_engine_state(doc, "d", w.parts.lead.fence, pnl_kept=[(WINDOW_MS, ACCOUNT, None)])
    assert saved_rows(w) == []
    again = make(tmp_path, text=POLICY, engine=w.engine, clock=w.clock)
    assert history(again.parts) == before
    start(again)
    ticks(again, 1)
    assert len(saved_rows(again)) == len(again.parts.book.state.pnl[WINDOW_MS].accounts[ACCOUNT])
    assert again.store.load_engine_state()["engine"]["pnl"][str(WINDOW_MS)][3] == {}


def test_a_standby_reads_samples_once_per_step_and_takes_over_with_the_whole_history(tmp_path):
    lead = make(tmp_path, text=POLICY, holder="a")
    start(lead)
    ticks(lead, 3)
    standby = make(tmp_path, text=POLICY, engine=lead.engine, clock=lead.clock, holder="b")
    start(standby)
    assert not standby.parts.lead.leader
    reads = []
    inner = standby.store.load_engine_state_and_pnl

    def spy():
        reads.append(1)
        return inner()

    standby.store.load_engine_state_and_pnl = spy
    for _ in range(40):
        ticks(lead, 1)
        run(standby.parts.book.follow(standby.parts.io, standby.runner.store))
    assert 15 <= len(reads) <= 25, len(reads)  # a step every other tick, not every tick
    assert history(standby.parts) == history(lead.parts)
    # the leader goes; the standby takes over between two steps and carries on with it all
    ticks(lead, 1)
    run(standby.parts.book.follow(standby.parts.io, standby.runner.store))
    lead.clock.advance(60_000)
    assert run(standby.parts.lead.lease(lead.clock()))
    assert history(standby.parts) == history(lead.parts)
