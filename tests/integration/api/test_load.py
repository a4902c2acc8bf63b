"""The API under load, end to end: real ``ksctl run`` processes against the simulated exchange.

* A leader and a standby on PostgreSQL, hundreds of requests in flight at both (locks, unlocks,
  heartbeats, status reads, order checks) from operator and bot identities: no answer is a 5xx,
  the lease never changes hands, the leader keeps ticking, the standby refuses changes with
  ``NOT_LEADER`` and stores the beats it takes for the leader.
* A lone runner and one identity sending far more changes than its rate: answered 429
  ``RATE_LIMITED`` with ``Retry-After``, counted on ``/metrics`` exactly, and said once in the
  log for that identity, not once a request.

Figures (tick period under load against quiet) are bench/api_load.py's; nothing here is timed.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import re
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from killswitch.state import open_store
from tests.integration.test_console_process import get
from tests.integration.test_leadership import CALM_POLICY, _ready as ready
from tests.integration.test_processes import ENV, KSCTL, Sim, stop, wait_for
from tests.procs import accounts_file, free_port, ticks_of

OPERATORS, BOTS = 8, 2


def token(kind: str, i: int) -> str:
    return f"load-{kind}-{i}-t0ken-for-api-load-tests"


def calm_inputs(tmp: Path, sim_port: int) -> tuple[Path, Path]:
    """The calm policy's directory and the accounts document of the simulator's account."""
    pol = tmp / "policies"
    pol.mkdir()
    (pol / "calm.yaml").write_text(CALM_POLICY)
    # the bots the load beats as (``{leader,standby}-bot-N``) are the account's strategies
    return pol, accounts_file(tmp, sim_port, paced=True, strategies=[f"{t}-bot-{i}" for t in ("leader", "standby")
                                                         for i in range(7)])


def tokens_file(tmp: Path) -> Path:
    entries = [{"identity": f"op-{i}", "roles": ["operator"], "sha256": hashlib.sha256(token("op", i).encode())
                .hexdigest()} for i in range(OPERATORS)]
    entries += [{"identity": f"bot-{i}", "roles": ["bot"], "sha256": hashlib.sha256(token("bot", i).encode())
                 .hexdigest()} for i in range(BOTS)]
    f = tmp / "tokens.json"
    f.write_text(json.dumps({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": entries}))
    return f


def start(tmp: Path, pol: Path, acc: Path, url: str, holder: str, port: int, *extra: str):
    out, err = open(tmp / f"{holder}.out", "a"), open(tmp / f"{holder}.err", "a")
    try:
        import subprocess

        return subprocess.Popen(
            [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc), "--state", url, "--lock-file",
             str(tmp / f"lock-{holder}.json"), "--api-port", str(port), "--holder", holder, "--lease-ttl", "3s",
             # the shared token read beside the tokens document: asked for, as it must be
             "--api-token-env", "KS_API_TOKEN", *extra],
            stdout=out, stderr=err, env={**ENV, "KS_API_TOKEN": token("shared", 0)})
    finally:
        out.close()
        err.close()


def fire(requests: list[tuple[str, str, str, dict | None, str]], in_flight: int
         ) -> list[tuple[str, str, int, str, str]]:
    """Each (target, method, url, body, bearer), ``in_flight`` at once: (target, url, status,
    reason code, Retry-After) of each. Runs in a process of its own (see _fire_elsewhere)."""
    def one(spec):
        target, method, url, body, bearer = spec
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {bearer}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw, retry = r.status, r.read(), r.headers.get("Retry-After", "")
        except urllib.error.HTTPError as e:
            status, raw, retry = e.code, e.read(), e.headers.get("Retry-After", "")
        except OSError as e:
            return target, url, 0, type(e).__name__, ""
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {}
        code = str(doc.get("reason") or doc.get("error") or "").split(":", 1)[0] if isinstance(doc, dict) else ""
        return target, url, status, code, retry

    with concurrent.futures.ThreadPoolExecutor(max_workers=in_flight) as pool:
        return list(pool.map(one, requests))


def fire_elsewhere(requests, in_flight: int):
    """From a process of its own, as clients are: client threads here would compete with nothing
    under test, but keep the test's own process responsive."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fire, requests, in_flight).result(timeout=600)


ACCOUNT = "binanceusdm/sim-main"


