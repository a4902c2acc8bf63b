"""Hyperliquid's signatures hashed in C (adapters/ccxt_exchange/keccak.py): the same digests
as ccxt's own Keccak, the same signature, installed where ccxt looks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ccxt.static_dependencies import keccak as ccxt_keccak
from hypothesis import given, settings, strategies as st

from adapters.ccxt_exchange import keccak as hl_keccak
from adapters.venues.hyperliquid.face import keys as face_keys

PURE = ccxt_keccak.keccak.SHA3  # the pure-Python sponge, whatever the package exports


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_the_digest_is_ccxts(data):
    assert hl_keccak.keccak256(data) == PURE(data)


def test_known_digests():
    assert hl_keccak.keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert hl_keccak.keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


def _use(monkeypatch, fn) -> None:
    from ccxt.static_dependencies.ethabi import abi, typed_data

    monkeypatch.setattr(ccxt_keccak, "SHA3", fn)
    monkeypatch.setattr(typed_data, "keccak", fn)
    monkeypatch.setattr(abi, "keccak", fn)


def test_a_signature_is_the_same_and_the_face_recovers_its_signer(monkeypatch):
    import ccxt

    wallet = face_keys.account_address("sim-0")
    client = ccxt.hyperliquid({"walletAddress": wallet, "privateKey": face_keys.account_key("sim-0")})
    action = {"type": "cancel", "cancels": [{"a": 3, "o": 987654321}]}
    _use(monkeypatch, PURE)
    slow = client.sign_l1_action(action, 1_767_225_600_123)
    _use(monkeypatch, hl_keccak.keccak256)
    fast = client.sign_l1_action(action, 1_767_225_600_123)
    assert fast == slow
    body = {"action": action, "nonce": 1_767_225_600_123, "signature": fast, "vaultAddress": None}
    assert face_keys.signer(body, {wallet: "sim-0"}) == wallet
    body["nonce"] += 1  # another action's hash: another signer, not the account's
    assert face_keys.signer(body, {wallet: "sim-0"}) != wallet


def test_install_puts_it_where_ccxt_looks(monkeypatch):
    from ccxt.static_dependencies.ethabi import abi, typed_data

    _use(monkeypatch, PURE)
    monkeypatch.setattr(ccxt_keccak, "_pure_python_sha3", PURE, raising=False)
    monkeypatch.setattr(hl_keccak, "_installed", False)
    assert hl_keccak.install() is True
    assert ccxt_keccak.SHA3 is typed_data.keccak is abi.keccak is hl_keccak.keccak256
    assert hl_keccak.install() is True  # once: a second call changes nothing


def test_a_fast_keccak_already_there_is_kept(monkeypatch):
    def openssl(data):
        return PURE(data)

    _use(monkeypatch, openssl)
    monkeypatch.setattr(ccxt_keccak, "_pure_python_sha3", PURE, raising=False)
    monkeypatch.setattr(hl_keccak, "_installed", False)
    assert hl_keccak.install() is False
    assert ccxt_keccak.SHA3 is openssl


WARM = """
import sys
import ccxt.async_support as ccxt
from adapters.ccxt_exchange.keccak import warm
warm(ccxt.{venue}())
print("Crypto.Hash.keccak" in sys.modules, "coincurve" in sys.modules)
"""


@pytest.mark.parametrize("venue, loaded", [("hyperliquid", "True True"), ("binanceusdm", "False False")])
def test_a_wallet_signing_client_loads_its_signers_modules_when_configured(venue, loaded):
    # the first signature loaded them (cffi's C parser under pycryptodome's Keccak): 60-170 ms
    # between a reaction's first close leaving the decider and its request leaving the reader
    out = subprocess.run([sys.executable, "-c", WARM.format(venue=venue)], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split() == loaded.split()
