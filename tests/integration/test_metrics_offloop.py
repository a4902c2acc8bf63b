"""``GET /metrics`` of a runner served on a thread of its own (``ksctl run``): the families are
collected on the runner's loop, the text written on a worker thread, so the loop is held for the
collection alone; and the scrape does not wait for the turn an operator's change holds."""

from __future__ import annotations

import asyncio
import threading
import urllib.request

from killswitch import metrics
from killswitch.face.readout import readout
from tests.integration.gate.test_view_runner import make, serving, tick


def get(url: str, path: str) -> str:
    with urllib.request.urlopen(url + path, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def test_the_page_is_collected_on_the_runners_loop_and_written_off_it(tmp_path, monkeypatch):
    w = make(tmp_path)
    where: dict[str, str] = {}
    collect, render = readout.Readout.metrics_page, metrics.CollectedPage.render

    def collecting(self):
        where["collected"] = threading.current_thread().name
        return collect(self)

    def rendering(self):
        where["rendered"] = threading.current_thread().name
        return render(self)

    monkeypatch.setattr(readout.Readout, "metrics_page", collecting)
    monkeypatch.setattr(metrics.CollectedPage, "render", rendering)

    async def go():
        api, url = await serving(w)
        try:
            await w.runner.start()
            await tick(w)
            return threading.current_thread().name, await asyncio.to_thread(get, url, "/metrics")
        finally:
            await api.stop()

    loop_thread, text = asyncio.run(asyncio.wait_for(go(), 60))
    assert "killswitch_ticks_total 1.0" in text and "process_cpu_seconds_total" in text
    assert where["collected"] == loop_thread, where
    assert where["rendered"] not in (loop_thread, "killswitch-api"), where


def test_a_scrape_does_not_wait_for_the_turn_an_operators_change_holds(tmp_path):
    w = make(tmp_path)

    async def go():
        api, url = await serving(w)
        release = asyncio.Event()
        held = asyncio.Event()

        async def slow_change():
            async with w.parts.turn.here():
                held.set()
                await release.wait()

        try:
            await w.runner.start()
            await tick(w)
            change = asyncio.ensure_future(slow_change())
            await held.wait()
            text = await asyncio.wait_for(asyncio.to_thread(get, url, "/metrics"), 10)
            release.set()
            await change
            return text
        finally:
            await api.stop()

    assert "killswitch_leader 1.0" in asyncio.run(asyncio.wait_for(go(), 60))
