"""The reads: status, readiness, the lock document, metrics, triggers, incidents
(:mod:`.readout`), and what they are made from: the gauges, the planned orders, the venues'
weights, the charts, the catalog of names (the engine's coverage, the scopes and a reset's warning
are the view's: :mod:`killswitch.view.coverage`, :mod:`killswitch.view.scopes`,
:mod:`killswitch.view.relatch`).

Must not change the book: it is handed the book's read-only face.
"""
