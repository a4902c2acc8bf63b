"""Who holds a lock that no policy placed: the ``policy`` field of such a hold.

Kept apart from :mod:`.lock` so that the typed client reads these names without importing the
lock book ("@" is never part of a policy name, so neither can be mistaken for one).
"""

OPERATOR = "@operator"
DEAD_MANS_SWITCH = "@dms"
