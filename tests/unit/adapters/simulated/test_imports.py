"""The simulated exchange starts without ccxt: it is the venues' side of the wire, and a test
starts one for nearly every runner process it starts. Importing ccxt (every exchange of the
package) cost each start about 0.6 s of CPU, all for two constants of the simulated
Hyperliquid's signature check, now made at the first signature it checks. ``serve`` then read
again whether a venue's master credential signs with a passphrase from a ccxt client of the venue
(about 0.3 s of each start's 1.0), now from the table ``ksctl validate`` checks it by; and which
venues have a switch of the keys, and their sub-account's name, from the ccxt adapter's dialects
(0.1 s), now from the faces' master endpoints (``MASTER``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]

PROBE = """
import json, sys
import adapters.simulated.__main__
from adapters.registry import parts
for field in ("FACE", "STREAM_FACE"):
    parts(field)
before = "ccxt" in sys.modules
from adapters.venues.hyperliquid.face.keys import account_address, action_digest
digest = action_digest({"type": "noop"}, 1, None)
print(json.dumps({"at_start": before, "after_a_signature": "ccxt" in sys.modules,
                  "digest": digest.hex(), "address": account_address("sim-main")}))
"""


def test_the_simulators_faces_import_no_ccxt_until_a_hyperliquid_signature_is_checked():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["at_start"] is False, "a face imports ccxt when the simulator starts"
    assert got["after_a_signature"] is True  # (the keccak and msgpack are ccxt's)
    assert len(bytes.fromhex(got["digest"])) == 32 and got["address"].startswith("0x") and len(got["address"]) == 42


def test_a_warmed_server_has_loaded_what_the_first_hyperliquid_action_needs():
    """A bench warms its server before timing it (SimServer.warm): the first Hyperliquid action
    checked then finds ccxt's msgpack imported and the domain's hashes made, which, paid at the
    first cancel, the rogue bench read as the venue's slow answer (0.4-1.4 s)."""
    probe = """
import json, sys, asyncio
from adapters.simulated.http import SimServer
from adapters.simulated.scenarios import build
from adapters.venues.hyperliquid.face import keys as face_keys
server = SimServer(build("calm", lambda: 1_700_000_000_000, seed=1))
before = "ccxt" in sys.modules or face_keys._domain_and_agent.cache_info().currsize
server.warm()
print(json.dumps({"before": bool(before), "ccxt": "ccxt.base.exchange" in sys.modules,
                  "hashes": face_keys._domain_and_agent.cache_info().currsize}))
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got == {"before": False, "ccxt": True, "hashes": 1}


def test_serve_starts_and_prints_its_settings_without_ccxt_or_the_dialects(tmp_path):
    # the whole start of ``serve``, to its printed settings (every face's account and the revoke
    # blocks, whose master credential carries a passphrase where the venue signs with one)
    err = tmp_path / "importtime.txt"
    with open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "adapters.simulated", "serve", "--port", "0",
                                 "--hold"], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    bound = threading.Timer(60, proc.kill)  # a bound only a hang reaches
    bound.start()
    try:
        printed = []
        for line in proc.stdout:  # the settings, then the server runs until ended
            printed.append(line)
            if line == "}\n":
                break
        info = json.loads("".join(printed))
    finally:
        bound.cancel()
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    imported = re.findall(r"^import time:.*\| +(\S+)$", err.read_text(), re.M)
    assert "adapters.simulated.http" in imported  # the probe read the start's imports
    assert [m for m in imported if m == "ccxt" or m.startswith(("ccxt.", "adapters.ccxt_exchange.dialects"))] == []
    signs = {v: "password" in face["account"]["revoke"]["master_credentials"]
             for v, face in info["venues"].items() if "revoke" in face["account"]}
    assert signs["okx"] and not signs["bybit"]
    assert signs == {v: "password" in info["venues"][v]["account"]["credentials"] for v in signs}
