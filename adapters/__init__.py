"""Exchange adapters: the ccxt adapter and the simulated exchange, behind one protocol.

Adapters depend on killswitch's snapshot and order-intent types, never the other way round.
"""
