"""Kraken Futures (``krakenfutures``: the derivatives API v3, multi-collateral ``flex`` account).

Its dialect (:mod:`.dialect`, the venue's answers read in :mod:`.dialect_answers`), the
simulator's derivatives v3 face (REST :mod:`.face`, websocket v1 :mod:`.face_stream`), its contract rows
(:mod:`.contract`) and its answers (``fixtures/``, README.md: which are verbatim).
"""

ORDER = 5
CCXT_IDS = ("krakenfutures",)
STREAM_FACE = "face_stream"
