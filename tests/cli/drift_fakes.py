"""Fake runners for ``ksctl drift``: small aiohttp servers on 127.0.0.1, on a loop of their own
thread, answering ``GET /v1/status`` with a ``policy_sync`` built from files on disk (each
document's sha256 computed from its bytes, as the runner computes it), ``GET /v1/firm/shards``
and ``POST /v1/policy-drift`` (the bodies kept). Used by tests/cli/test_drift.py and
bench/drift.py."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from aiohttp import web

from killswitch.sources import policy_files


def documents(root: Path) -> list[dict]:
    """The documents a runner reports of the policy root ``root``: every policy file, its path
    relative to the root and the sha256 of its bytes, sorted by path."""
    out = [{"path": f.relative_to(root).as_posix(), "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
           for f in policy_files(root)]
    return sorted(out, key=lambda d: d["path"])


def policy_sync(root: Path, revision: Optional[str], *, digest: str = "sha256:" + "ab" * 32,
                loaded_ms: int = 1_772_456_400_000, reload_error: Optional[str] = None, failed_ms: Optional[int] = None,
                handed: Optional[Path] = None) -> dict:
    """``policy_sync`` of a runner running the files under ``root``; with ``reload_error`` (or
    ``handed``, the newer files it read) one whose last reload failed and kept the running graph."""
    failing = reload_error is not None or handed is not None
    return {"running": {"revision": revision, "digest": digest, "loaded_ms": loaded_ms, "documents": documents(root)},
            "handed": None if handed is None else {"revision": None, "seen_ms": failed_ms or 0,
                                                   "documents": documents(handed)},
            "in_sync_with_files": not failing, "since_ms": failed_ms if failing else None,
            "reload_error": reload_error, "verdict": None}


def status(sync: Optional[dict], *, shard: Optional[str] = None, holder: Optional[str] = None,
           digest: str = "sha256:" + "ab" * 32, revision: Optional[str] = None, dms_sources: int = 0) -> dict:
    """A status document as a runner writes it (the fields ``ksctl drift`` reads, and a realistic
    body around them); ``sync`` None: an older runner's, without ``policy_sync``."""
    doc: dict[str, Any] = {
        "mode": "live", "leader": True, "fence": 3, "graph_digest": digest, "graph_revision": revision,
        "policy_error": None, "last_tick_ms": 1_772_456_400_000, "scopes": [], "data_age_s": {},
        "resuming": [], "residuals": [], "coverage": [], "fetch_errors": {}, "streams": {},
        "pages_failing": [], "reload_ok": True, "tick_interval_s": 1.0, "holder": holder, "lease_holder": holder,
        "venue_weight": {}, "shard": shard, "trading": {}, "lock_violations": {}, "position_modes": {},
        "dms": {"format_version": 1, "sources": {f"bot-{i}": {"armed": True, "last_beat_age_s": 1.5,
                                                              "fires_in_s": 58.5, "fired": False}
                                                 for i in range(dms_sources)}},
    }
    if sync is not None:
        doc["policy_sync"] = sync
    return doc


@dataclass
class Fake:
    """One fake runner: what it answers (``status``; ``status_code`` another HTTP status;
    ``board`` its firm board; ``post_status`` the status its POST answers) and what it was sent."""

    status: dict = field(default_factory=dict)
    status_code: int = 200
    board: Optional[dict] = None
    post_status: int = 200
    delay_s: float = 0.0  # how long its status takes to answer
    posts: list = field(default_factory=list)
    auth: list = field(default_factory=list)
    url: str = ""
    tls: Optional[ssl.SSLContext] = None  # serve https with this context


class FakeRunners:
    """Fake runners on one loop in a thread of its own; :meth:`add` starts one on a free port."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sites: list[web.AppRunner] = []
        # set at close: a status held back by ``delay_s`` answers then, so that the sites' cleanup
        # (which waits for the requests in flight) does not wait out the delay
        self.closing = asyncio.Event()

    def add(self, fake: Fake) -> Fake:
        fake.url = asyncio.run_coroutine_threadsafe(self._start(fake), self.loop).result(30)
        return fake

    async def _start(self, fake: Fake) -> str:
        async def get_status(request: web.Request) -> web.Response:
            fake.auth.append(request.headers.get("Authorization"))
            if fake.delay_s:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), fake.delay_s)
            if fake.status_code != 200:
                return web.json_response({"error": f"HTTP_{fake.status_code}", "reason": "refused"},
                                         status=fake.status_code)
            return web.json_response(fake.status)

        async def get_board(request: web.Request) -> web.Response:
            if fake.board is None:
                return web.json_response({"error": "NOT_SHARDED", "reason": "NOT_SHARDED: no firm"}, status=404)
            return web.json_response(fake.board)

        async def post_drift(request: web.Request) -> web.Response:
            fake.posts.append(await request.json())
            fake.auth.append(request.headers.get("Authorization"))
            if fake.post_status != 200:
                return web.json_response({"done": False, "reason": "ROLE_REQUIRED: drift or operator"},
                                         status=fake.post_status)
            return web.json_response({"done": True, "reason": f"DRIFT_RECORDED: {fake.posts[-1]['state']}"})

        app = web.Application()
        app.router.add_get("/v1/status", get_status)
        app.router.add_get("/v1/firm/shards", get_board)
        app.router.add_post("/v1/policy-drift", post_drift)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=fake.tls)
        await site.start()
        self.sites.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"{'https' if fake.tls else 'http'}://127.0.0.1:{port}"

    def close(self) -> None:
        async def stop() -> None:
            self.closing.set()
            for runner in self.sites:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
