"""Bitget (``bitget``: the classic account's v2 API, USDT-M futures and spot).

Its dialect (:mod:`.dialect`), the simulator's v2 face (REST :mod:`.face`; no websocket face
yet), its contract rows (:mod:`.contract`) and its answers (``fixtures/``, README.md: which are
verbatim).
"""

ORDER = 4
CCXT_IDS = ("bitget",)
NAME = "Bitget v2"  # as people name it (ksctl demo)
STREAM_FACE = "face.stream"
