"""MEXC (``mexc``: its futures are the contract API, ``/api/v1/contract`` and ``/api/v1/private``;
its spot the spot API v3, ``/api/v3``).

Its dialect (:mod:`.dialect`, the rows it reads: :mod:`.dialect_rows`, its spot account's
:mod:`.dialect_spot`; its streams :mod:`.dialect_stream` and the spot websocket's
:mod:`.dialect_spot_stream`), the simulator's faces
(the contract API :mod:`.face`, which hands ``/api/v3/`` to the spot face :mod:`.face_spot`;
the contract websocket :mod:`.face_stream`, the spot websocket :mod:`.face_spot_stream` beside
it), its contract rows
(:mod:`.contract`) and its answers (``fixtures/``, README.md: which are documented examples,
which verbatim).
"""

ORDER = 6
CCXT_IDS = ("mexc",)
NAME = "MEXC contract API"  # as people name it (ksctl demo)
STREAM_FACE = "face_stream"
SPOT_FACE = "face_spot"  # its spot account's face (ksctl demo --venue mexc --market spot)
