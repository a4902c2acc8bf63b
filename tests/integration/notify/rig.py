"""The notification rig of the integration tests: a local aiohttp receiver that apprise's
``json://`` pages reach (:class:`ReceiverServer`, failing or hanging on demand), routes built of
YAML, the receipts and audit rows read back, and a wait for a sink's deliveries."""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time
from collections import defaultdict

from aiohttp import web

from killswitch.compile.compiler import compile_documents
from killswitch.notify.sink import NotifySink
from killswitch.policy.load import load_text
from killswitch.policy.routes_doc import NotificationRoutes
from tests.procs import free_port


class ReceiverServer:
    """apprise json:// receivers on 127.0.0.1 in a thread of their own: /hang never answers,
    /fail answers 500, /unauthorized 401, a path named in ``fail_first`` answers 500 to that many
    requests first, any other path records the message and answers 200."""

    def __init__(self, fail_first: dict[str, int] | None = None):
        self.port = free_port()
        self.got: dict[str, list[dict]] = defaultdict(list)
        self.hits: dict[str, int] = defaultdict(int)
        self.fail_first = dict(fail_first or {})
        self._loop = None
        self._stop = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] += 1
        if name == "hang":
            await asyncio.sleep(60)
        if name == "unauthorized":
            return web.Response(status=401)
        if name == "fail" or self.hits[name] <= self.fail_first.get(name, 0):
            return web.Response(status=500)
        self.got[name].append(json.loads(await request.text()))
        return web.Response(text="ok")

    async def _main(self):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self):
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def url(self, name: str) -> str:
        return f"json://127.0.0.1:{self.port}/{name}"


def routes(text: str) -> NotificationRoutes:
    res = compile_documents(load_text(textwrap.dedent(text), "routes.yaml"))
    assert not res.errors, [d.message for d in res.errors]
    return next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes))


def desk_routes(srv: ReceiverServer, *, group_wait: str) -> NotificationRoutes:
    """One receiver, ``desk``, on ``srv``; groups by policy and scope, repeats every 10 minutes.
    The pages saying a scope is blind (the ladder's window fills in its first 30 s) go to a
    receiver of their own, ``watch``, so that ``desk`` carries the stage pages alone."""
    return routes(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route:
            receiver: desk
            group_by: [policy, scope]
            group_wait: {group_wait}
            group_interval: 1m
            repeat_interval: 10m
            routes:
              - {{match: {{event: scope_blind}}, receiver: watch}}
          receivers:
            - {{name: desk, apprise: ["{srv.url('desk')}"]}}
            - {{name: watch, apprise: ["{srv.url('watch')}"]}}
        """)


class Receipts:
    """The runner's receipt writer as a sink with no runner has it: each row appended to ``store``
    unfenced, as a runner that never led writes its own."""

    def __init__(self, store):
        self.store = store

    def audit_receipt(self, kind: str, ts_ms: int, payload: dict) -> int:
        return self.store.audit(kind, ts_ms, payload)


def audit(store, *kinds) -> list[tuple[str, int, dict]]:
    """(kind, ts, payload) of the audit rows of these kinds, in chain order."""
    if hasattr(store, "audit_rows"):
        return [(r.kind, r.ts_ms, r.payload) for r in store.audit_rows(kinds=list(kinds), limit=10_000)]
    with store._tx(write=False) as cur:  # a store without a reader yet: the table itself
        rows = cur.execute("SELECT kind, ts_ms, payload FROM audit_log ORDER BY seq").fetchall()
    return [(k, ts, json.loads(p)) for k, ts, p in rows if k in kinds]


class Steps:
    """The sink worker's steps, counted as each ends: a test waits for the step after what it
    did (a tick, a restore), in which the worker routes what is queued and flushes what is due."""

    def __init__(self, sink: NotifySink):
        self.done = 0
        self.sink = sink
        self.stepped = asyncio.Event()
        step = sink._step

        def counted(*args, **kwargs):
            try:
                step(*args, **kwargs)
            finally:
                self.done += 1
                self.stepped.set()
        sink._step = counted  # type: ignore[method-assign]

    async def next(self) -> None:
        """The worker woken (as an event queued for it wakes it) and its next step waited for:
        left to its poll (``poll_s``, 50 ms here), each tick of a test waited that long in real
        time, and a few hundred ticks took seconds; the fake clock a step reads is the same."""
        seen = self.done

        async def stepped() -> None:
            while self.done <= seen:
                self.stepped.clear()
                self.sink._wake()
                await self.stepped.wait()

        try:
            await asyncio.wait_for(stepped(), 60)
        except asyncio.TimeoutError:
            raise AssertionError("gave up waiting: the notify worker's next step") from None


async def deliveries_done(sink: NotifySink, budget_s: float) -> None:
    """Wait (real time) until the sink has no delivery queued or in flight, at most ``budget_s``.

    The runner's clock here is a fake one that the test moves by 5-30 s a tick, while deliveries
    take real time in apprise's thread. Sleeping a fixed 10 ms between ticks let a slow delivery
    (a loaded machine) span several fake ticks, so its receipt was stamped 30 s or 60 s late and
    the time bounds failed for a reason that is not the sink's. Waiting for the deliveries to end
    before the clock moves on makes the fake time at which a page lands deterministic; the budget
    is what a delivery may take by its own options (attempts of timeout_s each), so a hung sink
    still fails the test instead of hanging it."""
    deadline = time.monotonic() + budget_s
    while sink._deliveries or sink._tasks:
        if time.monotonic() > deadline:
            return  # the assertions that follow say what was (not) delivered
        await asyncio.sleep(0.01)
