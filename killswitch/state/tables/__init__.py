"""The store's tables beside the state document, each a mixin of :class:`~killswitch.state.sql.SqlStore`
with its schema step (a migration) and its calls: the order journal, the audit chain and its
sinks' cursors, silences and acknowledgements, operator locks stored while no runner leads, the
policy drift verdicts, the overrides of the pre-trade limits and the console's sign-ins.
"""
