"""The desk: the runner as the HTTP API, the console and the tests' operators see it
(:mod:`.desk`, which implements :class:`~killswitch.face.runner_view.RunnerView`), with the
firm-wide kill's calls (:mod:`.firm_kill`), the refusals it audits for the API (:mod:`.request_audits`)
and the log line of an operator's change (:mod:`.oplog`). It stands above the runner: built by the
composition root from the runner's parts and the reads above them (:mod:`killswitch.face.readout`),
never holding the runner; no module of the runner imports it.
"""
