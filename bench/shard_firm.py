"""The firm under test of bench/shards.py: its policies and accounts written, its shards' replicas
as ``ksctl run --shard`` processes, and the calls the bench makes of them and of the simulator.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from bench.harness import API_TOKEN, ENV, KSCTL, Sim, free_port, stop

INTERVAL_S = 1.0
LIMIT_MS = 1_500  # facts older than 1.5 intervals are not fresh (killswitch.firm.facts.stale_after_ms)
ENTRY = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}
DOWN = {"BTCUSDT": 48_000.0, "ETHUSDT": 2_400.0}
LEGS = "BTCUSDT:long:5:60000,ETHUSDT:long:100:3000"

LOCAL = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: {shard}-age}}
spec:
  scope: {{accounts: {{match_labels: {{desk: {shard}}}}}}}
  interval: 1s
  signals:
    age: {{data_age: {{}}}}
  triggers:
    ancient: {{when: "age > 1h", on_missing_data: hold}}
  stages:
    - {{level: 1, name: note, on: [ancient], actions: [{{lock_trading: {{mode: reducing}}}}]}}
"""

FIRM = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: firm-breaker}
spec:
  scope: {level: global}
  interval: 1s
  signals:
    dd: {equity_drawdown: {window: 5s, min_coverage: 0%}}
  triggers:
    deep: {when: "dd >= 5%", on_missing_data: hold}
  stages:
    - {level: 1, name: halt, on: [deep], reset: manual, actions: [{lock_trading: {mode: halted}}, close_all]}
"""


def write_inputs(work: Path, sim_port: int, shards: int, per: int, local: bool = True) -> tuple[Path, Path]:
    pol = work / "policies"
    pol.mkdir()
    for k in range(shards) if local else ():
        (pol / f"desk-{k}.yaml").write_text(LOCAL.format(shard=f"desk-{k}"))
    (pol / "firm.yaml").write_text(FIRM)
    lines = ["apiVersion: killswitch/v1", "kind: Accounts", "metadata: {name: firm}", "spec:", "  dry_run: false",
             "  shards:"]
    lines += [f"    - {{name: desk-{k}, accounts: {{match_labels: {{desk: desk-{k}}}}}}}" for k in range(shards)]
    lines.append("  accounts:")
    for k in range(shards):
        for i in range(per):
            lines += [f"    - name: a{k}-{i}", "      venue: binanceusdm", "      market_type: futures",
                      f"      labels: {{desk: desk-{k}}}", "      initial_capital: 1M",
                      f"      api_url: http://127.0.0.1:{sim_port}",
                      f"      credentials: {{api_key: {{env: KS_SIM{k}_KEY}}, secret: {{env: KS_SIM{k}_SECRET}}}}"]
    acc = work / "accounts.yaml"
    acc.write_text("\n".join(lines) + "\n")
    return pol, acc


class Firm:
    """The processes: ``replicas[shard] = [(holder, api port, Popen)]``."""

    def __init__(self, work: Path, url: str, sim: Sim, shards: int, per: int, local: bool = True):
        self.work, self.url, self.sim, self.shards, self.per = work, url, sim, shards, per
        self.pol, self.acc = write_inputs(work, sim.port, shards, per, local)
        self.env = {**ENV, **{f"KS_SIM{k}_{w}": f"sim-{k}-{w.lower()}" for k in range(shards)
                              for w in ("KEY", "SECRET")}}
        self.replicas: dict[str, list[list]] = {f"desk-{k}": [] for k in range(shards)}

    def start(self, shard: str, r: int) -> None:
        holder, port = f"{shard}-r{r}", free_port()
        with open(self.work / f"{holder}.out", "a") as out, open(self.work / f"{holder}.err", "a") as err:
            p = subprocess.Popen(
                [str(KSCTL), "run", "--shard", shard, "--policies", str(self.pol), "--accounts", str(self.acc),
                 "--state", self.url, "--lock-file", str(self.work / f"lock-{holder}.json"), "--api-host",
                 "127.0.0.1", "--api-port", str(port), "--holder", holder, "--lease-ttl", "3s"],
                stdout=out, stderr=err, env=self.env)
        self.replicas[shard] = [x for x in self.replicas[shard] if x[0] != holder] + [[holder, port, p]]

    def stop_all(self) -> None:
        for reps in self.replicas.values():
            for _, _, p in reps:
                stop(p, signal.SIGTERM)

    def api(self, holder: str) -> int:
        return next(port for reps in self.replicas.values() for h, port, _ in reps if h == holder)

    def proc(self, holder: str) -> subprocess.Popen:
        return next(p for reps in self.replicas.values() for h, _, p in reps if h == holder)

    def firm(self, holder: str) -> dict:
        try:
            return call("GET", self.api(holder), "/v1/firm")
        except (OSError, ValueError):
            return {}

    def any_view(self, skip: tuple[str, ...] = ()) -> dict:
        for reps in self.replicas.values():
            for h, _, p in reps:
                if h not in skip and p.poll() is None and (doc := self.firm(h)).get("shards"):
                    return doc
        return {}

    def leaders(self, doc: dict) -> dict[str, str | None]:
        return {s["shard"]: s["leader"] for s in doc.get("shards", [])}


def call(method: str, port: int, path: str, body: dict | None = None, timeout: float = 10) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def sim_post(sim: Sim, path: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sim.port}{path}", method="POST"),
                           timeout=10).read()


def sim_state(sim: Sim) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{sim.port}/_sim/state", timeout=20) as r:
        return json.loads(r.read())


def armed(doc: dict) -> bool:
    return bool(doc.get("policies")) and all(p["armed"] for p in doc["policies"])


def order(k: int) -> dict:
    return {"account": f"binanceusdm/a{k}-0", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.001}


def allowed(port: int, k: int) -> bool:
    return bool(call("POST", port, "/v1/check-order", order(k), timeout=5).get("allow"))


def tick_ms(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    got = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
           if line.startswith(("killswitch_tick_duration_seconds_sum", "killswitch_tick_duration_seconds_count"))}
    s = next((v for k, v in got.items() if k.startswith("killswitch_tick_duration_seconds_sum")), 0.0)
    n = next((v for k, v in got.items() if k.startswith("killswitch_tick_duration_seconds_count")), 0.0)
    return s / n * 1000 if n else float("nan")


def ticks_over(port: int, *bounds: float) -> tuple[int, list[int]]:
    """The leader's ticks in all, and how many took longer than each of ``bounds`` (seconds,
    bucket bounds of ``killswitch_tick_duration_seconds``)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    le: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("killswitch_tick_duration_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            le[float("inf") if bound == "+Inf" else float(bound)] = float(line.rsplit(" ", 1)[1])
    total = int(le.get(float("inf"), 0))
    return total, [total - int(le.get(b, 0)) for b in bounds]
