"""The rig of the runner's HTTP API's tests (killswitch/face/api/api.py): a hand-written fake
RunnerView that records every call, the API served for real on 127.0.0.1 (start_api on port 0)
and an aiohttp client of it, with the bodies the tests send.

Every test runs its coroutine under a time bound (``run``)."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any, Optional

import aiohttp
import yarl
from aiohttp import web

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.runner.gate.request import Decision
from killswitch.view import ChangeResult, CloseResult, ResetResult, RunnerStatus, ScopeStatus, SilenceResult

TOKEN = "s3cr3t-T0ken.for_tests"
TEST_TIMEOUT_S = 15.0


def run(coro, timeout: float = TEST_TIMEOUT_S):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Boom(RuntimeError):
    pass


class FakeView:
    """A RunnerView that answers from fields and records every call; a method named in
    ``fail`` raises (with the token in its message, to prove it never reaches a body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.fail: set[str] = set()
        self.ready_answer: tuple[bool, str] = (True, "READY: leader")
        self.reset_answer = ResetResult(True, "MANUAL_RESET: ok")
        self.close_answer = CloseResult(True, "CLOSE_QUEUED", orders=3, id="manual/binance/main/m1")
        self.change_answer = ChangeResult(True, "DONE: test")
        self.silence_answer = SilenceResult(True, "SILENCED: test")
        self.actors: list[Optional[str]] = []  # who the API said made each change

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.fail:
            raise Boom(f"{name} exploded; token={TOKEN}")

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]

    def status(self) -> RunnerStatus:
        self._record("status")
        return RunnerStatus(mode="dry-run", leader=True, fence=7, graph_digest="sha256:abc", graph_revision="r1",
                            policy_error=None, last_tick_ms=1_772_456_400_000,
                            scopes=(ScopeStatus("p1", "binance/main", 2, "reduce", True, ("alice",), 2, 123),),
                            data_age_s={"binance/main": 1.5, "never": float("inf")})

    def ready(self) -> tuple[bool, str]:
        self._record("ready")
        return self.ready_answer

    def lock_document(self, scope: Optional[str] = None) -> dict:
        self._record("lock_document", scope)
        return {"format_version": 1, "locked": False, "mode": "active", "scope": scope, "scopes": {}}

    def check_order(self, request: dict) -> Decision:
        self._record("check_order", request)
        return Decision(request.get("side") == "sell", "ACTIVE" if request.get("side") == "sell" else "HALTED: test")

    def heartbeat(self, source: str, now_ms: Optional[int] = None) -> None:
        self._record("heartbeat", source, now_ms)

    def heartbeats(self, sources, now_ms: Optional[int] = None) -> None:  # the API's coalesced beats
        for source in sources:
            self.heartbeat(source, now_ms)

    def reset(self, policy: str, scope: str, approver: str, reason: str,
              confirm_relatch: bool = False) -> ResetResult:
        self._record("reset", policy, scope, approver, reason)
        return self.reset_answer

    def close(self, scope: str, reason: str, dry_run: bool, *, actor: Optional[str] = None) -> CloseResult:
        self._record("close", scope, reason, dry_run)
        self.actors.append(actor)
        return self.close_answer

    def close_progress(self, close_id: str) -> Optional[dict]:
        self._record("close_progress", close_id)
        return {"id": close_id, "state": "settled"} if close_id.startswith("manual/") else None

    def lock_scope(self, scope: str, mode: str, reason: str, ttl_s: Optional[float], *,
                   actor: Optional[str] = None, enforce: Optional[dict] = None,
                   sink_down: Optional[str] = None) -> ChangeResult:
        self._record("lock_scope", scope, mode, reason, ttl_s, *(() if enforce is None else (enforce,)),
                     *(() if sink_down is None else (sink_down,)))
        self.actors.append(actor)
        return self.change_answer

    def unlock_scope(self, scope: str, reason: str, *, actor: Optional[str] = None) -> ChangeResult:
        self._record("unlock_scope", scope, reason)
        self.actors.append(actor)
        return self.change_answer

    def dms_status(self) -> dict:
        self._record("dms_status")
        return {"format_version": 1, "sources": {"bot-a": {"armed": True, "fires_in_s": 12.5}}, "native": {}}

    def dms_arm(self, source: str, timeout_s: float, *, actor: Optional[str] = None) -> ChangeResult:
        self._record("dms_arm", source, timeout_s)
        self.actors.append(actor)
        return self.change_answer

    def dms_disarm(self, source: str, *, actor: Optional[str] = None) -> ChangeResult:
        self._record("dms_disarm", source)
        self.actors.append(actor)
        return self.change_answer

    def metrics_text(self) -> str:
        self._record("metrics_text")
        return "# TYPE ks_ticks_total counter\nks_ticks_total 42\n"

    def silences(self) -> tuple:
        self._record("silences")
        return ()

    def silence_add(self, matchers, duration_s: float, comment: str, *, actor: str):
        self._record("silence_add", tuple(matchers), duration_s, comment)
        self.actors.append(actor)
        return self.silence_answer

    def silence_expire(self, silence_id: str, *, actor: str):
        self._record("silence_expire", silence_id)
        self.actors.append(actor)
        return self.silence_answer

    def acknowledge(self, incident, policy, scope, comment: str, *, actor: str) -> ChangeResult:
        self._record("acknowledge", incident, policy, scope, comment)
        self.actors.append(actor)
        return self.change_answer


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, view: FakeView):
        self.session, self.base, self.view = session, base, view
        self.bodies: list[bytes] = []  # every response body, to check the token never appears

    async def request(self, method: str, path: str, *, auth: Optional[str] = None, json_body: Any = None,
                      data: Any = None, headers: Optional[dict] = None, encoded: bool = False
                      ) -> tuple[int, Any, aiohttp.ClientResponse]:
        h = dict(headers or {})
        if auth is not None:
            h["Authorization"] = auth
        if json_body is not None:
            data = json.dumps(json_body).encode()
            h.setdefault("Content-Type", "application/json")
        url: Any = self.base + path
        if encoded:
            url = yarl.URL(url, encoded=True)
        async with self.session.request(method, url, data=data, headers=h) as resp:
            raw = await resp.read()
        self.bodies.append(raw)
        body: Any = raw
        if resp.content_type == "application/json":
            body = json.loads(raw)
        return resp.status, body, resp

    async def post(self, path: str, body: Any = None, *, auth: Optional[str] = "token", **kw):
        return await self.request("POST", path, json_body=body, auth=_auth(auth), **kw)

    async def get(self, path: str, **kw):
        return await self.request("GET", path, **kw)


