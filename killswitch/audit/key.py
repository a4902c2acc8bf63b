"""The audit key: the HMAC secret that anchors the audit chain, from the environment or a file.

``--audit-key-file PATH`` (a mounted Secret; env ``KS_AUDIT_KEY_FILE``) wins over the value in
``KS_AUDIT_KEY``; with neither, there is no key and the chain is written unanchored. The file is
read as every secret file is (:func:`killswitch.secret_file.read_secret_file`: stripped of
surrounding whitespace; missing, unreadable or empty: an error naming the option and the path).

Must not: log, print or put in an error the key, or keep it anywhere but the
:class:`~killswitch.state.AuditKey` it returns.
"""

from __future__ import annotations

import os
from typing import Optional

from ..secret_file import SecretFileError, read_secret_file
from ..state.store import AuditKey, AuditKeyError

KEY_ENV = "KS_AUDIT_KEY"


def load_audit_key(key_file: Optional[str] = None, *, env: str = KEY_ENV) -> Optional[AuditKey]:
    """The key from ``key_file``, else from the environment variable ``env``; None when neither
    is given. Raises AuditKeyError (``AUDIT_KEY_UNREADABLE``, ``AUDIT_KEY_TOO_SHORT``)."""
    if key_file:
        try:  # names the option and the file, never a byte of it
            return AuditKey(read_secret_file(key_file, "--audit-key-file"))
        except SecretFileError as e:
            raise AuditKeyError(f"AUDIT_KEY_UNREADABLE: {e}") from None
    value = os.environ.get(env)
    if value is None:
        return None
    return AuditKey(value)


def audit_key_or_none(key_file: Optional[str], err) -> Optional[AuditKey]:
    """For the runner: the key, or None after saying loudly why it cannot be used. A runner with
    an unusable key still guards the book; the rows it writes go unanchored, and verification
    reports them (as it does those of a runner given no key for an anchored chain)."""
    try:
        return load_audit_key(key_file)
    except AuditKeyError as e:
        err(f"ksctl run: error: {e}; the audit rows this runner writes will not be anchored")
        return None
