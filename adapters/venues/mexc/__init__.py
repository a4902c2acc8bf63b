"""MEXC (``mexc``: its futures are the contract API, ``/api/v1/contract`` and ``/api/v1/private``).

Its dialect (:mod:`.dialect`, the rows it reads: :mod:`.dialect_rows`), the simulator's faces
(the contract API :mod:`.face`, the contract websocket :mod:`.face_stream`), its contract rows
(:mod:`.contract`) and its answers (``fixtures/``, README.md: which are documented examples,
which verbatim).
"""

ORDER = 6
CCXT_IDS = ("mexc",)
STREAM_FACE = "face_stream"
