"""The runner: where the pure engine meets clocks, files, sockets and exchanges.

Its safety building blocks are pure values with no sockets, kept apart so that each can be
tested on its own and reused by the daemon, ``ksctl`` and the HTTP API:

- :mod:`.lock` — the trading lock (a :class:`~.lock.LockBook` value), and :mod:`.lock_file`,
  the one file it is written to, atomically (reading fails closed);
- :mod:`.gate` — the pre-trade check behind ``POST /v1/check-order`` (its request, placement
  and limits in :mod:`.gate_request`, :mod:`.gate_placement`, :mod:`.gate_limits`), and
  :mod:`.resume_plan`, the resumption schedule after a reset;
- :mod:`.dms_state` — the dead man's switch: heartbeat sources and the venues' native countdowns.

This package module imports nothing eagerly: a bot that only reads the lock file pays for
:mod:`.lock_file` and :mod:`.lock` alone. It must not hold state of its own; the modules' values are passed around.
"""
