"""Kraken spot (``kraken``: the spot REST API, ``/0/public`` and ``/0/private``).

Its dialect (:mod:`.dialect`, the rows and answers it reads: :mod:`.dialect_rows`), its contract
rows (:mod:`.contract`) and its answers (``fixtures/``, README.md: which are verbatim recordings,
which documented examples).
"""

ORDER = 7
CCXT_IDS = ("kraken",)
SIM_ID = None
FACE = None
