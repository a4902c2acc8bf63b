"""The firm layer's pure core: facts the shards publish, made into snapshots the engine
evaluates the firm-wide policies over, and the directives a firm stage entry writes.

Pure: no I/O, no clock (see :mod:`.facts`). The store's side is :mod:`killswitch.state.firm`
and :mod:`killswitch.state.firm.tables`; a shard runner's, above the runner, :mod:`killswitch.firmlink.firm`.
"""
