"""An incident typed one digit off is no dead end, and the runbooks are listed from the runner
(walk 8's L3): ``ksctl runbook render --incident <near miss>`` names the stored incidents close to
it, whether it reads the store or the runner (``--api``: ``GET /v1/runbooks/{incident}``, and the
console's runbook dialog, answer it); ``ksctl runbook list --api`` lists what ``--state`` lists,
from ``GET /v1/runbooks``, with the same semantics as ``render --api``."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.events import runbook_path
from killswitch.face.api.api import make_app, start_api, stop_api

from .test_runbook_incident import crash

TOKEN = "t0ken-for-near-miss-tests"
L2 = "crash-ladder/simulated/sim-main/L2/e2"
MISS = "crash-ladder/simulated/sim-main/L2/e1"  # the stage-2 incident is e2
ENV = {"KS_API_TOKEN": TOKEN, "KS_API_URL": None, "KS_STATE_URL": None}


def invoke(*args: str, env: dict | None = None):
    return CliRunner(env={**ENV, **(env or {})}).invoke(cli, list(args))


def test_near_misses_and_the_runners_list(tmp_path, monkeypatch):
    _, _, _, store, *_ , desk = crash(tmp_path)
    url = store.url
    monkeypatch.chdir(tmp_path)  # no killswitch-state.db here: --api alone must do

    async def go():
        site, api = await start_api(make_app(desk, token=TOKEN))
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                async with http.get(api + runbook_path(MISS)) as r:
                    missed = (r.status, await r.json())
                async with http.get(api + "/console/runbook/" + MISS) as r:
                    console = (r.status, await r.json())
                async with http.get(api + "/v1/runbooks?limit=2") as r:
                    listed = (r.status, await r.json())
                bad = []
                for q in ("limit=0", "limit=1001", "since_ms=-5", "limit=2&limit=3", "page=2"):
                    async with http.get(api + "/v1/runbooks?" + q) as r:
                        bad.append((r.status, (await r.json())["error"]))

            def cli_calls():
                return {
                    "render": invoke("runbook", "render", "--incident", MISS, "--api", api),
                    "list": invoke("runbook", "list", "--api", api),
                    "json": invoke("runbook", "list", "--api", api, "-o", "json"),
                    "since": invoke("runbook", "list", "--api", api, "--since", "2030-01-01"),
                    "env": invoke("runbook", "list", env={"KS_API_URL": api}),
                    "env_store": invoke("runbook", "list", "--state", url, "--limit", "1",
                                        env={"KS_API_URL": api}),
                    "both": invoke("runbook", "list", "--api", api, "--state", url),
                    "no_token": invoke("runbook", "list", "--api", api, env={"KS_API_TOKEN": None}),
                }
            return missed, console, listed, bad, await asyncio.to_thread(cli_calls)
        finally:
            await stop_api(site)

    missed, console, listed, bad, out = asyncio.run(asyncio.wait_for(go(), 60))
    # the API's and the console's 404 name the stored incident one digit away
    assert missed[0] == 404 and missed[1]["error"] == "UNKNOWN_INCIDENT"
    assert f"did you mean '{L2}'" in missed[1]["reason"], missed
    assert console[0] == 404 and f"did you mean '{L2}'" in console[1]["reason"], console
    # the runner's list: the latest two, oldest first, as the store's rows
    assert listed[0] == 200 and [r["incident"] for r in listed[1]["runbooks"]] == [
        L2, "crash-ladder/simulated/sim-main/L3/e3"]
    assert bad == [(400, "BAD_REQUEST")] * 5
    # render --api: refused (exit 1) with the close match
    assert out["render"].exit_code == 1, out["render"].output
    assert "UNKNOWN_INCIDENT" in out["render"].stderr and f"did you mean '{L2}'" in out["render"].stderr
    # list --api prints what list --state prints
    from_store = invoke("runbook", "list", "--state", url)
    assert out["list"].exit_code == 0, out["list"].output
    assert out["list"].stdout == from_store.stdout and from_store.stdout.count("\n") == 3
    assert json.loads(out["json"].stdout) == json.loads(invoke("runbook", "list", "--state", url, "-o", "json").stdout)
    assert out["since"].exit_code == 0 and out["since"].stdout == "no runbook stored\n"
    # KS_API_URL as --api; a store named beside it is read instead; both on the command line: usage
    assert out["env"].exit_code == 0 and out["env"].stdout == from_store.stdout
    assert out["env_store"].exit_code == 0 and out["env_store"].stdout == from_store.stdout.splitlines(True)[-1]
    assert out["both"].exit_code == 2 and "not both" in out["both"].output
    assert out["no_token"].exit_code == 2 and "KS_API_TOKEN" in out["no_token"].stderr


def test_a_near_miss_read_from_the_store_names_the_stored_incident(tmp_path, monkeypatch):
    *_, store, _sink, _reports, _desk = crash(tmp_path)
    out = invoke("runbook", "render", "--incident", MISS, "--state", store.url)
    assert out.exit_code == 1 and f"did you mean '{L2}'" in out.stderr, out.stderr
