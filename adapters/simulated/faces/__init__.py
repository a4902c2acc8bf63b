"""The simulated exchange's venue faces: one module per venue dialect.

What it owns
    :data:`FACES`, the registry of faces by the path prefix each venue's REST API lives under
    (Bybit v5 ``/v5/``, OKX v5 ``/api/v5/``, Hyperliquid ``/info`` and ``/exchange``, Bitget v2
    ``/api/v2/``, Kraken Futures v3 ``/derivatives/``, Binance USDⓈ-M the empty prefix: every
    path no other face claims, its 404 for one it does not serve: each venue package's ``FACE``,
    ``adapters/venues/<venue>/face.py``, found by :mod:`adapters.registry`; a venue's
    master-account endpoints that switch its sub-accounts' keys, its face's ``MASTER``
    (:class:`.master.MasterFace`), by the endpoints' own paths, longer than the venues'
    prefixes), and the shapes they share (:mod:`.shared`, :mod:`.master`, and the OKX-style
    websocket faces' :mod:`.channels`). The
    simulated server (:class:`adapters.simulated.http.SimServer`) hands a request to the face of
    the longest prefix its path starts with. No two faces hold one prefix (a face that claims
    another's is refused when the registry is built, at the server's start: :class:`FaceCollision`),
    so one server on one port speaks every dialect at once, and an account answers in whichever
    dialect its client speaks.

A face is ``async def handle(server, request) -> aiohttp.web.StreamResponse``: it authenticates
the request the venue's way (the account's ``api_key`` and ``secret`` from the engine), applies
the server's fault plan (``server.faults``, keyed on the face's operation names and on
``"METHOD /path"``), calls the engine (:class:`adapters.simulated.engine.SimExchange`, the one
venue behind every face: it keeps no state of its own) and answers in the venue's envelope with
the venue's error codes.

Adding a face: write ``adapters/venues/<venue>/face.py`` with ``PREFIXES`` (a tuple of path
prefixes), ``handle``, ``sim_account`` and, where the venue has them, ``MASTER`` (the master
endpoints' class), and name it in the package's ``FACE``; nothing here changes. The request's way through the fault
plan, the venue's authentication and the engine is :class:`.shared.RestFace`'s: a face subclasses
it with its tables (routes, the header of its key, the fields a frozen answer is restamped in)
and its hooks (its signature, its envelope, its refusals, its operations), as every venue's does.
The registry is built when first read: a face imports :mod:`.shared` from here.

What it must not do
    keep exchange state (all state is the engine's), listen anywhere (the server does), or hold
    secrets beyond the engine's test keys.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from ...registry import parts

Handler = Callable[[Any, Any], Awaitable[Any]]

if TYPE_CHECKING:  # built when first read (module __getattr__ below)
    FACES: dict[str, Handler]


class FaceCollision(ValueError):
    """Two faces claim one path prefix: one would silently take the other's requests."""


def build_faces(faces: Iterable[tuple[str, Any]]) -> dict[str, Handler]:
    """Path prefix → the face's handler, longest prefix first, from (venue, face module) pairs:
    each face's ``PREFIXES``, then its master account's endpoints (each a path of its own). A
    prefix two of them claim is refused (:class:`FaceCollision`, naming both and the prefix)."""
    owners: dict[str, str] = {}
    handlers: dict[str, Handler] = {}

    def claim(prefix: str, owner: str, handle: Handler) -> None:
        if prefix in owners:
            raise FaceCollision(f"the simulator's faces {owners[prefix]} and {owner} both claim the path prefix "
                                f"{prefix!r}: a face's prefixes must be its own (adapters/simulated/faces)")
        owners[prefix], handlers[prefix] = owner, handle

    faces = list(faces)
    for venue, m in faces:
        for prefix in m.PREFIXES:
            claim(prefix, f"{venue!r}", m.handle)
    for venue, m in faces:
        master = getattr(m, "MASTER", None)  # a face without master endpoints leaves it out
        if master is not None:
            for path in sorted({path for _, path in master.ROUTES}):  # a path may take two methods
                claim(path, f"{venue!r} (master)", master.handle)
    return dict(sorted(handlers.items(), key=lambda kv: -len(kv[0])))


@functools.cache
def _faces() -> dict[str, Handler]:
    """The registry's faces (:func:`build_faces` over every venue's ``FACE``, in registry order)."""
    return build_faces((p.venue, p.module) for p in parts("FACE"))


def __getattr__(name: str) -> Any:
    if name == "FACES":
        return _faces()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def registered() -> dict[str, Handler]:
    """The registry's faces by path prefix, longest first (refused if two claim one prefix)."""
    return _faces()


def face_for(path: str) -> Handler | None:
    """The face that serves ``path`` (the one of the longest prefix it starts with), or None
    when no face holds the empty prefix."""
    for prefix, handle in _faces().items():
        if path.startswith(prefix):
            return handle
    return None


__all__ = ["FACES", "FaceCollision", "Handler", "build_faces", "face_for", "registered"]
