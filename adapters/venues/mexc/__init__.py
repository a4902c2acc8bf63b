"""MEXC (``mexc``: its futures are the contract API, ``/api/v1/contract`` and ``/api/v1/private``).

Its dialect (:mod:`.dialect`, the rows it reads: :mod:`.dialect_rows`), its contract rows
(:mod:`.contract`) and its answers (``fixtures/``, README.md: which are documented examples, which
verbatim). No simulator face and no stream yet: the venue is not in the simulator's list.
"""

ORDER = 6
CCXT_IDS = ("mexc",)
