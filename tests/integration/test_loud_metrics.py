"""What an alerting system can watch (issue 28, finding 6): the runner through the flash crash on
the simulated exchange, then ``/metrics`` read for the families main did not have — build and
graph info, the reload state that holds until a good reload, the lock binding each scope, each
trigger's state, each signal's value against its threshold, and the process's own — each with
HELP and TYPE as the text format wants."""

from __future__ import annotations

import asyncio

from killswitch.metrics import parse_families
from killswitch.runner.tick.reload import GraphReload
from tests.integration.runner.rig import T0, TICK_MS, graph, parts_of, setup
from tests.integration.test_metrics_page import families_of


def samples(fams: dict, name: str) -> list[str]:
    assert name in fams, f"{name} is not on the page"
    return fams[name]["samples"]


def value(fams: dict, name: str, **labels: str) -> float:
    want = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
    for line in samples(fams, name):
        head, _, v = line.rpartition(" ")
        if head == name + want:
            return float(v)
    raise AssertionError(f"no {name}{want} in {samples(fams, name)}")


def test_the_page_shows_what_runs_what_is_locked_what_fires_and_the_signals_against_their_thresholds(tmp_path):
    runner, _, clock, store, _, desk = setup(tmp_path)
    parts = parts_of(runner)

    async def go():
        await runner.start()
        calm = families_of(desk.metrics_text())  # after start, before any tick
        for _ in range(60):  # the crash: stage 3 flatten, halted
            clock.advance(TICK_MS)
            await runner.tick()
        return calm, families_of(desk.metrics_text())

    calm, fams = asyncio.run(asyncio.wait_for(go(), 60))
    g = parts.book.graph
    assert samples(fams, "killswitch_build_info") == [
        f'killswitch_build_info{{graph_digest="{g.digest}",revision="",version="0.1.0"}} 1.0']
    assert samples(calm, "killswitch_lock_state") == []  # nothing locked: no series
    assert samples(fams, "killswitch_lock_state") == [
        'killswitch_lock_state{mode="halted",scope="simulated/sim-main"} 1.0']
    scope = {"policy": "crash-ladder", "scope": "simulated/sim-main"}
    for trigger in ("soft", "harder", "hard"):
        assert value(fams, "killswitch_trigger_firing", **scope, trigger=trigger) in (0, 1)
    assert value(fams, "killswitch_trigger_firing", **scope, trigger="hard") == 1
    dd = value(fams, "killswitch_signal_value", **scope, signal="dd")
    limit = value(fams, "killswitch_trigger_threshold", **scope, trigger="hard", signal="dd", op=">=")
    assert limit == 0.04 and dd >= limit  # the value against its limit, in one unit
    assert value(fams, "killswitch_trigger_threshold", **scope, trigger="soft", signal="dd", op=">=") == 0.01
    for name in ("killswitch_build_info", "killswitch_lock_state", "killswitch_trigger_firing",
                 "killswitch_signal_value", "killswitch_trigger_threshold", "killswitch_config_last_reload_successful",
                 "killswitch_config_last_reload_success_timestamp_seconds", "process_resident_memory_bytes",
                 "process_open_fds", "process_start_time_seconds"):
        assert fams[name]["type"] == "gauge", name
    assert fams["process_cpu_seconds_total"]["type"] == "counter"
    assert value(fams, "process_resident_memory_bytes") > 10_000_000  # a Python process with its libraries
    assert 0 < value(fams, "process_open_fds") <= value(fams, "process_max_fds")
    store.close()


def test_a_failed_reload_holds_the_gauge_at_0_until_a_good_one(tmp_path):
    runner, _, clock, store, _, desk = setup(tmp_path)

    def page() -> dict:
        return parse_families(desk.metrics_text())

    async def go():
        await runner.start()
        ok = page()
        clock.advance(60_000)
        await runner.apply_graph(GraphReload(None, "policies/p.yaml:1:1: error[KS001]: broken", 1))
        broken = page()
        clock.advance(TICK_MS)
        await runner.tick()  # ticks go on with the last good graph; the gauge stays at 0
        still = page()
        st = desk.status()
        clock.advance(60_000)
        await runner.apply_graph(GraphReload(graph()))
        return ok, broken, still, st, page(), desk.status()

    ok, broken, still, st, fixed, after = asyncio.run(asyncio.wait_for(go(), 60))
    good = "killswitch_config_last_reload_successful"
    when = "killswitch_config_last_reload_success_timestamp_seconds"
    assert value(ok, good) == 1 and value(ok, when) == T0 / 1000
    assert value(broken, good) == 0 and value(still, good) == 0
    assert value(still, when) == T0 / 1000  # the graph in force is still the one loaded at start
    assert not st.reload_ok and st.reload_failed_ms == T0 + 60_000 and st.last_good_reload_ms == T0
    assert value(fixed, good) == 1 and value(fixed, when) == (T0 + 125_000) / 1000
    assert after.reload_ok and after.reload_failed_ms is None and after.last_good_reload_ms == T0 + 125_000
    store.close()
