"""The simulator's REST faces each hold path prefixes of their own: a face that claims another's
prefix (or a master endpoint's path) is refused when the registry is built, at the server's start,
naming both faces and the prefix; the venues' own faces are accepted, every prefix to its face.
A websocket face that claims another's path is refused at the server's start, naming both."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pytest
from aiohttp import web

from adapters.registry import parts
from adapters.simulated import faces as faces_pkg
from adapters.simulated.engine import ManualClock
from adapters.simulated.faces import FaceCollision, build_faces
from adapters.simulated.http import SimServer
from adapters.simulated.scenarios import build


async def _handle(server, request):
    raise NotImplementedError


def _face(*prefixes: str) -> SimpleNamespace:
    return SimpleNamespace(PREFIXES=prefixes, handle=_handle)  # no master endpoints: no MASTER


def _venue_faces() -> list[tuple[str, object]]:
    return [(p.venue, p.module) for p in parts("FACE")]


def test_the_venues_faces_are_accepted_each_prefix_to_its_own_face():
    built = build_faces(_venue_faces())
    for venue, module in _venue_faces():
        for prefix in module.PREFIXES:
            assert built[prefix] is module.handle, (venue, prefix)
    assert list(built) == sorted(built, key=len, reverse=True)  # the longest prefix is tried first
    assert build_faces(_venue_faces() + [("zz", _face("/zz/api/"))])["/zz/api/"] is _handle


def _claimed() -> list:
    """Every prefix a venue's face claims, with its venue (the registry's faces)."""
    return [pytest.param(prefix, venue, id=f"{venue}:{prefix}") for venue, m in _venue_faces() for prefix in m.PREFIXES]


@pytest.mark.parametrize("prefix, venue", _claimed())
def test_a_face_claiming_another_faces_prefix_is_refused_naming_both(prefix, venue):
    with pytest.raises(FaceCollision) as refused:
        build_faces(_venue_faces() + [("zz", _face("/zz/api/", prefix))])
    said = str(refused.value)
    assert f"'{venue}'" in said and "'zz'" in said and repr(prefix) in said


def test_a_face_claiming_a_master_endpoint_is_refused():
    okx = dict(_venue_faces())["okx"]
    path = sorted(path for _, path in okx.MASTER.ROUTES)[0]
    with pytest.raises(FaceCollision, match="'okx' \\(master\\)"):
        build_faces(_venue_faces() + [("zz", _face(path))])


def test_the_server_refuses_to_start_when_two_faces_share_a_prefix(monkeypatch):
    venue, face = _venue_faces()[-1]
    prefix = face.PREFIXES[0]
    planted = (*parts("FACE"), SimpleNamespace(venue="zz", module=_face(prefix)))
    monkeypatch.setattr(faces_pkg, "parts", lambda field: planted)
    faces_pkg._faces.cache_clear()
    try:
        server = SimServer(build("calm", ManualClock(0)))
        said = f"'{venue}' and 'zz' both claim the path prefix {prefix!r}"
        with pytest.raises(FaceCollision, match=re.escape(said)):
            asyncio.run(server.start())
        assert server._runner is None  # refused before anything listens
    finally:
        monkeypatch.undo()
        faces_pkg._faces.cache_clear()


class _Clash:
    """A websocket face claiming ``path``, another face's."""

    def __init__(self, path: str):
        self.path = path

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/zz/ws", _handle)
        app.router.add_get(self.path, _handle)


def _paths(face) -> list[str]:
    probe = web.Application()
    face.add_routes(probe)
    return sorted(r.canonical for r in probe.router.resources())


def test_the_server_refuses_to_start_when_two_stream_faces_share_a_path():
    server = SimServer(build("calm", ManualClock(0)))
    faces = [("the server's own stream", server.stream), *((f"{v!r} (stream)", f) for v, f in server.streams.items())]
    claimed = [(owner, _paths(face)[-1]) for owner, face in faces if _paths(face)]  # (Hyperliquid's shares /ws)
    assert len(claimed) > 1
    for owner, path in claimed:
        server = SimServer(build("calm", ManualClock(0)))
        server.streams["zz"] = _Clash(path)
        said = f"{owner} and 'zz' (stream) both claim the websocket path {path!r}"
        with pytest.raises(FaceCollision, match=re.escape(said)):
            asyncio.run(server.start())
        assert server._runner is None  # refused before anything listens


def test_every_route_of_a_face_has_the_operation_that_answers_it():
    for venue, module in _venue_faces():
        face = module.handle.__self__  # the face's class (RestFace.serve)
        if face.ROUTES:  # Hyperliquid's operation is in the body: it answers it itself
            assert {op for op, _ in face.ROUTES.values()} <= set(face.OPERATIONS), venue


def test_mexc_hands_its_spot_paths_to_the_spot_face_whose_routes_are_answered():
    from adapters.venues.mexc import face
    from adapters.venues.mexc.face import spot as face_spot

    assert "/api/v3/" in face.PREFIXES and all(p.startswith("/api/v3/") for _, p in face_spot.ROUTES)
    assert not [p for _, p in face.ROUTES if p.startswith("/api/v3/")]  # none left to the contract face
    assert {op for op, _ in face_spot.ROUTES.values()} <= set(face_spot.MexcSpotFace.OPERATIONS)
