"""``ksctl run`` and the client verbs' variable ``KS_API_TOKEN``: beside a tokens document the
runner does not take it as a shared token unless ``--api-token-env`` is given (an on-call who
exported their own token for ``ksctl lock`` restarts the runner from that shell and it starts,
warned, never with a second identity nobody chose); asked for and listed, the refusal names the
variable and whose token it is; without a tokens document it is the shared token as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from killswitch.face.api.identity import token_digest
from tests.conftest import POLICIES
from tests.procs import NO_READERS, accounts_file, free_port

ALICE, STALE = "shared-case-alice-0123456789", "shared-case-stale-0123456789"


def _whoami(url: str, token: str) -> tuple[int, str]:
    req = urllib.request.Request(url + "/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())["identity"]
    except urllib.error.HTTPError as e:
        return e.code, ""


class Runner:
    """``ksctl run`` on the example book (no venue listens: fetches fail, not fatal) with
    ``KS_API_TOKEN`` set to ``exported``, alice's tokens document when ``tokens``."""

    def __init__(self, tmp: Path, exported: str, tokens: bool = True, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"run-{self.port}.log"
        args = [str(Path(sys.executable).with_name("ksctl")), "run", "--policies", str(POLICIES / "futures-book.yaml"),
                "--accounts", str(accounts_file(tmp, free_port())), "--state", f"sqlite://{tmp / 'state.db'}",
                "--lock-file", str(tmp / "lock.json"), "--api-port", str(self.port), *NO_READERS, *extra]
        if tokens:
            doc = tmp / "tokens.yaml"
            doc.write_text("apiVersion: killswitch/v1\nkind: ApiTokens\ntokens:\n"
                           f"  - {{identity: alice, roles: [operator, approver], sha256: {token_digest(ALICE)}}}\n")
            args += ["--api-tokens", str(doc)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KS_", "OTEL_"))}
        env.update(KS_API_TOKEN=exported, KS_T_KEY="k", KS_T_SECRET="s", OTEL_TRACES_EXPORTER="none")
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)

    def text(self) -> str:
        return self.log.read_text()

    def started(self) -> str:
        end = time.monotonic() + 60
        while time.monotonic() < end and self.proc.poll() is None:
            if "ksctl run: API at " in self.text():
                return self.text()
            time.sleep(0.2)
        raise AssertionError(f"the runner did not start (exit {self.proc.poll()}):\n{self.text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_a_runner_started_from_the_on_calls_shell_takes_not_her_exported_token(tmp_path):
    """The walk's case: alice's own token exported for the client verbs, the runner restarted
    from that shell. It starts, says why the variable is not taken, and alice is alice."""
    r = Runner(tmp_path, ALICE)
    try:
        log = r.started()
        [warned] = [x for x in log.splitlines() if "KS_API_TOKEN is set but not taken" in x]
        assert " WARNING " in warned and "alice's personal token" in warned and "***" not in warned, warned
        assert "pass --api-token-env KS_API_TOKEN to also use it as a shared token" in warned
        assert "ksctl run: API identities: alice" in log and "shared-token" not in log
        assert ALICE not in log
        assert _whoami(r.url, ALICE) == (200, "alice")
    finally:
        r.stop()


def test_an_exported_token_the_document_does_not_list_gives_the_runner_no_identity(tmp_path):
    r = Runner(tmp_path, STALE)
    try:
        log = r.started()
        [warned] = [x for x in log.splitlines() if "KS_API_TOKEN is set but not taken" in x]
        assert "the tokens document does not list it, so the API refuses it" in warned, warned
        assert "shared-token" not in log and STALE not in log
        assert _whoami(r.url, STALE) == (401, "")  # not an operator credential of the runner
        assert _whoami(r.url, ALICE) == (200, "alice")
    finally:
        r.stop()


def test_a_shared_token_asked_for_that_is_alices_is_refused_naming_the_variable_and_her(tmp_path):
    r = Runner(tmp_path, ALICE, True, "--api-token-env", "KS_API_TOKEN")
    try:
        assert r.proc.wait(60) == 2
    finally:
        r.stop()
    log = r.text()
    assert ("the shared API token from KS_API_TOKEN is alice's personal token in the tokens document: "
            "give each person their own token") in log and "nothing started" in log, log
    assert ALICE not in log


def test_a_shared_token_asked_for_beside_personal_ones_is_taken_and_said_with_its_roles(tmp_path):
    r = Runner(tmp_path, STALE, True, "--api-token-env", "KS_API_TOKEN")
    try:
        log = r.started()
        [warned] = [x for x in log.splitlines() if "the shared API token from KS_API_TOKEN is taken" in x]
        assert " WARNING " in warned and "acts as shared-token with roles bot, drift, operator, viewer" in warned
        assert "ksctl run: API identities: alice, shared-token" in log and STALE not in log
        assert _whoami(r.url, STALE) == (200, "shared-token")
    finally:
        r.stop()


def test_without_a_tokens_document_the_exported_token_is_the_shared_one_as_before(tmp_path):
    r = Runner(tmp_path, STALE, False)
    try:
        log = r.started()
        assert "ksctl run: API identities: shared-token" in log and "not taken" not in log
        assert "WARNING: the shared API token" not in log
        assert _whoami(r.url, STALE) == (200, "shared-token")
    finally:
        r.stop()
