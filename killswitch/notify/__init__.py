"""Notifications: ``NotificationRoutes`` documents compiled into route trees, and the runner's
sink that delivers through apprise.

- :mod:`.routes` — the frozen route tree: matching, ``continue``, grouping, inhibit rules (pure);
- :mod:`.dispatch` — aggregation groups and their timers, with an explicit ``now`` (pure);
- :mod:`.message` — the text of a notification, with the runbook links (pure);
- :mod:`.receivers` — receivers resolved from secret references into apprise objects;
- :mod:`.sink` — :class:`~.sink.NotifySink`: bounded queues, the worker, the state kept across
  takeovers; built from :mod:`.delivery` (asyncio delivery, retries, the fallback receiver)
  :mod:`.receipts` (audit receipts, counters) and :mod:`.takeup` (what a stopped runner handed
  over after its save), over the fields :mod:`.sink_hooks` declares.

This package module imports nothing eagerly, and nothing here imports apprise until a receiver
is resolved: ``ksctl validate`` never pays for it.
"""
