"""OKX (``okx``, the v5 API).

Its dialect (:mod:`.dialect`, its stream's events :mod:`.dialect.stream`), the simulator's v5
face (REST :mod:`.face`, websocket :mod:`.face.stream`), its contract rows (:mod:`.contract`)
and its answers (``fixtures/``, README.md: which are verbatim).
"""

ORDER = 2
CCXT_IDS = ("okx",)
NAME = "OKX v5"  # as people name it (ksctl demo)
STREAM_FACE = "face.stream"
