"""The API's side of heartbeats and of the polled reads (killswitch/face/api/api.py, beats.py,
api_render.py), against a fake view served on 127.0.0.1: the runner's refusal of a source is
answered with its code (404 ``UNKNOWN_SOURCE``, 409 ``SOURCES_FULL``); an identity past its
bound of sources is refused 403 ``IDENTITY_SOURCES_FULL`` before the runner is asked; and a
check-order is answered while status reads are in flight, their encoding held up."""

from __future__ import annotations

import asyncio
import threading

from killswitch.face.api import beats

from .rig import ORDER, TOKEN, FakeView, run, serve


class Refusing(FakeView):
    """Refuses the sources named junk-* (unknown) and full-* (past the bound), as a runner would."""

    def heartbeats(self, sources, now_ms=None):
        self._record("heartbeats", tuple(sources))
        return {s: ("UNKNOWN_SOURCE: %r is not named; did you mean 'bot-1'?" % s if s.startswith("junk")
                    else f"SOURCES_FULL: 2 heartbeat sources are held (the bound is 2); {s!r} is named but not taken")
                for s in sources if s.startswith(("junk", "full"))}


def test_the_runners_refusal_of_a_source_is_answered_with_its_code_and_reason():
    async def go():
        async with serve(Refusing()) as c:
            ok = await c.post("/v1/heartbeat/bot-1")
            unknown = await c.post("/v1/heartbeat/junk-1")
            full = await c.post("/v1/heartbeat/full-1")
            return ok[0], unknown[:2], full[:2]

    ok, unknown, full = run(go())
    assert ok == 204
    assert unknown == (404, {"error": "UNKNOWN_SOURCE",
                             "reason": "UNKNOWN_SOURCE: 'junk-1' is not named; did you mean 'bot-1'?"})
    assert full[0] == 409 and full[1]["error"] == "SOURCES_FULL" and full[1]["reason"].startswith("SOURCES_FULL: 2 ")


def test_an_identity_past_its_bound_of_sources_is_refused_before_the_runner_is_asked(monkeypatch):
    monkeypatch.setattr(beats, "MAX_SOURCES_PER_IDENTITY", 2)

    async def go():
        async with serve(Refusing()) as c:
            answers = [await c.post(f"/v1/heartbeat/{s}") for s in ("junk-1", "bot-1", "bot-2", "bot-3", "bot-1")]
            return [(status, body.get("error") if isinstance(body, dict) else None)
                    for status, body, _ in answers], c.view.calls

    answers, calls = run(go())
    # junk-1, refused by the runner, does not count; bot-3 is a third source for the one token
    assert answers == [(404, "UNKNOWN_SOURCE"), (204, None), (204, None), (403, "IDENTITY_SOURCES_FULL"),
                       (204, None)]
    assert ("heartbeats", ("bot-3",)) not in calls


class SlowStatus(FakeView):
    """A status whose encoding waits (on the thread that encodes it) until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.encoding = threading.Event()
        view = self

        class Held(dict):
            def items(self):
                view.encoding.set()
                view.release.wait(20)
                return super().items()

        self.held = Held(sources={"bot-1": {"armed": True}})

    def status(self):
        self._record("status")
        return {"dms": self.held}


def test_a_check_order_is_answered_while_status_reads_are_in_flight():
    view = SlowStatus()

    async def go():
        async with serve(view) as c:
            reads = [asyncio.ensure_future(c.get("/v1/status", auth=f"Bearer {TOKEN}")) for _ in range(20)]
            while not view.encoding.is_set():
                await asyncio.sleep(0.01)
            status, decision, _ = await asyncio.wait_for(c.post("/v1/check-order", ORDER, auth=None), 5)
            pending = sum(1 for r in reads if not r.done())
            view.release.set()
            answers = await asyncio.gather(*reads)
            return status, decision, pending, answers

    try:
        status, decision, pending, answers = run(go(), timeout=30)
    finally:
        view.release.set()
    assert status == 200 and decision == {"allow": True, "reason": "ACTIVE"} and pending == 20
    assert {a[0] for a in answers} == {200} and answers[0][1] == {"dms": {"sources": {"bot-1": {"armed": True}}}}
    assert view.names().count("status") == 1  # one view call and one encoding for the twenty reads
