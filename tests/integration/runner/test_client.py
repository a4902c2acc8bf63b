"""The typed client against a real runner behind its API: what it decodes, written back out, is the
runner's JSON byte for byte (so ``-o json`` prints what the runner sent), through a close from
queued to settled, a dead man's switch that fires, and the trading lock."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import urllib.request

import pytest

from killswitch.client import DmsSummary, RunnerClient, RunnerError, dms_of
from killswitch.face.api.api import make_app, start_api, stop_api
from tests.integration.runner.rig import T0, TICK_MS, setup

TOKEN = "client-test-token"


class Still:
    """A runner on the calm market behind its API, ticking only when told (so that two reads of
    the same document see the same clock)."""

    def __init__(self, tmp_path):
        from adapters.simulated.engine import ManualClock
        from adapters.simulated.scenarios import build

        clock = ManualClock(T0)
        self.runner, self.engine, self.clock, _, _, self.desk = setup(tmp_path, engine=build("calm", clock),
                                                                      clock=clock)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _do(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def tick(self, n: int = 1) -> None:
        async def go():
            for _ in range(n):
                self.clock.advance(TICK_MS)
                await self.runner.tick()
        self._do(go())

    def __enter__(self):
        self.thread.start()
        self._do(self.runner.start())
        self.tick()
        self.site, self.url = self._do(start_api(make_app(self.desk, token=TOKEN)))
        return self

    def __exit__(self, *exc):
        self._do(stop_api(self.site))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def raw(self, path: str) -> str:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.dumps(json.loads(r.read()), indent=1)


def printed(value) -> str:
    return json.dumps(dataclasses.asdict(value), indent=1)


def test_what_the_client_decodes_is_what_the_runner_sent(tmp_path):
    with Still(tmp_path) as srv:
        client = RunnerClient(srv.url, TOKEN)
        assert printed(client.status()) == srv.raw("/v1/status")
        assert client.dms_arm("bot-a", 5).reason.startswith("DMS_ARMED")
        assert client.lock("simulated/sim-main", "drill", "reducing", 3600).done
        srv.tick(2)  # bot-a fires: its halt shows in the dms, the lock and the status
        d = client.dms_status()
        assert d.sources["bot-a"].fired and d.sources["bot-a"].locked
        assert printed(d) == srv.raw("/v1/dms")
        assert dms_of(client.status(dms_all=True)) == d and printed(client.status()) == srv.raw("/v1/status")
        assert printed(client.status(dms_all=True)) == srv.raw("/v1/status?dms=all")
        summarised = dms_of(client.status())  # one source: every one listed, and counted
        assert summarised.sources == d.sources and summarised.watched == {}
        assert summarised.summary == DmsSummary(sources=1, armed=1, fired=1, locked=1, watched=1, never_heard=0,
                                                shown=1, never_heard_shown=0)
        assert not summarised.summary.partial
        assert json.dumps(client.lock_document(), indent=1) == srv.raw("/v1/lock")
        assert json.dumps(client.lock_document("bot-a"), indent=1) == srv.raw("/v1/lock?scope=bot-a")
        assert client.unlock("simulated/sim-main", "drill over").done

        seen = client.close("simulated/sim-main", "drill", True)
        queued = client.close("simulated/sim-main", "drill", False, preview_id=seen.preview_id,
                              max_notional=seen.max_notional)
        assert queued.accepted and queued.orders > 0 and queued.id
        path = "/v1/close/" + urllib.request.quote(queued.id, safe="")
        p = client.close_progress(queued.id)
        assert p.state == "queued" and not p.final and printed(p) == srv.raw(path)
        for _ in range(10):
            srv.tick()
            p = client.close_progress(queued.id)
            assert printed(p) == srv.raw(path)
            if p.final:
                break
        assert p.state == "settled" and p.settled == p.orders and p.filled + p.unfilled == p.settled


def test_the_runner_s_refusals_carry_their_reason_codes(tmp_path):
    with Still(tmp_path) as srv:
        client = RunnerClient(srv.url, TOKEN)
        for call, status, code in [
            (lambda: client.lock("strategy-x", "r"), 404, "UNKNOWN_SCOPE"),
            (lambda: client.unlock("simulated/sim-main", "r"), 409, "NOT_LOCKED"),
            (lambda: client.dms_disarm("bot-z"), 409, "NOT_ARMED"),
            (lambda: client.close("nope", "r", True), 404, "UNKNOWN_SCOPE"),
            (lambda: client.reset("crash-ladder", "nope", "r"), 404, "UNKNOWN_SCOPE"),
            (lambda: client.close_progress("manual/nope"), 404, "UNKNOWN_CLOSE"),
            (lambda: RunnerClient(srv.url).lock("simulated/sim-main", "r"), 401, "AUTH_REQUIRED"),
            (lambda: RunnerClient(srv.url).status(), 401, "AUTH_REQUIRED"),
        ]:
            with pytest.raises(RunnerError) as e:
                call()
            assert (e.value.status, e.value.code) == (status, code), e.value.reason
            assert TOKEN not in str(e.value) and TOKEN not in json.dumps(e.value.body)
