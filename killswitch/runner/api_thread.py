"""The runner's HTTP API, served from a thread of its own.

What it owns: an event loop on a thread of its own that serves an aiohttp application (built by
:func:`killswitch.runner.api.make_app`), started and stopped from the runner's loop. Accepting,
parsing, authenticating and answering requests then never wait for the runner's work (a tick, a
store write), and the runner's loop spends no time on HTTP: the view hands every call back to
the loop its state lives on (:meth:`killswitch.runner.desk.Desk.run_view_call`).

Must not: call into the runner other than through the application's view calls; block the
runner's loop while it starts or stops (both are awaited off it, so that requests in flight can
still be answered by that loop while the server shuts down).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Optional

from aiohttp import web

from .api import start_api, stop_api

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ApiThread:
    def __init__(self, app: web.Application, host: str, port: int):
        self.app = app
        self.host = host
        self.port = port
        self.url: Optional[str] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._site: Optional[web.AppRunner] = None

    async def start(self) -> str:
        """Serve on ``host:port`` (0: a free port); the base URL."""
        return await asyncio.to_thread(self._start)

    async def stop(self) -> None:
        """Close the listening socket and the open connections, then end the thread."""
        await asyncio.to_thread(self._stop)

    def _start(self) -> str:
        loop = self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="killswitch-api", daemon=True)
        self._thread.start()
        try:
            self._site, self.url = asyncio.run_coroutine_threadsafe(
                start_api(self.app, self.host, self.port), loop).result(START_TIMEOUT_S)
        except BaseException:
            self._end_loop()
            raise
        return self.url

    def _stop(self) -> None:
        if self._loop is None:
            return
        try:
            if self._site is not None:
                asyncio.run_coroutine_threadsafe(stop_api(self._site), self._loop).result(STOP_TIMEOUT_S)
        finally:
            self._site = None
            self._end_loop()

    def _end_loop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        if not loop.is_running():
            loop.close()