def mixed(targets: list[tuple[str, str]], n: int) -> list[tuple[str, str, str, dict | None, str]]:
    out = []
    for i in range(n):
        name, api = targets[i % len(targets)]
        op, bot = token("op", i % OPERATORS), token("bot", i % BOTS)
        kind = (i // len(targets)) % 5
        if kind == 0:
            out.append((name, "POST", api + "/v1/lock", {"scope": ACCOUNT, "reason": f"load {i}", "mode": "halted",
                                                         "ttl_s": 600}, op))
        elif kind == 1:
            out.append((name, "POST", api + "/v1/unlock", {"scope": ACCOUNT, "reason": f"load {i}"}, op))
        elif kind == 2:
            out.append((name, "POST", api + f"/v1/heartbeat/{name}-bot-{i % 7}", None, bot))
        elif kind == 3:
            out.append((name, "GET", api + "/v1/status", None, token("shared", 0)))
        else:
            out.append((name, "POST", api + "/v1/check-order", {"account": ACCOUNT, "symbol": "BTC/USDT:USDT",
                                                                "side": "buy", "amount": 0.001, "strategy": "t"},
                        token("shared", 0)))
    return out


def test_a_leader_and_standby_on_postgresql_under_mixed_load_answer_no_5xx_and_keep_the_lease(tmp_path,
                                                                                          pg_database):
    url = pg_database
    open_store(url).close()
    sim = Sim(tmp_path, scale=1.0, scenario="calm")
    a = b = None
    try:
        pol, acc = calm_inputs(tmp_path, sim.port)
        tokens = tokens_file(tmp_path)
        pa, pb = free_port(), free_port()
        api_a, api_b = f"http://127.0.0.1:{pa}", f"http://127.0.0.1:{pb}"
        a = start(tmp_path, pol, acc, url, "ha-a", pa, "--api-tokens", str(tokens))
        wait_for(lambda: ready(api_a) == "LEADER", 60, "ha-a to lead")
        b = start(tmp_path, pol, acc, url, "ha-b", pb, "--api-tokens", str(tokens))
        wait_for(lambda: ready(api_b) == "STANDBY", 60, "ha-b to stand by")
        store = open_store(url, migrate=False)
        try:
            fence, holder = store.current_fence(), store.lease().holder
        finally:
            store.close()
        before = ticks_of(api_a)
        answers = fire_elsewhere(mixed([("leader", api_a), ("standby", api_b)], 1_500), 200)
        wait_for(lambda: ticks_of(api_a) > before + 2, 30, "the leader to go on ticking")
        store = open_store(url, migrate=False)
        try:
            assert (store.current_fence(), store.lease().holder) == (fence, holder), "the lease changed hands"
            stored = store.heartbeats()
        finally:
            store.close()
        for p, name in ((a, "ha-a"), (b, "ha-b")):
            assert p.poll() is None, (tmp_path / f"{name}.err").read_text()[-2000:]
    finally:
        stop(a)
        stop(b)
        sim.close()
    by = Counter((t, u.rsplit("/v1/", 1)[1].split("/")[0], s, c) for t, u, s, c, _ in answers)
    assert not [k for k in by if k[2] >= 500 or k[2] == 0], by  # no 5xx, no connection dropped
    assert all(r for t, u, s, c, r in answers if s == 429), "every 429 says when to come back"
    assert not [k for k in by if k[0] == "leader" and k[3] in ("NOT_LEADER", "DEPOSED")], by
    standby_changes = {k[2:] for k in by if k[0] == "standby" and k[1] in ("lock", "unlock")}
    assert standby_changes <= {(409, "NOT_LEADER"), (429, "RATE_LIMITED"), (429, "WRITE_QUEUE_FULL")}, by
    assert any(k[1] == "heartbeat" and k[2] == 204 for k in by if k[0] == "standby")
    assert any(s.startswith("standby-bot-") for s in stored), "the standby stores the beats it takes"


def test_one_identity_over_its_rate_is_shed_with_429_counted_and_logged_once(tmp_path):
    sim = Sim(tmp_path, scale=1.0, scenario="calm")
    runner = None
    try:
        pol, acc = calm_inputs(tmp_path, sim.port)
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        runner = start(tmp_path, pol, acc, f"sqlite://{tmp_path / 'state.db'}", "lone", port,
                       "--api-tokens", str(tokens_file(tmp_path)), "--api-write-rate", "5")
        wait_for(lambda: ready(api) == "LEADER", 60, "the runner to lead")
        reqs = [("leader", "POST", api + ("/v1/lock" if i % 2 == 0 else "/v1/unlock"),
                 {"scope": ACCOUNT, "reason": f"storm {i}", **({"mode": "halted"} if i % 2 == 0 else {})},
                 token("op", 0)) for i in range(400)]
        answers = fire_elsewhere(reqs, 100)
        metrics = get(api + "/metrics")[1]
    finally:
        stop(runner)
        sim.close()
    statuses = Counter((s, c) for _, _, s, c, _ in answers)
    shed = statuses[(429, "RATE_LIMITED")]
    assert shed >= 300 and statuses[(429, "RATE_LIMITED")] + sum(
        n for (s, c), n in statuses.items() if s in (200, 409)) == 400, statuses
    assert all(int(r) >= 1 for _, _, s, _, r in answers if s == 429)
    assert re.search(r'^killswitch_api_shed_total\{identity="op-0",kind="write",reason="RATE_LIMITED"\} '
                     + str(float(shed)) + "$", metrics, re.M), metrics
    log = (tmp_path / "lone.err").read_text()
    lines = [ln for ln in log.splitlines() if "API_LOAD_SHED" in ln]
    assert len(lines) == 1 and "op-0" in lines[0], lines
    assert token("op", 0) not in log + (tmp_path / "lone.out").read_text()

