"""Binance: ``binance``, ``binanceusdm`` (USDⓈ-M futures) and ``binancecoinm`` (COIN-M futures).

Its dialect (:mod:`.dialect`; its stream's events :mod:`.dialect.stream`, the rows it reads
without ccxt :mod:`.dialect.rows`), the simulator's USDⓈ-M face (REST :mod:`.face`, its payload
shapes :mod:`.face.rows`; the user data stream is :mod:`adapters.simulated.stream`), its contract
rows (:mod:`.contract`) and its answers (``fixtures/``, README.md: which are verbatim).
"""

ORDER = 0
CCXT_IDS = ("binance", "binanceusdm", "binancecoinm")
NAME = "Binance USD-M"  # as people name it (ksctl demo)
SIM_ID = "binanceusdm"
