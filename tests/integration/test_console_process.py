"""``ksctl run`` serves the console on its API's port: public with ``--console-public`` (or
``KS_CONSOLE_PUBLIC``), else only to a token's holder. A real process against the simulated
exchange's HTTP face (through ccxt); every process is killed in ``finally``."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.procs import NO_READERS, free_port, wait_port

from .test_processes import API_TOKEN, ENV, KSCTL, Sim, stop, wait_for, write_inputs


def get(url: str, token: str = "") -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.parametrize("public", ["flag", "env", None])
def test_ksctl_run_serves_the_console_on_the_api_port(tmp_path, public):
    sim = Sim(tmp_path, scenario="calm")  # nothing happens: no incident while the test reads
    runner, out = None, open(tmp_path / "run.out", "w")
    try:
        pol, acc = write_inputs(tmp_path, sim.port)
        port = free_port()
        args = [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc),
                "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
                "--api-port", str(port), *NO_READERS] + (["--console-public"] if public == "flag" else [])
        env = {**ENV, "KS_API_TOKEN": API_TOKEN, **({"KS_CONSOLE_PUBLIC": "1"} if public == "env" else {})}
        runner = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_port(port)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(base + "/readyz")[0] == 200, 30, "the first tick")
        status, page = get(base + "/")
        assert status == 200 and "killswitch console" in page
        assert ("binanceusdm/sim-main" in page) == (public is not None)
        status, view = get(base + "/console/view")
        assert status == (200 if public else 401)
        status, view = get(base + "/console/view", API_TOKEN)  # the shared token: every role but approver
        assert status == 200 and "binanceusdm/sim-main" in view and "crash-ladder" in view
        status, incidents = get(base + "/v1/incidents", API_TOKEN)
        assert status == 200 and json.loads(incidents) == {"incidents": []}
        assert API_TOKEN not in page + view
    finally:
        stop(runner)
        out.close()
        sim.close()
    text = (tmp_path / "run.out").read_text()
    shown = "anyone (read-only without a token)" if public else "a token's holder"
    assert f"ksctl run: console at http://127.0.0.1:{port}/ for {shown}" in text
