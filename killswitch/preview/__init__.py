"""Previews: what the policies would decide, worked out by the engine's own code and never sent.

``ksctl plan`` (:mod:`.plan`), ``ksctl replay`` (:mod:`.replay`), ``ksctl diff`` (:mod:`.diff`)
and ``ksctl test`` (:mod:`.policytest` with its input and expectations) run a compiled graph over
snapshots handed in, with state kept in memory; :mod:`.coverage` says which accounts a preview
read, :mod:`.overlaps` what its closes add up to, and :mod:`.recordings` writes the scripted
recordings they replay. Values only: no file, clock or printing here (the CLI reads the files and
the renderers format); above the core and the adapters (a replay takes a venue's order rate from
its dialect), below the renderers and the command line, and no part of the runner.
"""
