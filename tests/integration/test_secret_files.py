"""Every secret of ``ksctl run`` from a file, nothing from the environment (docs/runner.md,
"Secrets as files"): a real runner against the simulated exchange, its exchange keys as
``{file:}`` references, the PostgreSQL URL from ``--state-url-file``, the shared API token from
``--api-token-file`` and the audit key from ``--audit-key-file``, with none of KS_STATE_URL,
KS_API_TOKEN, KS_AUDIT_KEY or the keys' variables set. Then each file that cannot be used stops
the start (exit 2) with the option and the path named, and none of its content said."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from tests.procs import free_port, wait_port

from .test_processes import ENV, KSCTL, Sim, stop, wait_for, write_inputs

TOKEN = "file-token-" + "7" * 32
AUDIT_KEY = "file-audit-key-" + "a" * 40
SECRET_VARS = ("KS_STATE_URL", "KS_API_TOKEN", "KS_AUDIT_KEY", "KS_T_KEY", "KS_T_SECRET", "KS_STATE_URL_FILE",
               "KS_API_TOKEN_FILE", "KS_AUDIT_KEY_FILE")


def _env() -> dict[str, str]:
    return {k: v for k, v in ENV.items() if k not in SECRET_VARS}


def _secret_dir(tmp_path, files: dict[str, str]):
    d = tmp_path / "secrets"
    d.mkdir()
    for name, value in files.items():
        (d / name).write_text(value + "\n")
        (d / name).chmod(0o400)
    return d


def _get(port: int, path: str, token: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_a_runner_takes_every_secret_from_files_and_none_from_the_environment(tmp_path, pg_database):
    secrets = _secret_dir(tmp_path, {"state-url": pg_database, "api-token": TOKEN, "audit-key": AUDIT_KEY,
                                     "sim-key": "sim-main-key", "sim-secret": "sim-main-secret"})
    sim = Sim(tmp_path, scenario="calm")
    runner = None
    out, err = open(tmp_path / "run.out", "w"), open(tmp_path / "run.err", "w")
    try:
        pol, acc = write_inputs(tmp_path, sim.port)
        acc.write_text(acc.read_text().replace(
            "{api_key: {env: KS_T_KEY}, secret: {env: KS_T_SECRET}}",
            f"{{api_key: {{file: {secrets / 'sim-key'}}}, secret: {{file: {secrets / 'sim-secret'}}}}}"))
        assert "{file: " in acc.read_text() and "env:" not in acc.read_text()
        port = free_port()
        runner = subprocess.Popen(
            [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc),
             "--state-url-file", str(secrets / "state-url"), "--api-token-file", str(secrets / "api-token"),
             "--audit-key-file", str(secrets / "audit-key"), "--lock-file", str(tmp_path / "lock.json"),
             "--api-port", str(port)], stdout=out, stderr=err, env=_env())
        wait_port(port, 60)
        assert _get(port, "/v1/whoami", TOKEN)["identity"] == "shared-token"
        # a ksctl beside it (in the chart's pod) takes the token from the file KS_API_TOKEN_FILE names
        api = f"http://127.0.0.1:{port}"
        status = subprocess.run([str(KSCTL), "status", "--api", api, "-o", "json"], capture_output=True, text=True,
                                timeout=60, env={**_env(), "KS_API_TOKEN_FILE": str(secrets / "api-token")})
        assert status.returncode == 0 and json.loads(status.stdout), status.stderr
        refused = subprocess.run([str(KSCTL), "status", "--api", api, "-o", "json"], capture_output=True, text=True,
                                 timeout=60, env={**_env(), "KS_API_TOKEN_FILE": str(tmp_path / "none")})
        assert refused.returncode == 2 and "SECRET_FILE_MISSING: KS_API_TOKEN_FILE" in refused.stderr, refused.stderr

        # the simulator refuses a wrong key (-2015): the account's triggers armed means its
        # snapshots were read with the keys of the files
        wait_for(lambda: "SCOPE_ARMED: crash-ladder binanceusdm/sim-main" in (tmp_path / "run.out").read_text(),
                 60, "the account read with the keys of the files")
    finally:
        stop(runner)
        out.close()
        err.close()
        sim.close()
    said = (tmp_path / "run.out").read_text() + (tmp_path / "run.err").read_text()
    assert "postgresql" in said.lower() and "API identities: shared-token" in said, said[-2000:]
    assert "AUTH" not in said and "SECRET_FILE" not in said, said[-2000:]
    assert "no audit key" not in said, said[-2000:]
    for value in (TOKEN, AUDIT_KEY, "sim-main-secret"):
        assert value not in said


def _run(tmp_path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    pol = tmp_path / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "p.yaml").write_text("")
    acc = tmp_path / "accounts.yaml"
    acc.write_text("")
    return subprocess.run([str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc), "--api-port", "-1",
                           "--max-ticks", "1", *args], capture_output=True, text=True, timeout=60,
                          env=env if env is not None else _env())


@pytest.mark.parametrize("option", ["--api-token-file", "--state-url-file"])
@pytest.mark.parametrize("case,code", [("missing", "SECRET_FILE_MISSING"), ("empty", "SECRET_FILE_EMPTY"),
                                       ("directory", "SECRET_FILE_NOT_A_FILE")])
def test_a_secret_file_that_cannot_be_used_stops_the_start_naming_the_option_and_the_path(tmp_path, option, case,
                                                                                          code):
    path = tmp_path / "secret"
    if case == "empty":
        path.write_text("\n")
    elif case == "directory":
        path.mkdir()
    r = _run(tmp_path, option, str(path))
    assert r.returncode == 2, r.stderr
    assert option in r.stderr and code in r.stderr and str(path) in r.stderr, r.stderr


def test_a_state_url_file_with_no_url_is_refused_without_its_content(tmp_path):
    f = tmp_path / "state-url"
    f.write_text("postgresq://ks:hunter2-password@db/ks\n")
    r = _run(tmp_path, "--state-url-file", str(f))
    assert r.returncode == 2 and "STATE_URL_INVALID" in r.stderr and str(f) in r.stderr, r.stderr
    assert "hunter2" not in r.stderr + r.stdout


def test_a_state_url_file_and_a_state_url_are_not_both_taken(tmp_path):
    f = tmp_path / "state-url"
    f.write_text(f"sqlite://{tmp_path / 'a.db'}\n")
    r = _run(tmp_path, "--state-url-file", str(f), "--state", f"sqlite://{tmp_path / 'b.db'}")
    assert r.returncode == 2 and "not both" in r.stderr, r.stderr
    r = _run(tmp_path, "--state-url-file", str(f), env={**_env(), "KS_STATE_URL": f"sqlite://{tmp_path / 'b.db'}"})
    assert r.returncode == 2 and "KS_STATE_URL" in r.stderr and "not both" in r.stderr, r.stderr
