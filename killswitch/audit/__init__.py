"""The audit sink and the audit key: what proves the audit trail outside the database.

- :mod:`.key` resolves the HMAC key that anchors the chain (``KS_AUDIT_KEY`` or a mounted file),
  the way the other secrets are resolved (``adapters.credentials.resolve_secret``);
- :mod:`.anchor` is the runner's sink that exports the chain's head (``AUDIT_HEAD seq=… hash=…``)
  to the logs and ``/metrics`` every few minutes, and checks that the last one it exported is
  still in the chain.

The chain itself is the state store's: hashing and MACs in ``killswitch/state/audit_chain.py``,
verification in ``killswitch/state/audit_verify.py``.
"""
