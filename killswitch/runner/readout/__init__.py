"""The reads: status, readiness, the lock document, metrics, triggers, incidents
(:mod:`.readout`), and the gauges and venues' weights they are made from (the engine's coverage,
the scopes and a reset's warning are the view's: :mod:`killswitch.view.coverage`,
:mod:`killswitch.view.scopes`, :mod:`killswitch.view.relatch`; the catalog of names, the
planned orders and the charts the runner's rooms').

Must not change the book: it is handed the book's read-only face.
"""
