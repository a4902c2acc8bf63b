"""One clock of nonces per API key in the process, for a venue that refuses a nonce not above the
last it saw from that key (Kraken spot's ``EAPI:Invalid nonce``).

What it owns: :func:`increasing_nonces`, which makes a ccxt client's ``nonce`` strictly increasing
across every client of its key in this process: ccxt's own is the millisecond, which an account's
REST client and its stream's client (signing the websocket token) share, as two requests of one
client can: the second was refused and the stream went down at its start (2 of 7 spot rogue runs).

What it must not do: hold anything but the last nonce each key signed with, or print a key.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

_LAST: dict[str, int] = {}  # a key's digest → the last nonce signed with it
_LOCK = threading.Lock()


def increasing_nonces(client: Any) -> None:
    """``client.nonce`` made the greater of ccxt's (the millisecond) and one above the last nonce
    any client of the same key in the process signed with; a client without a key is left as it is."""
    key = getattr(client, "apiKey", None)
    own = getattr(client, "nonce", None)
    if not key or not callable(own):
        return
    name = hashlib.sha256(str(key).encode()).hexdigest()  # (the key itself kept nowhere)

    def nonce() -> int:
        with _LOCK:
            n = max(int(own()), _LAST.get(name, 0) + 1)
            _LAST[name] = n
            return n

    client.nonce = nonce


__all__ = ["increasing_nonces"]
