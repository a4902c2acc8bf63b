"""The statuses the journal records an order in: the words alone, as every layer may read them.

What the journal accepts as an order's status is the exchange's own vocabulary (adapters'
``OrderResult``) plus ``sent`` (handed to the adapter, no answer yet), ``unknown`` (the answer was
lost: a timeout) and ``failed`` (refused before it reached the venue). :mod:`killswitch.orders`
(which re-exports them) and the journal (``killswitch/state/store.py``) read them from here; so
does a runbook's incident, which counts an incident's orders by status, without importing the
order intents: ``ksctl validate`` renders sample incidents and never makes an intent.

Pure data: no I/O, no import.
"""

from __future__ import annotations

FINAL_STATUSES = frozenset({"filled", "canceled", "rejected", "expired", "failed"})
OPEN_STATUSES = frozenset({"sent", "open", "partially_filled", "unknown"})
ORDER_STATUSES = FINAL_STATUSES | OPEN_STATUSES
