"""``ksctl run --web-config-file`` as a process: a certificate that cannot be served stops the
start (exit 2, the file and what is wrong said, nothing listening: never plain HTTP in its
place); a good one serves https, where ``ksctl`` locks a scope as the identity its client
certificate maps to, and the audit row names that identity."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

from killswitch.state import open_store
from tests.integration.test_processes import ENV, KSCTL, Sim, stop, write_inputs
from tests.procs import NO_READERS, free_port, wait_port
from tests.tls_certs import Ca


def _run(tmp_path, port: int, web: str, *extra: str, sim_port: int = 1):
    pol, acc = write_inputs(tmp_path, sim_port)
    return [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc),
            "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
            "--api-port", str(port), "--web-config-file", web, *NO_READERS, *extra]


@pytest.mark.parametrize("broken,said", [
    ("missing", "cert_file {dir}/server.crt: no such file (the server's certificate)"),
    ("mismatched", "key_file {dir}/server.key: not the key of the certificate in cert_file {dir}/server.crt"),
    ("unknown-key", "{dir}/web.yml:4:3: tls_server_config.min_versoin: unknown key (did you mean 'min_version'?)"),
])
def test_a_certificate_that_cannot_be_served_stops_the_start(tmp_path, broken, said):
    ca = Ca(tmp_path)
    ca.server()
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                   + ("  min_versoin: TLS13\n" if broken == "unknown-key" else ""))
    if broken == "missing":
        (tmp_path / "server.crt").unlink()
    elif broken == "mismatched":
        ca.server("other")
        (tmp_path / "server.key").write_bytes((tmp_path / "other.key").read_bytes())
    port = free_port()
    got = subprocess.run(_run(tmp_path, port, str(web)), capture_output=True, text=True, env=ENV, timeout=120)
    assert got.returncode == 2, got.stderr[-2000:]
    assert "WEB_CONFIG_INVALID: " + said.format(dir=tmp_path) in got.stderr
    assert "never plain HTTP in its place" in got.stderr and "API at" not in got.stdout
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens


def test_ksctl_locks_over_mutual_tls_as_its_certificate_s_identity_and_the_audit_names_it(tmp_path):
    ca = Ca(tmp_path, "desk")
    ca.server()
    bot = ca.issue("bot", "pricing-bot")
    (tmp_path / "web.yml").write_text(f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                      f"  client_ca_file: {ca.path.name}\n"
                                      "  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\n")
    (tmp_path / "tokens.yaml").write_text(json.dumps({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
        {"identity": "pricing-bot", "roles": ["operator"], "client_cert": {"subject_cn": "pricing-bot"}}]}))
    sim = Sim(tmp_path, scenario="calm")
    port = free_port()
    env = {k: v for k, v in ENV.items() if k != "KS_API_TOKEN"}
    out, err = open(tmp_path / "run.out", "w"), open(tmp_path / "run.err", "w")
    runner = None
    try:
        runner = subprocess.Popen(_run(tmp_path, port, str(tmp_path / "web.yml"), "--api-tokens",
                                       str(tmp_path / "tokens.yaml"), sim_port=sim.port),
                                  stdout=out, stderr=err, env=env)
        wait_port(port, 60)
        url = f"https://127.0.0.1:{port}"
        tls = ["--api", url, "--ca-file", str(ca.path), "--cert-file", str(bot.cert), "--key-file", str(bot.key)]
        got = subprocess.run([str(KSCTL), "lock", "--scope", "binanceusdm/sim-main", "--reason", "drill", "--yes",
                              *tls], capture_output=True, text=True, env=env, timeout=60)
        assert got.returncode == 0, got.stdout + got.stderr
        got = subprocess.run([str(KSCTL), "status", "-o", "json", *tls], capture_output=True, text=True, env=env,
                             timeout=60)
        assert got.returncode == 0, got.stderr
        # without the client certificate: the handshake is refused (exit 5), never served
        got = subprocess.run([str(KSCTL), "status", "--api", url, "--ca-file", str(ca.path)], capture_output=True,
                             text=True, env=env, timeout=60)
        assert got.returncode == 5, got.stdout + got.stderr
    finally:
        stop(runner)
        out.close()
        err.close()
        sim.close()
    said = (tmp_path / "run.out").read_text()
    assert f"TLS 1.3, certificate {tmp_path / 'server.crt'}; a client certificate required" in said
    assert f"API at {url}" in said
    store = open_store(f"sqlite://{tmp_path / 'state.db'}", migrate=False)
    try:
        rows = [r.payload for r in store.audit_rows() if "lock" in r.kind]
    finally:
        store.close()
    assert [(r["scope"], r["by"]) for r in rows] == [("binanceusdm/sim-main", "pricing-bot")], rows
