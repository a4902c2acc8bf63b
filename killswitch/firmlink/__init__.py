"""A runner's link to the firm, a room above the runner: a shard's facts published, the firm
lease, the firm-wide policies evaluated and their directives carried out, its board, and the
firm-wide kill (a shard's, and a runner of no shard's on its own accounts), handed the runner's
parts behind the ports of :mod:`.ports`, never the runner. The runner finds the link in the slot
it holds for it (:mod:`killswitch.runner.firm_slot`) and imports nothing of this room (the
``firmlink-above`` import contract); this room imports nothing of the face, the composition root
or the command line above it.
"""
