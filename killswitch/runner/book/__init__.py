"""What the runner knows: the book (the one writer of the lock book and the stages; save, load,
follow), its read-only face (:mod:`.view`, ``BookView``) and the values it holds: the dead man's
switch, the revokes owed, the residuals, the resumptions in force.

Must not import the parts that change the book: they import it.
"""
