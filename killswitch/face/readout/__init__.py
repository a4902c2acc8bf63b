"""The reads people see, above the runner: status, readiness, the lock document, metrics,
triggers, incidents (:mod:`.readout`), and the gauges and venues' weights they are made from.

What it is handed: the runner's parts, built by :func:`killswitch.process.bootstrap.build_runner_and_desk`
— the book's read-only face, the lease, the pre-trade gate (:mod:`killswitch.runner.watch.pretrade`),
the pace (:mod:`killswitch.runner.tick.pace`), the catalog, the planned orders — never the runner;
the desk (:mod:`killswitch.face.desk`) is handed them. Beside the readout: the positions
(:mod:`.positions`) and what an operator's action would do if sent now (:mod:`.previews`).
The values it answers are the view's, and so are its pure reads of the book (the scopes, the
triggers, the coverage, a reset's warning: :mod:`killswitch.view.scopes`,
:mod:`killswitch.view.triggers`, :mod:`killswitch.view.coverage`, :mod:`killswitch.view.relatch`).

Must not: change the book, or be imported by the runner (the ``face-above`` contract).
"""
