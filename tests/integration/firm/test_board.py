"""``GET /v1/firm/shards`` over real processes: PostgreSQL, the simulated exchange and two ``ksctl
run --shard`` runners (desk-a holds sim-main, desk-b sim-hedge; desk-b's own policy halts its
account at once, an incident with a lock). desk-a's runner answers for every shard from the
firm's tables alone: desk-b's leader, its incident and lock, its console's URL from the Accounts
document; a token is needed (401 without). desk-b stopped (SIGSTOP: its lease, of a long TTL,
still held): from its last publish plus the firm's stale bound, desk-a says it is not heard
(``SHARD_STALE``), its last incident kept as of then, and ``ksctl status --firm`` prints NOT
HEARD; resumed, it is heard again. Everything on 127.0.0.1; every process killed in ``finally``."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

from tests.integration.test_processes import KSCTL, Sim, stop, wait_for
from tests.integration.test_shards import ENV, _inputs, pg_url  # noqa: F401 - the fixture
from tests.procs import free_port

TOKEN = ENV["KS_API_TOKEN"]

LOCAL_A = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: desk-a-age}
spec:
  scope: {accounts: {match_labels: {desk: a}}}
  interval: 1s
  signals:
    age: {data_age: {}}
  triggers:
    ancient: {when: "age > 1h", on_missing_data: hold}
  stages:
    - {level: 1, name: note, on: [ancient], actions: [{lock_trading: {mode: reducing}}]}
"""
# equity 90 % below its 5M initial capital: desk-b halts its account at its first tick
LOCAL_B = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: desk-b-guard}
spec:
  scope: {accounts: {match_labels: {desk: b}}}
  interval: 1s
  signals:
    vs_capital: {equity_change: {against: initial_capital}}
  triggers:
    under: {when: "vs_capital <= -50%", on_missing_data: hold}
  stages:
    - {level: 1, name: halt, on: [under], reset: manual, approvals: 2, actions: [{lock_trading: {mode: halted}}]}
"""
FIRM = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: firm-breaker}
spec:
  scope: {level: global}
  interval: 1s
  signals:
    dd: {equity_drawdown: {window: 1h, min_coverage: 0%}}
  triggers:
    deep: {when: "dd >= 50%", on_missing_data: hold}
  stages:
    - {level: 1, name: halt, on: [deep], reset: manual, actions: [{lock_trading: {mode: halted}}]}
"""


class Firm:
    """The two shards' runners, their API ports and desk-b's console URL."""

    def __init__(self, tmp: Path, url: str, sim: Sim):
        self.tmp, self.url, self.sim = tmp, url, sim
        self.api_a, self.api_b = free_port(), free_port()
        self.console_b = f"http://127.0.0.1:{self.api_b}/"
        pol, acc, _ = _inputs(tmp, sim.port)
        for f in pol.iterdir():
            f.unlink()
        (pol / "desk-a.yaml").write_text(LOCAL_A)
        (pol / "desk-b.yaml").write_text(LOCAL_B)
        (pol / "firm.yaml").write_text(FIRM)
        text = acc.read_text().replace("- {name: desk-b, accounts: {match_labels: {desk: b}}}",
                                       f"- {{name: desk-b, accounts: {{match_labels: {{desk: b}}}}, "
                                       f"console: \"{self.console_b}\"}}")
        assert "console:" in text
        acc.write_text(text)
        self.pol, self.acc = pol, acc
        self.a = self._run("desk-a", "a-0", self.api_a, "3s")
        # desk-a holds the firm lease before desk-b starts: desk-b's stop leaves the breaker evaluated
        wait_for(lambda: (_get(self.api_a, "/v1/firm").get("firm_lease") or {}).get("holder") == "a-0"
                 or self.a.poll() is not None, 40, "desk-a holding the firm lease")
        # desk-b's lease outlives a stop of half a minute: it is its board's age that says it is not heard
        self.b = self._run("desk-b", "b-0", self.api_b, "30s")

    def _run(self, shard: str, holder: str, api: int, ttl: str) -> subprocess.Popen:
        with open(self.tmp / f"{holder}.out", "w") as out, open(self.tmp / f"{holder}.err", "w") as err:
            return subprocess.Popen(
                [str(KSCTL), "run", "--shard", shard, "--policies", str(self.pol), "--accounts", str(self.acc),
                 "--state", self.url, "--lock-file", str(self.tmp / f"lock-{holder}.json"), "--api-port", str(api),
                 "--holder", holder, "--lease-ttl", ttl], stdout=out, stderr=err, env=ENV)

    def logs(self) -> str:
        return "\n".join((self.tmp / f"{h}.{x}").read_text() for h in ("a-0", "b-0") for x in ("out", "err"))

    def board(self) -> dict:
        return _get(self.api_a, "/v1/firm/shards")

    def row(self, shard: str) -> dict:
        return next((r for r in self.board().get("shards", []) if r["shard"] == shard), {})

    def both_heard_with_b_halted(self) -> None:
        def ready() -> bool:
            assert self.a.poll() is None and self.b.poll() is None, self.logs()
            b = self.row("desk-b")
            return bool(b.get("reachable") and b.get("incidents") and b.get("lock")
                        and self.row("desk-a").get("reachable"))
        try:
            wait_for(ready, 60, "both shards heard, desk-b's incident and lock published")
        except AssertionError:
            raise AssertionError(json.dumps(self.board(), indent=1) + self.logs()[-3000:]) from None

    def close(self) -> None:
        stop(self.a)
        stop(self.b)


@contextlib.contextmanager
def two_shards(tmp: Path, url: str) -> Iterator[Firm]:
    sim = Sim(tmp, scenario="calm")
    firm = None
    try:
        firm = Firm(tmp, url, sim)
        yield firm
    finally:
        if firm is not None:
            firm.close()
        sim.close()


