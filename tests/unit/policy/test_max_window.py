"""MaxWindow keeps its sample times as runs of evenly spaced times: it must answer exactly what
a plain list of every sample time inside the window answers, and load what it saved before."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from killswitch.policy.windows import MaxWindow

# ticks: a gap since the previous one (mostly the regular interval, sometimes a missed tick, a
# jitter or none) and whether the value was known (a sample) or not (the window only expires)
ticks = st.lists(st.tuples(st.one_of(st.just(1_000), st.just(1_000), st.just(2_000), st.integers(0, 5_000)),
                           st.booleans()), max_size=200)


@settings(max_examples=300, deadline=None)
@given(ticks, st.integers(1, 20_000))
def test_runs_answer_what_every_sample_time_answers(steps, window):
    w, times, now = MaxWindow(window), [], 10_000
    for i, (gap, known) in enumerate(steps):
        now += gap
        if known:
            w.push(now, float(i % 7))
            times.append(now)
        else:
            w.expire(now)
        inside = [t for t in times if t >= now - window]
        assert w.oldest() == (inside[0] if inside else None)
        assert w.coverage(now) == (0.0 if not inside else max(0.0, min(1.0, (now - inside[0]) / window)))
        assert w.max() == (max(float(j % 7) for j, (g, k) in enumerate(steps[:i + 1]) if k and
                               sum(x for x, _ in steps[j + 1:i + 1]) <= window) if inside else None)
    back = MaxWindow.from_json(json.loads(json.dumps(w.to_json())))
    assert list(back.runs) == list(w.runs) and list(back.peaks) == list(w.peaks)


def test_a_regular_tick_is_one_run_whatever_the_window():
    w = MaxWindow(3_600_000)
    for i in range(10_000):
        w.push(i * 1_000, 1.0)
    assert len(w.runs) == 1 and w.oldest() == 9_999_000 - 3_600_000
    assert len(json.dumps(w.to_json())) < 100


def test_a_window_saved_as_a_list_of_times_loads_the_same():
    w = MaxWindow(10_000)
    for ts in (1_000, 2_000, 3_000, 5_000, 5_500, 6_000, 7_000):
        w.push(ts, 1.0)
    old = [10_000, [list(p) for p in w.peaks], [1_000, 2_000, 3_000, 5_000, 5_500, 6_000, 7_000]]
    back = MaxWindow.from_json(old)
    assert list(back.runs) == list(w.runs) and back.oldest() == 1_000
    # and what is saved now still has the shape an older runner reads: the oldest time first
    assert w.to_json()[2] == [1_000]
