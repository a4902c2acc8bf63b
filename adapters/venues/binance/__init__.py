"""Binance: ``binance``, ``binanceusdm`` (USDⓈ-M futures) and ``binancecoinm`` (COIN-M futures).

Its dialect (:mod:`.dialect`), the simulator's USDⓈ-M face (:mod:`.face`: its accounts; the REST
API is :class:`adapters.simulated.http.SimServer`'s own, the user data stream
:mod:`adapters.simulated.stream`), its contract rows (:mod:`.contract`) and its answers
(``fixtures/``, README.md: which are verbatim).
"""

ORDER = 0
CCXT_IDS = ("binance", "binanceusdm", "binancecoinm")
DIALECT = "dialect"
SIM_ID = "binanceusdm"
FACE = "face"
STREAM_FACE = None