def _get(api: int, path: str, auth: bool = True) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{api}{path}",
                                 headers={"Authorization": f"Bearer {TOKEN}"} if auth else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return {"status": e.code, **json.loads(e.read())}
    except OSError:
        return {}


def test_one_shard_answers_for_every_shard_and_says_one_that_went_stale_is_not_heard(tmp_path, pg_url):
    with two_shards(tmp_path, pg_url) as firm:
        firm.both_heard_with_b_halted()
        assert _get(firm.api_a, "/v1/firm/shards", auth=False)["status"] == 401
        doc = firm.board()
        b, a = doc["shards"]  # worst first: desk-b's halt above desk-a, calm
        assert (a["shard"], a["this"], a["leader"], a["console_url"]) == ("desk-a", True, "a-0", None)
        assert "spec.shards[].console" in a["console_note"]
        assert (b["shard"], b["this"], b["leader"], b["state"]) == ("desk-b", False, "b-0", "SHARD_LIVE")
        assert b["console_url"] == firm.console_b and b["bound_s"] == 1.5
        [incident] = b["incidents"]
        assert (incident["policy"], incident["scope"], incident["level"], incident["stage"], incident["needed"]) == (
            "desk-b-guard", "binanceusdm/sim-hedge", 1, "halt", 2)
        assert b["lock"]["mode"] == "halted" and b["lock"]["scope"] == "binanceusdm/sim-hedge"
        assert doc["firm"]["holder"] == "a-0" and [p["policy"] for p in doc["firm"]["policies"]] == ["firm-breaker"]
        # desk-b's own runner answers the same, from the same tables
        assert sorted(r["shard"] for r in _get(firm.api_b, "/v1/firm/shards")["shards"]) == ["desk-a", "desk-b"]

        firm.b.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        wait_for(lambda: firm.row("desk-b").get("state") == "SHARD_STALE", 10, "desk-b not heard")
        seen_s = time.monotonic() - stopped
        # its facts, written before its board at each tick, go stale first: under load a poll can
        # land between the two and say its facts are old; its board's age follows within a tick
        wait_for(lambda: firm.row("desk-b").get("why", "").startswith("shard desk-b was last heard "), 10,
                 "desk-b's board stale")
        b = firm.row("desk-b")
        assert not b["reachable"] and b["leader"] == "b-0"  # its lease still held: its silence says it
        assert b["why"].startswith("shard desk-b was last heard ") and b["why"].endswith("(bound 1.5s)")
        assert [i["policy"] for i in b["incidents"]] == ["desk-b-guard"]  # as of then, not dropped
        summary = firm.board()["summary"]
        assert summary["unreachable"] == ["desk-b"] and "1 UNREACHABLE (desk-b)" in summary["line"]
        status = subprocess.run([str(KSCTL), "status", "--firm", "--api", f"http://127.0.0.1:{firm.api_a}"],
                                capture_output=True, text=True, timeout=60, env=ENV)
        firm.b.send_signal(signal.SIGCONT)
        wait_for(lambda: firm.row("desk-b").get("reachable"), 15, "desk-b heard again")
    print(f"desk-b seen not heard {seen_s:.2f}s after SIGSTOP")
    assert seen_s < 4  # the 1.5 s bound, a tick and the poll
    assert status.returncode == 1, status.stderr  # a shard not heard is a finding, never a calm exit
    assert "NOT HEARD" in status.stdout and "SHARD_STALE: shard desk-b was last heard" in status.stdout, status.stdout
    assert "desk-b-guard stage 1 halt on binanceusdm/sim-hedge" in status.stdout


def test_a_runner_without_shards_says_so_and_an_unreadable_firm_is_a_503_not_an_empty_firm(tmp_path):
    import asyncio
    from types import SimpleNamespace

    import aiohttp

    from killswitch.face.api.api import make_app, start_api, stop_api
    from killswitch.firmlink.board import BoardLink
    from tests.integration.runner.rig import parts_of, setup
    from tests.state.test_firm_board import _Unreachable

    runner, *_, store, _, desk = setup(tmp_path)

    parts = parts_of(runner)

    async def go() -> list[tuple[int, dict]]:
        await runner.start()
        site, url = await start_api(make_app(desk, token=TOKEN))
        got = []
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                async with http.get(url + "/v1/firm/shards") as r:
                    got.append((r.status, await r.json()))
                start = SimpleNamespace(name="desk-a", schema="ks_shard_desk_a", assignment={"desk-a": []}, consoles={})
                board = BoardLink(parts.clock, parts.book, parts.lead, parts.pace.pace_s, None,
                                  start, lambda: parts.book.graph, 3_000, None, print)
                board._reader = _Unreachable()  # the database stopped answering
                parts.firm.fill(None, board)  # its board alone: the firm link's routes are not asked here
                async with http.get(url + "/v1/firm/shards") as r:
                    got.append((r.status, await r.json()))
                async with http.get(url + "/console/view") as r:  # the console still answers, and says so
                    got.append((r.status, {"html": await r.text()}))
        finally:
            await stop_api(site)
            await runner.aclose()
        return got

    try:
        (s1, plain), (s2, unread), (s3, view) = asyncio.run(go())
    finally:
        store.close()
    assert (s1, plain) == (200, {"error": "FIRM_NOT_SHARDED"})
    assert s2 == 503 and unread["error"] == "FIRM_STATE_UNREACHABLE", unread
    assert "the other shards are not known from here" in unread["reason"]
    assert s3 == 200 and "FIRM UNREAD" in view["html"] and "Every other shard is unknown from here" in view["html"]
