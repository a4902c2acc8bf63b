"""``ksctl run --oidc-config`` as a process: a configuration that cannot be used, or a provider that
cannot be discovered, stops the start (exit 2, the key or the provider said, nothing listening);
a good one signs a person in through a real OpenID provider (oidc-provider-mock on 127.0.0.1),
whose lock from the console's origin is audited under the name the provider gave."""

from __future__ import annotations

import json
import socket
import subprocess

import requests

from killswitch.state import open_store
from tests.integration.test_processes import ENV, KSCTL, Sim, stop, write_inputs
from tests.procs import NO_READERS, free_port, wait_port
from tests.signin_provider import provider, sign_in, write_config  # noqa: F401 - a fixture


def _run(tmp_path, port: int, oidc: str, *extra: str, sim_port: int = 1) -> list[str]:
    pol, acc = write_inputs(tmp_path, sim_port)
    return [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc),
            "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
            "--api-port", str(port), "--oidc-config", oidc, *NO_READERS, *extra]


def _refused(tmp_path, config) -> str:
    port = free_port()
    got = subprocess.run(_run(tmp_path, port, str(config)), capture_output=True, text=True, env=ENV, timeout=120)
    assert got.returncode == 2, got.stderr[-2000:]
    assert "API at" not in got.stdout
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens
    return got.stderr


def test_a_bad_configuration_stops_the_start_naming_its_key(tmp_path):
    config = write_config(tmp_path, "https://login.desk.example", "https://killswitch.desk.example",
                          groups_clam="roles")
    said = _refused(tmp_path, config)
    assert (f"OIDC_CONFIG_INVALID: {config}: unknown key 'groups_clam' (did you mean 'groups_claim'?)" in said), said


def test_a_provider_that_cannot_be_discovered_stops_the_start(tmp_path):
    issuer = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = write_config(tmp_path, issuer, "https://killswitch.desk.example")
    said = _refused(tmp_path, config)
    assert f"OIDC_PROVIDER_UNUSABLE: {config}: issuer {issuer}: {issuer}/.well-known/openid-configuration " \
           "cannot be reached" in said, said


def test_a_person_signs_in_to_ksctl_run_and_the_audit_names_them(tmp_path, provider):  # noqa: F811
    provider.user("u-77", email="dana@desk.example", groups=["risk-oncall"])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path, provider.issuer, url)
    (tmp_path / "tokens.yaml").write_text(json.dumps({"apiVersion": "killswitch/v1", "kind": "ApiTokens",
                                                      "groups": [{"group": "risk-oncall", "roles": ["operator"]}]}))
    sim = Sim(tmp_path, scenario="calm")
    env = {k: v for k, v in ENV.items() if k != "KS_API_TOKEN"}
    out, err = open(tmp_path / "run.out", "w"), open(tmp_path / "run.err", "w")
    runner = None
    try:
        runner = subprocess.Popen(_run(tmp_path, port, str(config), "--api-tokens", str(tmp_path / "tokens.yaml"),
                                       sim_port=sim.port), stdout=out, stderr=err, env=env)
        wait_port(port, 60)
        session, landed = sign_in(url, "u-77")
        assert session and landed == url + "/"
        got = requests.post(f"{url}/v1/lock", json={"scope": "binanceusdm/sim-main", "reason": "drill"},
                            headers={"Cookie": f"__Host-ks_session={session}", "Origin": url}, timeout=30)
        assert got.status_code == 200 and got.json()["done"], got.text
    finally:
        stop(runner)
        out.close()
        err.close()
        sim.close()
    said = (tmp_path / "run.out").read_text()
    assert f"sign-in by OpenID Connect: issuer {provider.issuer}, client killswitch-console" in said, said
    assert "sign-outs and the names' subjects are kept in the state store" in said
    logged = said + (tmp_path / "run.err").read_text()
    assert "signed in: dana@desk.example (subject u-77, groups risk-oncall)" in logged
    assert "the-console-client-secret" not in logged
    store = open_store(f"sqlite://{tmp_path / 'state.db'}", migrate=False)
    try:
        rows = [r.payload for r in store.audit_rows() if "lock" in r.kind]
    finally:
        store.close()
    assert [(r["scope"], r["by"]) for r in rows] == [("binanceusdm/sim-main", "dana@desk.example")], rows
