"""The simulated Hyperliquid's keys and signatures: each account's derived wallet, a signer recovered.

What it owns
    every engine account's wallet key and address, derived from its name (:func:`account_key`,
    :func:`account_address`: well-known test values, like the engine's API keys), and what the
    REST face needs to check an L1 action's signature as the venue does: secp256k1 enough to
    recover a signer from ``r``, ``s`` and ``v``, and the action's EIP-712 hash (the phantom
    agent of the action's msgpack hash, nonce and vault: :func:`action_digest`).

What it must not do
    hold keys beyond the derived test keys, or know HTTP.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Optional

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
    pub = _mul(int(account_key(name), 16), _G)
    assert pub is not None
    return _address(pub)


def addresses(engine: Any) -> dict[str, str]:
    """Address → account name, of every engine account."""
    return {account_address(name): name for name in engine.accounts}


# --- secp256k1 and the venue's action hash: enough to recover a signer ------------------------------------------

_P = 2 ** 256 - 2 ** 32 - 977
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
      0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
Point = Optional[tuple[int, int]]


def _add(a: Point, b: Point) -> Point:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % _P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, _P) % _P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, _P) % _P
    x = (lam * lam - a[0] - b[0]) % _P
    return x, (lam * (a[0] - x) - a[1]) % _P


def _mul(k: int, pt: Point) -> Point:
    out: Point = None
    while k:
        if k & 1:
            out = _add(out, pt)
        pt = _add(pt, pt)
        k >>= 1
    return out


def _keccak(data: bytes) -> bytes:
    from ccxt.base.exchange import Exchange  # the keccak ccxt ships (hashlib's sha3 pads otherwise)

    return Exchange.hash(data, "keccak", "binary")


def _address(pub: tuple[int, int]) -> str:
    return "0x" + _keccak(pub[0].to_bytes(32, "big") + pub[1].to_bytes(32, "big"))[-20:].hex()


def _recover(digest: bytes, r: int, s: int, v: int) -> Optional[str]:
    """The address that signed ``digest`` with (r, s, v), or None for no valid signature."""
    if not (0 < r < _N and 0 < s < _N) or v not in (27, 28, 0, 1):
        return None
    y2 = (pow(r, 3, _P) + 7) % _P
    y = pow(y2, (_P + 1) // 4, _P)
    if y * y % _P != y2:
        return None
    if y % 2 != v % 27 % 2:
        y = _P - y
    z = int.from_bytes(digest, "big")
    rinv = pow(r, -1, _N)
    q = _add(_mul(-z * rinv % _N, _G), _mul(s * rinv % _N, (r, y)))
    return _address(q) if q is not None else None


def _typehash(spec: str) -> bytes:
    return _keccak(spec.encode())


@functools.cache
def _domain_and_agent() -> tuple[bytes, bytes]:
    """The EIP-712 domain separator and the Agent type's hash: made at the first signature
    checked, not at import (keccak is ccxt's, whose import costs a simulator that serves no
    Hyperliquid request a second of CPU at every start)."""
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
