"""Keccak-256 in C for ccxt's signatures with a wallet's key.

A venue whose actions a wallet signs (Hyperliquid: every order and cancel) has ccxt build an
EIP-712 hash from Keccak-256 digests (nine a Hyperliquid action) and, where OpenSSL is older
than 3.2 (Debian 12's 3.0), take each from its pure-Python sponge
(``ccxt.static_dependencies.keccak``): 7-39 ms a signature on the runner's deciding loop, before
the cancel of a rogue order or the next close of a flatten goes out (``bench/
hyperliquid_sign.py``). :func:`install`, called as a client is configured (:mod:`.client`), puts
pycryptodome's Keccak-256 (the same digest, in C) where ccxt looks for it: the keccak package's
``SHA3`` (read at each call by ``Exchange.hash``) and the names ``typed_data`` and ``abi``
imported from it. Once a process; a ccxt that already has a fast Keccak (OpenSSL >= 3.2) is
left as it is. The simulated Hyperliquid face checks signatures with :func:`keccak256`.
:func:`warm` loads, as a client that signs with a wallet's key is configured, what the first
signature would load: pycryptodome's Keccak module (and cffi's C parser under it) and
coincurve, 60-170 ms measured between a reaction's first close leaving the decider and its
request leaving the reader (``bench/stream.py --venue hyperliquid``).

Must not: change a digest. ``tests/unit/adapters/venues/hyperliquid/test_keccak.py`` holds the
installed function to ccxt's own over random inputs and a whole signature to ccxt's.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_installed = False


def keccak256(data: bytes | bytearray) -> bytearray:
    """Keccak-256 of ``data`` (the original padding, not NIST's SHA3), as ccxt's ``SHA3`` returns it."""
    from Crypto.Hash import keccak

    return bytearray(keccak.new(digest_bits=256, data=bytes(data)).digest())


def install() -> bool:
    """Make ccxt's Keccak-256 :func:`keccak256`, unless ccxt's is already OpenSSL's; True when
    this call or an earlier one installed it."""
    global _installed
    with _lock:
        if _installed:
            return True
        from ccxt.static_dependencies import keccak
        from ccxt.static_dependencies.ethabi import abi, typed_data

        if keccak.SHA3 is not getattr(keccak, "_pure_python_sha3", keccak.SHA3):
            return False  # OpenSSL's (ccxt probes for it at import)
        keccak.SHA3 = keccak256
        typed_data.keccak = keccak256
        abi.keccak = keccak256
        _installed = True
        return True


def warm(client: object) -> None:
    """Load what a first signature loads, where ``client`` signs with a wallet's key (ccxt's
    ``requiredCredentials`` names a ``privateKey``): at configuration, not before a close."""
    required = getattr(client, "requiredCredentials", None)
    if not isinstance(required, dict) or not required.get("privateKey"):
        return
    keccak256(b"")
    try:
        import coincurve  # noqa: F401 - ccxt's secp256k1 signer imports it at its first signature
    except ImportError:  # ccxt falls back to its own curve arithmetic
        pass


__all__ = ["install", "keccak256", "warm"]
