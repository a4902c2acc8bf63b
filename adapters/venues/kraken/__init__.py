"""Kraken spot (``kraken``: the spot REST API, ``/0/public`` and ``/0/private``).

Its dialect (:mod:`.dialect`, the rows and answers it reads: :mod:`.dialect.rows`, its
websocket v2's frames: :mod:`.dialect.stream`), the simulator's spot faces (REST :mod:`.face`,
its rows :mod:`.face.rows`; websocket v2 :mod:`.face.stream`), its contract rows
(:mod:`.contract`) and its answers (``fixtures/``, README.md: which are verbatim recordings,
which documented examples).
"""

ORDER = 7
CCXT_IDS = ("kraken",)
NAME = "Kraken spot"  # as people name it (ksctl demo)
# the simulator's list of venues (``adapters.registry.sim_venues``) holds it: ``ksctl demo --venue
# kraken`` tells the spot book's story over its face (its MARKET_TYPE: spot)
SIM_ID = "kraken"
STREAM_FACE = "face.stream"
