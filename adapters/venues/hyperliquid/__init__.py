"""Hyperliquid (``hyperliquid``): perpetuals, orders signed by a wallet.

Its dialect (:mod:`.dialect`; its order ids :mod:`.dialect_orders`, its stream's events
:mod:`.dialect_stream`), the simulator's face (REST :mod:`.face` with its keys
:mod:`.face_keys` and rows :mod:`.face_rows`, websocket :mod:`.face_stream`), its contract rows
(:mod:`.contract`) and its answers (``fixtures/``, README.md: which are verbatim).
"""

ORDER = 3
CCXT_IDS = ("hyperliquid",)
NAME = "Hyperliquid"  # as people name it (ksctl demo)
STREAM_FACE = "face_stream"
