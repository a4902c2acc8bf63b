"""Benchmark: what signing one Hyperliquid action costs the process that sends it.

ccxt signs every Hyperliquid order and cancel (an EIP-712 hash of the action's msgpack, then
secp256k1); the runner calls it on its deciding loop, so its time is a hold of that loop before
each close of a flatten and each cancel of a rogue order goes out. Times ccxt's
``sign_l1_action`` on a one-order cancel with ccxt's Keccak as it comes (pure Python where
OpenSSL is older than 3.2) and after :func:`adapters.ccxt_exchange.keccak.install` (C),
and the simulated face's check of the same signature (:func:`adapters.venues.hyperliquid.
face.keys.signer`), each the median of ``--runs`` rounds of ``--signs`` signatures, beside
the reference loop (bench/harness.py). Nothing here asserts.

    .venv/bin/python bench/hyperliquid_sign.py [--signs 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import machine, reference_ms  # noqa: E402


def per_sign_ms(sign, signs: int, runs: int) -> float:
    rounds = []
    for _ in range(runs):
        started = time.perf_counter()
        for i in range(signs):
            sign(i)
        rounds.append((time.perf_counter() - started) / signs * 1000)
    return statistics.median(rounds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--signs", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import ccxt
    from ccxt.static_dependencies import keccak as ccxt_keccak

    from adapters.ccxt_exchange.keccak import install
    from adapters.venues.hyperliquid.face import keys as face_keys

    wallet = face_keys.account_address("sim-0")
    client = ccxt.hyperliquid({"walletAddress": wallet, "privateKey": face_keys.account_key("sim-0")})
    action = {"type": "cancel", "cancels": [{"a": 0, "o": 123456789}]}
    nonce = 1_767_225_600_000

    def sign(i: int) -> dict:
        return client.sign_l1_action(action, nonce + i)

    loop = reference_ms()
    print(f"{machine()}; a one-order cancel, {args.signs} signatures x {args.runs}")
    fast_already = ccxt_keccak.SHA3 is not getattr(ccxt_keccak, "_pure_python_sha3", ccxt_keccak.SHA3)
    if not fast_already:
        ms = per_sign_ms(sign, args.signs, args.runs)
        print(f"ccxt's Keccak (Python):     {ms:7.2f} ms a signature ({ms / loop:.2f} loops)")
    install()
    ms = per_sign_ms(sign, args.signs, args.runs)
    print(f"Keccak in C{' (OpenSSL)' if fast_already else ' (installed)'}:    {ms:7.2f} ms a signature "
          f"({ms / loop:.2f} loops)")
    sig = sign(0)
    body = {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None}
    known = {wallet: "sim-0"}
    if face_keys.signer(body, known) != wallet:
        sys.exit("the face did not recover the signer: the figure would not be a check's")
    ms = per_sign_ms(lambda i: face_keys.signer(body, known), args.signs, args.runs)
    print(f"the face's check:           {ms:7.2f} ms a signature ({ms / loop:.2f} loops)")


if __name__ == "__main__":
    main()