def _auth(auth: Optional[str]) -> Optional[str]:
    return f"Bearer {TOKEN}" if auth == "token" else auth


@asynccontextmanager
async def serve(view: Optional[FakeView] = None, *, token: Any = TOKEN, arrivals: Optional[list] = None, **kw):
    """The API of ``view`` on a free port and a client of it. ``arrivals``: a list the path of
    each request is added to as it reaches its handler (every check passed), for a test that
    waits until requests are in before it lets the view answer."""
    view = view or FakeView()
    app = make_app(view, token=token, **kw)
    if arrivals is not None:
        @web.middleware
        async def arrived(request: web.Request, handler: Any) -> web.StreamResponse:
            arrivals.append(request.path)
            return await handler(request)
        app.middlewares.append(arrived)  # the innermost: next to the handler
    runner, base = await start_api(app)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            client = Client(session, base, view)
            yield client
            for raw in client.bodies:
                assert TOKEN.encode() not in raw
    finally:
        await stop_api(runner)


ORDER = {"account": "binance/main", "symbol": "BTCUSDT", "side": "sell", "amount": 0.5}
RESET = {"policy": "p1", "scope": "binance/main", "reason": "flat, reviewed"}
CLOSE = {"scope": "binance/main", "reason": "drawdown", "dry_run": True}
LOCK = {"scope": "binance/main", "reason": "exchange incident", "mode": "reducing", "ttl_s": 21600}
UNLOCK = {"scope": "binance/main", "reason": "incident over"}
ARM = {"source": "bot-a", "timeout_s": 300}
DISARM = {"source": "bot-a"}
# every write the token guards, with a body it takes
MUTATIONS = [("/v1/heartbeat/bot", None), ("/v1/reset", RESET), ("/v1/close", CLOSE), ("/v1/lock", LOCK),
             ("/v1/unlock", UNLOCK), ("/v1/dms/arm", ARM), ("/v1/dms/disarm", DISARM)]
