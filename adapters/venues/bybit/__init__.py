"""Bybit (``bybit``, the v5 unified API).

Its dialect (:mod:`.dialect`), the simulator's v5 face (REST :mod:`.face`, websocket
:mod:`.face.stream`), its contract rows (:mod:`.contract`) and its answers (``fixtures/``,
README.md: which are verbatim).
"""

ORDER = 1
CCXT_IDS = ("bybit",)
NAME = "Bybit v5"  # as people name it (ksctl demo)
STREAM_FACE = "face.stream"
