"""``ksctl validate`` checks documents: it never loads the runner, ccxt or the venue adapter.

Its weight-budget check reads the venue dialects' tables (KS230/KS231) and the pace the runner
would tick at; both are reachable without the runner's parts or the ccxt adapter, whose import
alone cost validate about a fifth of its CPU. A module of either, once imported by validate,
fails here by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, runpy, sys
sys.argv = ["ksctl", "validate", sys.argv[1], "--accounts", sys.argv[2]]
try:
    runpy.run_module("killswitch.cli.main", run_name="__main__")
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_validate_imports_neither_the_runner_nor_the_adapter():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [str(ROOT / "policies"), str(ROOT / "policies" / "accounts.yaml")]
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    assert seen["code"] in (0, None), proc.stdout
    assert "ok:" in proc.stdout  # the check ran, the weight budget with it
    heavy = [m for m in seen["modules"] if m.startswith(("killswitch.runner", "ccxt", "adapters.ccxt_exchange.adapter",
                                                         "adapters.simulated", "aiohttp", "psycopg"))]
    assert heavy == []
