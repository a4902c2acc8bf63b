"""Which of the API's calls wait for the runner's turn (killswitch/runner/lease/turn.py): every
read (a GET, a preview, an order's check) runs as it comes, never behind a tick held up by the
state store; every change waits for the turn (bounded: ``TURN_WAIT_S``), but for the heartbeat
and the firm-wide kill, which take it themselves where they change the runner's state.

Fails where a read was left to the turn: ``ksctl kill --firm``'s preview during a database pause
waited for a tick held 20 s by the store and the client said the runner could not be reached."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.runner.lease.turn import Turn

TOKEN = "t0ken-for-the-turn-test"
# changes that take the turn themselves where they change the runner's state
TAKE_IT_THEMSELVES = {"heartbeat", "heartbeats", "firm_kill"}


class Recorded(RuntimeError):
    pass


class RecordingView:
    """Any view method: recorded by the name it is called by where the runner would run it
    (``run_view_call``), then refused, so that each route shows the first call it makes."""

    def __init__(self) -> None:
        self.names: list[str] = []

    async def run_view_call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.names.append(fn.__name__)
        raise Recorded(fn.__name__)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Bound(self, name)


class _Bound:
    """A method of the view, as the API hands it to ``run_view_call``."""

    def __init__(self, view: RecordingView, name: str):
        self.__self__ = view
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{self.__name__} called outside run_view_call")


def _is_read(method: str, path: str) -> bool:
    return method == "GET" or "preview" in path or path == "/v1/check-order"


def test_every_read_runs_without_the_turn_and_every_change_in_it():
    view = RecordingView()

    async def main() -> dict[tuple[str, str], list[str]]:
        runner, base = await start_api(make_app(view, token=TOKEN))
        seen: dict[tuple[str, str], list[str]] = {}
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                for route in make_app(view, token=TOKEN).router.routes():
                    method, path = route.method, route.resource.canonical if route.resource else ""
                    if method == "HEAD" or path.startswith("/v1/auth"):
                        continue
                    url = base + re.sub(r"\{[^}]*\}", "x", path)
                    del view.names[:]
                    async with http.request(method, url, json={} if method == "POST" else None) as r:
                        await r.read()
                    seen[(method, path)] = list(view.names)
        finally:
            await stop_api(runner)
        return seen

    seen = asyncio.run(asyncio.wait_for(main(), 30))
    reads = {n for (m, p), names in seen.items() if _is_read(m, p) for n in names}
    changes = {n for (m, p), names in seen.items() if not _is_read(m, p) for n in names}
    assert reads and changes, seen  # the routes were reached and called the view
    assert reads - Turn.WITHOUT_TURN == set(), "reads left to wait for the turn"
    assert (changes & Turn.WITHOUT_TURN) - TAKE_IT_THEMSELVES == set(), "changes made without the turn"


def test_a_change_refused_for_the_turn_is_a_503_that_says_who_holds_it():
    from killswitch.runner.lease.turn import TurnBusy

    class Busy(RecordingView):
        async def run_view_call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
            raise TurnBusy("the tick", 4.2)

    async def main() -> tuple[int, dict]:
        runner, base = await start_api(make_app(Busy(), token=TOKEN))
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                async with http.post(base + "/v1/lock", json={"scope": "global", "mode": "halted",
                                                              "reason": "drill"}) as r:
                    return r.status, await r.json()
        finally:
            await stop_api(runner)

    status, body = asyncio.run(asyncio.wait_for(main(), 30))
    assert status == 503 and body["error"] == "TURN_BUSY", body
    assert body["reason"].startswith("TURN_BUSY: the tick has held the runner's state for 4.2s"), body
