"""The runner's side of the sinks: the fan-out to every sink, the stage transitions owed to them
(:mod:`.entries`) until they hold them, and the narrow context a sink is handed.
"""
