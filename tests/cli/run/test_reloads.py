"""``ksctl run`` as a process: the tokens document reloaded on SIGHUP and when its file changes
(an approver added without a restart; a bad document keeps the identities in force, said at
ERROR), the log's INFO line per operator change and per SIGHUP, a policy reload that recovers
said even when the graph it runs is the one that ran, and no audit key said at WARNING."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from killswitch.face.api.identity import token_digest
from tests.conftest import POLICIES
from tests.procs import Receiver, accounts_file, free_port, wait_port

ALICE, BOB = "reload-token-alice-1", "reload-token-bob-22"


def _tokens(path: Path, *people: tuple[str, str, str]) -> None:
    lines = ["apiVersion: killswitch/v1", "kind: ApiTokens", "tokens:"]
    for name, token, roles in people:
        lines += [f"  - identity: {name}", f"    roles: [{roles}]", f"    sha256: {token_digest(token)}"]
    tmp = path.with_suffix(".new")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)  # as the kubelet swaps a Secret's files: whole, never half written


def _whoami(url: str, token: str) -> int:
    req = urllib.request.Request(url + "/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _wait(what, why: str, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting: {why}")


def test_tokens_and_policies_reload_in_place_and_every_change_is_said(tmp_path):
    pol = tmp_path / "policies"
    pol.mkdir()
    # the example book ticking every 200 ms: each change below is taken up between two ticks, so
    # the test waits ticks, not the example's 5 s interval
    book = (POLICIES / "futures-book.yaml").read_text().replace("interval: 5s", "interval: 200ms")
    assert "interval: 200ms" in book
    (pol / "futures-book.yaml").write_text(book)
    # and its pages sent at once (a blind scope's, at start) to a fallback that takes them, not
    # held 10 s and then retried against a closed port while the stop waits up to 5 s for them
    receiver = Receiver()
    routes = (POLICIES / "routes.yaml").read_text().replace("group_wait: 10s", "group_wait: 0s")
    assert "group_wait: 0s" in routes and "json://127.0.0.1:9099/killswitch" in routes
    (pol / "routes.yaml").write_text(routes.replace("127.0.0.1:9099", f"127.0.0.1:{receiver.port}"))
    tokens = tmp_path / "tokens.yaml"
    _tokens(tokens, ("alice", ALICE, "operator, approver"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("KS_API_TOKEN", "KS_AUDIT_KEY")}
    env.update({"KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret"})
    out_path, err_path = tmp_path / "out.log", tmp_path / "err.log"
    exe = Path(sys.executable)
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(
            [str(exe.with_name("ksctl")), "run", "--policies", str(pol),
             "--accounts", str(accounts_file(tmp_path, free_port())),  # nothing listens: fetches fail, not fatal
             "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
             "--api-port", str(port), "--api-tokens", str(tokens)], stdout=out, stderr=err, env=env)
    stdout = lambda: out_path.read_text()  # noqa: E731
    stderr = lambda: err_path.read_text()  # noqa: E731
    try:
        wait_port(port, 60)
        _wait(lambda: "ksctl run: API identities: alice" in stdout(), "the start")
        assert _whoami(url, ALICE) == 200 and _whoami(url, BOB) == 401

        proc.send_signal(signal.SIGHUP)  # nothing changed: said, and said so
        _wait(lambda: "API tokens reloaded (SIGHUP): identities alice (unchanged)" in stdout(), "the SIGHUP reload")
        assert " INFO killswitch.run ksctl run: SIGHUP: reloading the policies and the API tokens document" in stdout()

        _tokens(tokens, ("alice", ALICE, "operator, approver"), ("bob", BOB, "approver"))  # an approver added
        _wait(lambda: "API tokens reloaded (the file changed): identities alice, bob; added: bob (approver)"
              in stdout(), "the file change")
        assert _whoami(url, BOB) == 200  # no restart

        tokens.write_text("apiVersion: killswitch/v1\nkind: ApiTokens\ntokens: [{identity: carol}]\n")
        _wait(lambda: "API TOKENS RELOAD FAILED (the file changed)" in stderr(), "the bad document said")
        [bad] = [x for x in stderr().splitlines() if "API TOKENS RELOAD FAILED" in x]
        assert " ERROR killswitch.run " in bad and bad.endswith("the identities in force stay: alice, bob"), bad
        assert _whoami(url, BOB) == 200 and _whoami(url, ALICE) == 200  # the old identities stay in force

        # an operator's change: one INFO line with who
        req = urllib.request.Request(url + "/v1/lock", method="POST", data=json.dumps(
            {"scope": "global", "reason": "drill", "mode": "reducing"}).encode(),
            headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["done"] is True
        _wait(lambda: "OPERATOR lock by alice (scope=global mode=reducing): LOCKED: scope=global" in stdout(),
              "the lock logged")

        # a policy that breaks, then is put back as it was: the recovery is said, though the graph is the same
        good = (pol / "routes.yaml").read_text()
        (pol / "routes.yaml").write_text(good.replace("receiver: desk-chat", "receiver: nobody", 1))
        _wait(lambda: "POLICY RELOAD FAILED" in stderr(), "the failed reload")
        time.sleep(0.05)
        (pol / "routes.yaml").write_text(good)
        os.utime(pol / "routes.yaml", (time.time() + 5, time.time() + 5))  # a new mtime, whatever the clock's grain
        _wait(lambda: "POLICY RELOAD RECOVERED: the policies compile again" in stdout(), "the recovery said")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        receiver.close()
    logs = stdout() + stderr()
    [warned] = [x for x in stderr().splitlines() if "no audit key" in x]
    assert " WARNING killswitch.run ksctl run: warning: no audit key" in warned, warned
    for secret in (ALICE, BOB, token_digest(ALICE), token_digest(BOB), "sim-main-secret"):
        assert secret not in logs


def test_a_sighup_while_the_runner_starts_is_kept_and_acted_on_not_fatal(tmp_path):
    """A reload sent while ``ksctl run`` starts (before its loop's handler is installed: the
    default action of SIGHUP ends a process) is kept, and said and acted on once it runs."""
    tokens = tmp_path / "tokens.yaml"
    _tokens(tokens, ("alice", ALICE, "operator, approver"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KS_API_TOKEN", "KS_AUDIT_KEY")}
    env.update({"KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret"})
    out_path = tmp_path / "out.log"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("ksctl")), "run", "--policies", str(POLICIES),
             "--accounts", str(accounts_file(tmp_path, free_port())),
             "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
             "--api-port", str(port), "--api-tokens", str(tokens)], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        # as soon as the process has said its first line: well before the loop's handlers
        _wait(lambda: out_path.read_text().strip() or proc.poll() is not None, "the first line")
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: "ksctl run: SIGHUP: reloading the policies" in out_path.read_text() or proc.poll() is not None,
              "the kept SIGHUP")
        assert proc.poll() is None, out_path.read_text()[-2000:]
        wait_port(port, 60)
        assert _whoami(f"http://127.0.0.1:{port}", ALICE) == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
