"""The trading lock: the lock book as a value, its evaluation, the one file it is written to,
and who holds a lock no policy placed.

The bottom room of the runner: it imports nothing of the runner's, so a bot that only reads the
lock file pays for :mod:`.file` and :mod:`.lock` alone.
"""
