"""The charts through the runner: samples stored at every tick a leader evaluates, read back as
``GET /v1/charts/{policy}/{scope}`` (SVG or JSON) by a viewer, with the policy's thresholds and
the stage entries of the audit trail; a restart draws the same history from the store; a
standby stores nothing; unknown names and bad parameters are refused with a reason code."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest

from killswitch.runner.lock.lock import iso_ms
from killswitch.runner.sinks.charts import RETENTION_MS
from tests.unit.face.console.test_console import ALICE, VERA, Api
from tests.unit.runner.operator.rig import ACCOUNT, T0, TICK_MS, make

SVG = "{http://www.w3.org/2000/svg}"

DRAWDOWN = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: book-drawdown}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 10m, min_coverage: 5%}}
        slow: {equity_drawdown: {window: 1h, min_coverage: 90%}}
      triggers:
        deep: {when: "dd >= 5%", on_missing_data: hold}
        slow_deep: {when: "slow >= 8%", on_missing_data: hold}
      stages:
        - {level: 2, name: trim, on: [deep], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 1, fraction: 50%}}]}
    """
)
PATH = f"/v1/charts/book-drawdown/{ACCOUNT}"


def run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(asyncio.wait_for(coro, 60))


def ticks(w: Any, n: int) -> list:
    async def go() -> list:
        out = []
        for _ in range(n):
            w.clock.advance(TICK_MS)
            out.append(await w.runner.tick())
        return out
    return run(go())


def crash(w: Any) -> None:
    """A flash crash: the long legs lose a fifth of their price at once."""
    for symbol, price in {"BTCUSDT": 48_000.0, "ETHUSDT": 2_400.0}.items():
        w.engine.set_mark(symbol, price)


def get(w: Any, path: str, token: Any = VERA) -> tuple[int, Any, Any]:
    async def go() -> tuple[int, Any, Any]:
        async with Api(w) as api:
            return await api.get(path, token)
    return run(go())


@pytest.fixture
def w(tmp_path):
    w = make(tmp_path, text=DRAWDOWN)
    run(w.runner.start())
    yield w
    run(w.runner.aclose())
    w.store.close()


def test_every_led_tick_stores_the_values_the_triggers_compared(w):
    reports = ticks(w, 10)
    crash(w)
    reports += ticks(w, 2)
    status, doc, _ = get(w, PATH + "?format=json")
    assert status == 200
    panels = {p["name"]: p for p in doc["panels"]}
    assert list(panels) == ["equity", "dd", "slow"]
    evaluated = [(r.evaluation.now_ms, {v.name: v.value for v in r.evaluation.scopes[0].signals},
                  r.evaluation.scopes[0].equity) for r in reports]
    assert [tuple(p) for p in panels["dd"]["points"]] == [(ts, vals["dd"]) for ts, vals, _ in evaluated]
    assert [tuple(p) for p in panels["equity"]["points"]] == [(ts, eq) for ts, _, eq in evaluated]
    # the 1h window is short of its coverage: no value, and the chart says why and until when
    assert all(v is None for _, v in panels["slow"]["points"])
    assert panels["slow"]["note"].startswith("INSUFFICIENT_HISTORY") and panels["slow"]["ready_ms"] > T0
    # the thresholds are the triggers' literals, with the stages they enter
    assert panels["dd"]["thresholds"] == [{"trigger": "deep", "op": ">=", "value": 0.05, "text": "5%",
                                           "stages": ["2 trim"], "points": []}]
    # the crash: the drawdown crossed 5% and the stage was entered, as the audit trail says
    assert max(v for _, v in panels["dd"]["points"] if v is not None) > 0.05
    entry = [m for m in doc["marks"] if m["entered"]]
    assert [(m["to_level"], m["stage"]) for m in entry] == [(2, "trim")]
    assert entry[0]["ts_ms"] == reports[10].now_ms
    assert doc["samples"] == 12 and doc["stage"] == 2 and doc["gaps"] == []


def test_the_svg_draws_the_crossing_the_threshold_and_the_entry(w):
    ticks(w, 10)
    crash(w)
    ticks(w, 2)
    status, body, headers = get(w, PATH)
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    root = ET.fromstring(body)
    desc = root.find(f"{SVG}desc").text
    assert "beyond deep: dd ≥ 5% → stage 2 trim" in desc and "stage 2 trim entered at 13:00:55 UTC" in desc
    thresholds = root.findall(f".//{SVG}g[@class='threshold']")
    assert [t.get("data-trigger") for t in thresholds] == ["deep", "slow_deep"]
    entries = root.findall(f".//{SVG}g[@class='mark entry']")
    assert len(entries) == 1 and entries[0].get("data-level") == "2"


