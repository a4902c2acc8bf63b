"""The state every websocket face of the simulator keeps is its shared base's
(:class:`adapters.simulated.stream.PushFace`): a face on a server takes the server's engine,
fault plan and login clock, the Binance face on an engine alone the engine's, and no venue's face
sets that state again in its own ``__init__`` (a copy would drift: a face whose sockets or
writers are not the ones ``PushFace.stop`` closes)."""

from __future__ import annotations

import ast
import inspect
import textwrap

from adapters.registry import parts
from adapters.simulated.http import SimServer
from adapters.simulated.stream import PushFace, StreamFace
from tests.integration.sim_helpers import engine

# what PushFace owns, set in its __init__
SHARED = {"server", "engine", "faults", "tick_s", "auth_clock", "sockets", "sent", "_conn", "_unhook", "_pump",
          "_writers"}


def _assigned(init) -> set[str]:
    """The ``self.<name>`` an ``__init__`` assigns."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    out = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            for e in t.elts if isinstance(t, ast.Tuple) else [t]:
                if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self":
                    out.add(e.attr)
    return out


def _faces() -> list[type]:
    found = [StreamFace]
    for part in parts("STREAM_FACE"):
        found += [c for _, c in inspect.getmembers(part.module, inspect.isclass)
                  if issubclass(c, PushFace) and c.__module__ == part.module.__name__]
    return found


def test_push_face_owns_the_shared_state_and_no_face_sets_it_again():
    assert _assigned(PushFace.__init__) == SHARED
    faces = _faces()
    assert {c.__name__ for c in faces} >= {"StreamFace", "OkxStreamFace", "BitgetStreamFace", "BybitStreamFace",
                                           "HyperliquidStreamFace"}
    again = {c.__name__: sorted(_assigned(c.__init__) & SHARED) for c in faces if "__init__" in vars(c)}
    assert again == {c: [] for c in again}, again


def test_every_face_takes_its_servers_engine_faults_and_login_clock_and_starts_with_no_sockets():
    eng, _ = engine()
    srv = SimServer(eng, auth_clock=lambda: 42)
    assert set(srv.streams) == {p.venue for p in parts("STREAM_FACE")}  # every venue's (adapters.registry)
    for venue, face in srv.streams.items():
        assert (face.server, face.engine, face.faults) == (srv, eng, srv.faults), venue
        assert (face.sockets, face.sent, face._conn, face._pump, face._writers) == ([], [], 0, None, []), venue
    assert [srv.streams[v].auth_clock() for v in ("okx", "bitget", "bybit")] == [42, 42, 42]
    assert srv.streams["hyperliquid"].auth_clock() == eng.now()  # no login on its socket: the engine's clock
    binance = srv.stream  # the face on the engine alone
    assert (binance.server, binance.engine, binance.faults, binance.sockets) == (None, eng, srv.faults, [])
    alone = StreamFace(eng)
    assert alone.faults is eng.faults and alone.tick_s == 0.05
