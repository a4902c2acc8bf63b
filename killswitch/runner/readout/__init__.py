"""The reads: status, readiness, the lock document, metrics, triggers, incidents
(:mod:`.readout`), and what they are made from: the gauges, the engine's coverage (:mod:`.armed`),
the planned orders, the venues' weights, the charts, the catalog of names, a reset's warning.

Must not change the book: it is handed the book's read-only face.
"""
