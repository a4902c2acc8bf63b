"""MEXC (``mexc``: its futures are the contract API, ``/api/v1/contract`` and ``/api/v1/private``;
its spot the spot API v3, ``/api/v3``).

Its dialect (:mod:`.dialect`, the rows it reads: :mod:`.dialect.rows`, its spot account's
:mod:`.dialect.spot`; its streams :mod:`.dialect.stream` and the spot websocket's
:mod:`.dialect.spot_stream`), the simulator's faces
(the contract API :mod:`.face`, which hands ``/api/v3/`` to the spot face :mod:`.face.spot`;
the contract websocket :mod:`.face.stream`, the spot websocket :mod:`.face.spot_stream` beside
it), its contract rows
(:mod:`.contract`) and its answers (``fixtures/``, README.md: which are documented examples,
which verbatim).
"""

ORDER = 6
CCXT_IDS = ("mexc",)
NAME = "MEXC contract API"  # as people name it (ksctl demo)
STREAM_FACE = "face.stream"
SPOT_FACE = "face.spot"  # its spot account's face (ksctl demo --venue mexc --market spot)
