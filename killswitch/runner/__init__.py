"""The runner: where the pure engine meets clocks, files, sockets and exchanges.

Its safety building blocks are pure values with no sockets, kept apart so that each can be
tested on its own and reused by the daemon, ``ksctl`` and the HTTP API:

- :mod:`.lock.lock` — the trading lock (a :class:`~.lock.lock.LockBook` value), and :mod:`.lock.file`,
  the one file it is written to, atomically (reading fails closed);
- :mod:`.gate.gate` — the pre-trade check behind ``POST /v1/check-order`` (its request, placement
  and limits in :mod:`.gate.request`, :mod:`.gate.placement`, :mod:`.gate.limits`), and
  :mod:`.gate.resume_plan`, the resumption schedule after a reset;
- :mod:`.book.dms_state` — the dead man's switch: heartbeat sources and the venues' native countdowns.

The rest lives in rooms, one sub-package each of what changes together, each importing only the
rooms below it (the ``runner-rooms`` contract; docs/architecture.md, "The runner's rooms").

This package module imports nothing eagerly: a bot that only reads the lock file pays for
:mod:`.lock.file` and :mod:`.lock.lock` alone. It must not hold state of its own; the modules' values are passed around.
"""
