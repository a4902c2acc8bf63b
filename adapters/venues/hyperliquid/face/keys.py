"""The simulated Hyperliquid's keys and signatures: each account's derived wallet, a signer recovered.

What it owns
    every engine account's wallet key and address, derived from its name (:func:`account_key`,
    :func:`account_address`: well-known test values, like the engine's API keys), and what the
    REST face needs to check an L1 action's signature as the venue does: a signer recovered from
    ``r``, ``s`` and ``v`` (libsecp256k1 through coincurve), and the action's EIP-712 hash (the phantom
    agent of the action's msgpack hash, nonce and vault: :func:`action_digest`).

What it must not do
    hold keys beyond the derived test keys, or know HTTP.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Optional

from ....ccxt_exchange.keccak import keccak256

CHAIN_ID = 1337  # the L1 actions' EIP-712 domain ("Exchange", version 1, the zero contract)


# --- accounts: a derived key and its address --------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def account_key(name: str) -> str:
    """The wallet key of the engine account ``name`` (0x + 64 hex): a well-known test value."""
    for salt in range(256):  # the first below the curve order (the first, in practice)
        k = int.from_bytes(hashlib.sha256(f"killswitch simulated hyperliquid {name} {salt}".encode()).digest(), "big")
        if 0 < k < _N:
            return "0x%064x" % k
    raise ValueError(name)  # pragma: no cover - 256 draws above the order


@functools.lru_cache(maxsize=256)
def account_address(name: str) -> str:
    """The address (0x + 40 lowercase hex) of :func:`account_key`: what the account's reads name."""
    from coincurve import PrivateKey

    return _address(PrivateKey(bytes.fromhex(account_key(name)[2:])).public_key.format(compressed=False))


def addresses(engine: Any) -> dict[str, str]:
    """Address → account name, of every engine account."""
    return {account_address(name): name for name in engine.accounts}


# --- secp256k1 and the venue's action hash: enough to recover a signer ------------------------------------------

# the curve's order: a derived key is below it
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _keccak(data: bytes) -> bytes:
    return bytes(keccak256(data))  # in C (hashlib's sha3 pads otherwise; ccxt's own is Python)


def _address(public: bytes) -> str:
    """The address of an uncompressed public key (0x04 + x + y)."""
    return "0x" + _keccak(public[1:])[-20:].hex()


def _recover(digest: bytes, r: int, s: int, v: int) -> Optional[str]:
    """The address that signed ``digest`` with (r, s, v), or None for no valid signature.

    libsecp256k1's recovery through coincurve (a dependency of ccxt's): the curve arithmetic
    written in Python took 35-70 ms an action, the simulator's one loop held that long for
    every Hyperliquid order and cancel, which the bench read as the venue's slow cancel."""
    from coincurve import PublicKey

    if not (0 < r < _N and 0 < s < _N) or v not in (27, 28, 0, 1):
        return None
    try:
        public = PublicKey.from_signature_and_message(r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v % 27]),
                                                      digest, hasher=None)
    except Exception:  # noqa: BLE001 - coincurve's own errors (no point on the curve): no valid signature
        return None
    return _address(public.format(compressed=False))


def _typehash(spec: str) -> bytes:
    return _keccak(spec.encode())


@functools.cache
def _domain_and_agent() -> tuple[bytes, bytes]:
    """The EIP-712 domain separator and the Agent type's hash: made at the first signature
    checked, not at import."""
    domain = _keccak(_typehash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
                     + _keccak(b"Exchange") + _keccak(b"1") + CHAIN_ID.to_bytes(32, "big") + bytes(32))
    return domain, _typehash("Agent(string source,bytes32 connectionId)")


def action_digest(action: Any, nonce: int, vault: Optional[str], source: str = "a",
                  expires_after: Optional[int] = None) -> bytes:
    """What an L1 action's signature signs: the EIP-712 hash of the phantom agent ``source``
    ("a" mainnet, "b" testnet) whose connection id hashes the action's msgpack, the nonce and
    the vault."""
    from ccxt.base.exchange import Exchange  # msgpack as ccxt packs it

    data = Exchange.packb(action) + int(nonce).to_bytes(8, "big")
    data += b"\x00" if vault is None else b"\x01" + bytes.fromhex(vault.removeprefix("0x"))
    if expires_after is not None:
        data += b"\x00" + int(expires_after).to_bytes(8, "big")
    domain, agent = _domain_and_agent()
    struct = _keccak(agent + _keccak(source.encode()) + _keccak(data))
    return _keccak(b"\x19\x01" + domain + struct)


def warm() -> None:
    """Load what the first signature checked needs (ccxt's msgpack, which imports the whole ccxt
    package: a second and more; libsecp256k1; the domain's hashes) before a bench times the
    face (:meth:`adapters.simulated.http.SimServer.warm`): paid at the first action, it held
    the simulator's one loop that long, and the rogue bench read the first cancels as the
    venue's slow ones (p99 0.4-1.4 s). Not at a server's start: most never check a signature."""
    from ccxt.base.exchange import Exchange  # noqa: F401 - imported for its cost
    from coincurve import PublicKey  # noqa: F401

    _domain_and_agent()


def signer(body: dict, addresses: dict[str, str]) -> Optional[str]:
    """The address that signed ``body``'s action (mainnet or testnet agent), preferring one that
    is an account's; None when the signature does not parse."""
    sig = body.get("signature")
    if not isinstance(sig, dict) or not all(k in sig for k in ("r", "s", "v")):
        return None
    try:
        r, s, v = int(str(sig["r"]), 16), int(str(sig["s"]), 16), int(sig["v"])
        vault = body.get("vaultAddress")
        found = None
        for source in ("a", "b"):
            found = _recover(action_digest(body["action"], int(body["nonce"]), vault, source,
                                           body.get("expiresAfter")), r, s, v)
            if found in addresses:
                return found
        return found
    except (TypeError, ValueError):
        return None


__all__ = ["CHAIN_ID", "account_key", "account_address", "action_digest", "addresses", "signer"]
