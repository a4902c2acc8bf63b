"""The dead man's switch as the runner's status shows it (killswitch/runner/effects/countdowns.py
``summarised``, through ``Desk.status``): the most urgent sources only — fired, then a halt a
firing left, then armed by the time left —, the watched sources never heard from, and a summary
that counts every kind and says where every one is read; ``GET /v1/status?dms=all`` and ``GET
/v1/dms`` list every one. At the bound (1,024 armed switches) the status stays the size of a few
sources. ``ksctl status`` says how many were left out and how to see them."""

from __future__ import annotations

import asyncio

import pytest

from killswitch.client import DmsStatus, DmsSummary, dms_of
from killswitch.face.api.render import encode
from killswitch.render.dms import dms_lines
from killswitch.runner.book.dms_state import SourceStatus
from killswitch.runner.effects import beat_sources
from killswitch.view.decode import decode
from killswitch.view.dms import DMS_ALL, DMS_SHOWN, summarised
from tests.unit.face.api.rig import TOKEN, FakeView, run as run_api, serve
from tests.unit.runner.operator.rig import make, start


def armed(fires_in_s: float) -> SourceStatus:
    return SourceStatus(True, 1.0, fires_in_s, False, 300.0)


STATES = {
    "a-quiet": SourceStatus(False, 5.0, None, False, None),  # heard from, not armed
    "b-soon": armed(3.0),
    "c-later": armed(200.0),
    "d-fired": SourceStatus(True, 400.0, None, True, 300.0),
    "e-halt-left": SourceStatus(False, 2.0, None, False, None),  # disarmed; its firing's halt stays
    "f-soonest": armed(1.0),
}
WATCHED = {**{name: ["policy p"] for name in STATES}, "y-silent": ["accounts"], "x-silent": ["policy p"]}


def doc() -> dict:
    return {"format_version": 1, "listening_since_ts": "2026-11-27T00:00:00.000Z", "sources": {}, "native": {},
            "refused": {}, "watched": dict(WATCHED)}


@pytest.mark.parametrize("shown, listed, never", [
    (3, ["d-fired", "e-halt-left", "f-soonest"], ["x-silent", "y-silent"]),
    (5, ["d-fired", "e-halt-left", "f-soonest", "b-soon", "c-later"], ["x-silent", "y-silent"]),
    (1, ["d-fired"], ["x-silent"]),
    (20, ["d-fired", "e-halt-left", "f-soonest", "b-soon", "c-later", "a-quiet"], ["x-silent", "y-silent"]),
])
def test_the_status_lists_the_most_urgent_sources_and_counts_them_all(shown, listed, never):
    out = summarised(doc(), STATES, {"d-fired", "e-halt-left"}, shown)
    assert list(out["sources"]) == listed
    assert list(out["watched"]) == never and out["watched"] == {name: WATCHED[name] for name in never}
    assert out["sources"]["d-fired"]["locked"] is True and out["sources"]["d-fired"]["fired"] is True
    assert out["summary"] == {"sources": 6, "armed": 4, "fired": 1, "locked": 2, "watched": 8, "never_heard": 2,
                              "shown": len(listed), "never_heard_shown": len(never), "soonest": "f-soonest",
                              "soonest_fires_in_s": 1.0, "all": DMS_ALL}
    summary = decode(DmsStatus, out).summary
    assert summary is not None and summary.partial is (shown < 6)


def test_a_switch_with_nothing_armed_has_no_soonest():
    out = summarised(doc(), {"a-quiet": STATES["a-quiet"]}, set(), DMS_SHOWN)
    assert out["summary"]["soonest"] is None and out["summary"]["soonest_fires_in_s"] is None
    assert out["summary"]["armed"] == 0 and out["summary"]["sources"] == 1


@pytest.mark.slow
def test_at_the_bound_of_armed_switches_the_status_lists_a_few_and_counts_every_one(tmp_path, monkeypatch):
    monkeypatch.setattr(beat_sources, "MAX_SOURCES", 1024)
    w = make(tmp_path)
    start(w)
    names = [f"bot-{i:04d}" for i in range(1024)]

    async def arm_all():
        for i, name in enumerate(names):
            assert (await w.desk.dms_arm(name, 600 + i, actor="alice")).done
            await w.desk.heartbeats([name])

    asyncio.run(asyncio.wait_for(arm_all(), 180))  # 2,048 store calls: a loaded machine's pace, not a bound
    st, whole = w.desk.status(), w.desk.status_all()
    summary = dms_of(st).summary
    assert summary is not None and summary.partial
    assert (summary.sources, summary.armed, summary.fired, summary.shown) == (1024, 1024, 0, DMS_SHOWN)
    assert summary.soonest == "bot-0000" and summary.all == "/v1/status?dms=all"
    assert list(st.dms["sources"]) == names[:DMS_SHOWN]  # the soonest to fire first
    assert len(whole.dms["sources"]) == 1024 and whole.dms["summary"] is None
    assert whole.dms == w.desk.dms_status() | {"listening_since_ts": whole.dms["listening_since_ts"]}
    # the status's switch is the size of twenty sources, not of a thousand
    assert len(encode(st.dms)) < 8 * 1024 < 100 * 1024 < len(encode(whole.dms))


class Statuses(FakeView):
    def status(self):
        self._record("status")
        return {"dms": {"summary": {"sources": 2, "shown": 1}}}

    def status_all(self):
        self._record("status_all")
        return {"dms": {"summary": None}}


@pytest.mark.parametrize("query, answer, called", [
    ("", 200, "status"),
    ("?dms=all", 200, "status_all"),
    ("?dms=some", 400, None),
    ("?dms=all&dms=all", 400, None),
    ("?page=2", 400, None),
])
def test_the_status_is_summarised_unless_asked_for_every_source(query, answer, called):
    async def go():
        async with serve(Statuses()) as c:
            status, body, _ = await c.get("/v1/status" + query, auth=f"Bearer {TOKEN}")
            return status, body, c.view.names()

    status, body, calls = run_api(go())
    assert status == answer and calls == ([called] if called else [])
    if answer == 400:
        assert body["error"] == "BAD_REQUEST"


def test_ksctl_status_says_how_many_were_left_out_and_how_to_see_every_one():
    partial = DmsStatus(summary=DmsSummary(sources=1024, armed=1000, fired=2, locked=1, watched=1030,
                                           never_heard=6, shown=20, never_heard_shown=6, soonest="bot-0007",
                                           soonest_fires_in_s=12.5))
    whole = DmsStatus(summary=DmsSummary(sources=3, armed=3, shown=3, watched=3))
    assert dms_lines(partial)[0] == (
        "  dms: 20 of 1,024 sources listed, the most urgent (1,000 armed, 2 fired, 1 halting trading; the soonest "
        "to fire: bot-0007 in 12.5s); 6 of 6 watched sources never heard listed; every one: ksctl status --dms-all "
        "(GET /v1/status?dms=all) or ksctl dms status")
    assert dms_lines(whole) == [] and dms_lines(DmsStatus()) == []
