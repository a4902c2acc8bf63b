"""Hyperliquid (``hyperliquid``): perpetuals, orders signed by a wallet.

Its dialect (:mod:`.dialect`; its order ids :mod:`.dialect.orders`, its stream's events
:mod:`.dialect.stream`), the simulator's face (REST :mod:`.face` with its keys
:mod:`.face.keys` and rows :mod:`.face.rows`, websocket :mod:`.face.stream`), its contract rows
(:mod:`.contract`) and its answers (``fixtures/``, README.md: which are verbatim).
"""

ORDER = 3
CCXT_IDS = ("hyperliquid",)
NAME = "Hyperliquid"  # as people name it (ksctl demo)
STREAM_FACE = "face.stream"
