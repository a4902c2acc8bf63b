"""Kraken Futures (``krakenfutures``: the derivatives API v3, multi-collateral ``flex`` account).

Its dialect (:mod:`.dialect`, the venue's answers read in :mod:`.dialect.answers`, its
websocket's frames in :mod:`.dialect.stream`), the simulator's faces (derivatives v3 REST
:mod:`.face`, websocket v1 :mod:`.face.stream`), its contract rows (:mod:`.contract`) and its
answers (``fixtures/``, README.md: which are verbatim).
"""

ORDER = 5
CCXT_IDS = ("krakenfutures",)
NAME = "Kraken Futures"  # as people name it (ksctl demo)
STREAM_FACE = "face.stream"