def test_a_restarted_runner_draws_the_history_from_the_store(tmp_path):
    w = make(tmp_path, text=DRAWDOWN)
    run(w.runner.start())
    ticks(w, 10)
    crash(w)
    ticks(w, 1)
    before = get(w, PATH + "?format=json")[1]
    run(w.runner.aclose())
    w.store.close()
    # down for two minutes, then started again on the same database
    w2 = make(tmp_path, text=DRAWDOWN, engine=w.engine, clock=w.clock)
    try:
        run(w2.runner.start())
        w2.clock.advance(120_000)
        ticks(w2, 2)
        after = get(w2, PATH + "?format=json")[1]
    finally:
        run(w2.runner.aclose())
        w2.store.close()
    dd_before = before["panels"][1]["points"]
    dd_after = after["panels"][1]["points"]
    assert dd_after[:len(dd_before)] == dd_before and len(dd_after) == len(dd_before) + 2
    assert [m["ts_ms"] for m in after["marks"]] == [m["ts_ms"] for m in before["marks"]]
    # the two minutes without a runner are a gap, between the last sample and the first after
    assert after["gaps"] == [[dd_before[-1][0], dd_after[len(dd_before)][0]]]


def test_a_scope_without_samples_says_so_and_until_when_it_is_blind(w):
    # one tick as a standby-like reader would see it: nothing stored yet for the instance
    assert get(w, PATH)[0] == 404  # not ticked yet: no instance of the policy is known
    ticks(w, 1)
    run(w.parts.io(w.store.save_signal_samples, [], w.parts.lead.fence, keep_from=T0 + 10 * TICK_MS))
    status, body, _ = get(w, PATH)
    assert status == 200
    root = ET.fromstring(body)
    assert root.get("data-samples") == "0" and root.find(f".//{SVG}path") is None
    empty = root.find(f".//{SVG}text[@class='empty']").text
    assert empty.startswith("No samples yet in this window")
    assert "blind: " in empty and "INSUFFICIENT_HISTORY" in empty and " until 13:" in empty


def test_a_runner_that_does_not_lead_stores_no_sample(w):
    ticks(w, 2)
    ev = w.parts.book.evaluation
    w.parts.lead.leader = False  # deposed: its evaluation is no fact to store
    w.parts.charts.record(replace(ev, now_ms=ev.now_ms + TICK_MS))
    run(w.parts.io(lambda: None))  # (after whatever was queued)
    assert len(w.store.signal_samples("book-drawdown", ACCOUNT, 0)) == 2


def test_samples_past_the_retention_are_dropped(w):
    ticks(w, 2)
    w.clock.advance(RETENTION_MS)
    ticks(w, 1)
    run(w.parts.io(lambda: None))  # the tick's samples are queued behind it, not awaited
    rows = w.store.signal_samples("book-drawdown", ACCOUNT, 0)
    assert [r.ts_ms for r in rows] == [w.clock()]


@pytest.mark.parametrize("path, token, status, code", [
    (PATH, None, 401, "AUTH_REQUIRED"),
    ("/v1/charts/book-drawdown/simulated/nope", VERA, 404, "UNKNOWN_SCOPE"),
    (f"/v1/charts/book-drawdwn/{ACCOUNT}", VERA, 404, "UNKNOWN_POLICY"),
    (PATH + "?hours=0", VERA, 400, "BAD_REQUEST"),
    (PATH + "?hours=13", VERA, 400, "BAD_REQUEST"),
    (PATH + "?hours=nan", VERA, 400, "BAD_REQUEST"),
    (PATH + "?format=png", VERA, 400, "BAD_REQUEST"),
    (PATH + "?since=1", VERA, 400, "BAD_REQUEST"),
])
def test_refusals_name_their_reason(w, path, token, status, code):
    ticks(w, 1)
    got, doc, _ = get(w, path, token)
    assert (got, doc["error"]) == (status, code), doc


def test_an_operator_and_a_viewer_may_read_and_the_window_is_bounded(w):
    ticks(w, 3)
    assert get(w, PATH, ALICE)[0] == 200
    doc = get(w, PATH + "?hours=0.01&format=json")[1]  # 36 s: at least a minute is shown
    assert doc["until_ms"] - doc["since_ms"] <= 60_000 and doc["samples"] == 3
    assert iso_ms(doc["until_ms"]).startswith("2026-03-02T13:00:15")
