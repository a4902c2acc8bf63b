"""The simulated exchange: one deterministic engine, several faces.

* :mod:`.engine` — :class:`~.engine.SimExchange`, the exchange model (accounts, markets, marks, orders,
  fills, positions, rate limits, countdown cancel-all); no wall clock, no I/O. It is built in
  layers, a module each: :mod:`.state` (markets, marks, accounts, change hooks, rate limits),
  :mod:`.ledger` (positions and views), :mod:`.matching` (the order book), :mod:`.spot`, and
  :mod:`.engine` itself (timers, queries, countdowns); :mod:`.accounts` is what an account is,
  :mod:`.conditional` the algo service of stops and take-profits.
* :mod:`.views` — the position and account views: an account's legs priced at a time.
* :mod:`.faults` — :class:`~.faults.FaultPlan`, deterministic scriptable fault injection.
* :mod:`.paths` / :mod:`.scenarios` — price paths of time and named market scenarios.
* :mod:`.adapter` — :class:`~.adapter.SimulatedAdapter`, the in-process ``ExchangeAdapter`` face (its
  engine calls behind the fault plan: :mod:`.adapter.calls`; its snapshots' contents:
  :mod:`.adapter.snapshot`).
* :mod:`.http` — :class:`~.http.SimServer`, every venue's REST face (:mod:`.faces`, each venue's in
  ``adapters/venues/<venue>/face.py``) on one port of 127.0.0.1, for ccxt.
* :mod:`.stream` — the websocket face on the same server: Binance USDⓈ-M's user data stream
  (listen keys, ``ACCOUNT_UPDATE``, ``ORDER_TRADE_UPDATE``) and mark prices for ccxt.pro, with
  stream faults; fed by the engine's change hooks (:mod:`.changes`).

``python -m adapters.simulated serve --scenario flash-crash`` runs the HTTP face.

This package depends on killswitch's snapshot and intent types (through the adapter face)
and on aiohttp (HTTP face, imported lazily); killswitch never imports it. It must never
reach a real venue: the only network it touches is its own server on loopback.
"""

from .scenarios import build

__all__ = ["build"]
