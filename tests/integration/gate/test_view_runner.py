"""The pre-trade gate answered on the API's thread, as ``ksctl run`` serves it: from the view the
runner's loop published, never waiting for that loop. An operator's lock is seen by the very next
check; a check while the loop is blocked is answered, then refused once the view is stale; a check
during a slow tick sees the view before the tick or the one its decision published, never the
tick's new positions with the old lock or the reverse; no view before the first publication."""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time
import urllib.request
from types import SimpleNamespace

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.face.api.api import make_app
from killswitch.face.api.thread import ApiThread
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.unit.engine_helpers import compile_graph
from tests.unit.runner.operator.rig import ACCOUNT, T0, TICK_MS

TOKEN = "t0ken-for-tests-only"
ORDER = {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01}

# the stage locks the account `reducing` once fewer than two longs are held
FEW_LONGS = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: few-longs}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        longs: {position_count: {side: long}}
      triggers:
        few: {when: "longs < 2", on_missing_data: hold}
      stages:
        - {level: 1, name: reduce, on: [few], reset: manual, actions: [{lock_trading: {mode: reducing}}]}
    """
)


class SlowSnapshots:
    """The simulated adapter, whose snapshots take ``delay_s`` while it is set (the network)."""

    def __init__(self, inner):
        self.inner = inner
        self.delay_s = 0.0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def snapshot(self):
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return await self.inner.snapshot()


def make(tmp_path, *, text: str = FEW_LONGS, lease_ttl_ms: int = 60_000):
    """A dry run on a manual clock. The lease outlasts the ticks' spacing: one that lapsed between
    two ticks is taken again at the next, and while it is the view published as leader is refused
    (GATE_VIEW_STALE), which a test of the view's contents must not run into."""
    clock = ManualClock(T0)
    engine = build("calm", clock)
    for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
        engine.set_mark(symbol, price)
    adapter = SlowSnapshots(SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                             timeout_s=2.0))
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner, desk, parts = build_runner_and_desk(
        compile_graph(text, "guard.yaml"), {ACCOUNT: adapter}, store, lock_path=tmp_path / "lock.json", dry_run=True,
        clock=clock, lease_ttl_ms=lease_ttl_ms)
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, engine=engine, clock=clock, store=store,
            adapter=adapter)


def post(url: str, path: str, body: dict, token: str | None = None, timeout: float = 10.0) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read())


async def serving(w) -> tuple[ApiThread, str]:
    """The runner's API on a thread of its own, its view calls carried to this loop (``ksctl run``)."""
    api = ApiThread(make_app(w.desk, token=TOKEN), "127.0.0.1", 0)
    url = await api.start()
    w.desk.serve_views_on(asyncio.get_running_loop())
    return api, url


async def tick(w) -> None:
    w.clock.advance(TICK_MS)
    await w.runner.tick()


def test_an_operators_lock_and_unlock_are_seen_by_the_very_next_check(tmp_path):
    w = make(tmp_path)

    async def go():
        api, url = await serving(w)
        try:
            _, before = await asyncio.to_thread(post, url, "/v1/check-order", ORDER)
            assert before["allow"] is False and before["reason"].startswith("GATE_VIEW_MISSING:"), before
            await w.runner.start()
            await tick(w)
            for mode in ("halted", "reducing", "halted"):
                st, done = await asyncio.to_thread(post, url, "/v1/lock", {"scope": ACCOUNT, "reason": "drill",
                                                                          "mode": mode}, TOKEN)
                assert st == 200 and done["done"], done
                _, d = await asyncio.to_thread(post, url, "/v1/check-order", ORDER)
                assert d["allow"] is False and d["reason"].startswith(mode.upper()), (mode, d)
                st, done = await asyncio.to_thread(post, url, "/v1/unlock", {"scope": ACCOUNT, "reason": "drill"},
                                                   TOKEN)
                assert st == 200 and done["done"], done
                _, d = await asyncio.to_thread(post, url, "/v1/check-order", ORDER)
                assert d == {"allow": True, "reason": "ACTIVE"}, d
        finally:
            await api.stop()

    asyncio.run(asyncio.wait_for(go(), 60))


def test_no_view_is_published_before_the_first_tick_and_a_check_meanwhile_is_refused(tmp_path):
    w = make(tmp_path)

    async def go():
        out = [w.desk.check_order_now(ORDER)]
        await w.runner.start()  # (a fresh store: nothing loaded, no lock written)
        out.append(w.desk.check_order_now(ORDER))
        await tick(w)
        out.append(w.desk.check_order_now(ORDER))
        return out

    built, started, ticked = asyncio.run(go())
    for d in (built, started):
        assert d.allow is False and d.reason.startswith("GATE_VIEW_MISSING: the runner has not published"), d
    assert ticked.allow and ticked.reason == "ACTIVE", ticked


def test_a_check_is_answered_while_the_runners_loop_is_blocked_then_refused_once_stale(tmp_path):
    """The loop is held by something that never yields (a sync stretch far past any tick's). A
    check is answered from the view at once; one made after the lease TTL (the stale bound, 1 s
    here) is refused GATE_VIEW_STALE; once the loop runs again the view is confirmed and checks
    are answered again."""
    w = make(tmp_path, lease_ttl_ms=1_000)
    out: dict = {}
    answered, stale = threading.Event(), threading.Event()

    def bot(url: str) -> None:
        out["first"] = post(url, "/v1/check-order", ORDER)
        answered.set()
        time.sleep(1.4)
        out["late"] = post(url, "/v1/check-order", ORDER)
        stale.set()

    async def go():
        api, url = await serving(w)
        try:
            await w.runner.start()
            await tick(w)
            threading.Thread(target=bot, args=(url,), daemon=True).start()
            # blocks this loop (the runner's) until the bot has its answers: a check that needs
            # this loop is never answered in that time
            out["answered_while_blocked"] = answered.wait(5)
            out["stale_while_blocked"] = stale.wait(5)
            await asyncio.sleep(0.05)  # the loop runs again: its confirmation is due at once
            out["after"] = await asyncio.to_thread(post, url, "/v1/check-order", ORDER)
        finally:
            await api.stop()

    asyncio.run(asyncio.wait_for(go(), 60))
    assert out["answered_while_blocked"], "the check waited for the runner's loop"
    assert out["first"] == (200, {"allow": True, "reason": "ACTIVE"}), out
    assert out["stale_while_blocked"]
    status, late = out["late"]
    assert status == 200 and late["allow"] is False and late["reason"].startswith("GATE_VIEW_STALE: the runner's "
                                                                                  "loop last confirmed"), late
    assert out["after"] == (200, {"allow": True, "reason": "ACTIVE"}), out


def test_a_check_during_a_slow_tick_sees_the_view_before_it_or_after_its_decision_never_a_mix(tmp_path):
    """Between two ticks the account sells 3 of its 5 BTC and all its ETH: one long left, so the
    next tick's stage locks it `reducing`. That tick is slow twice over: its snapshots (0.3 s),
    then its save after the lock (0.3 s). A bot selling 4 BTC asks all along, from another thread:
    before the tick's decision it is ACTIVE (no lock, 5 held); from the decision on it is refused
    (reducing, 2 held). A mix — the new lock over the old positions — would allow it as
    "REDUCING: reduces the position (amount 4 <= position 5)"."""
    w = make(tmp_path)
    sell4 = {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "sell", "amount": 4}
    seen: list[tuple[str, bool]] = []
    in_tick = threading.Event()
    stop = threading.Event()

    def bot() -> None:
        while not stop.is_set():
            seen.append((w.desk.check_order_now(sell4).reason, in_tick.is_set()))
            time.sleep(0.002)

    save = w.store.save_engine_state

    def slow_save(*a, **k):
        if in_tick.is_set():
            time.sleep(0.3)  # (on the store thread: the loop goes on)
        return save(*a, **k)

    w.store.save_engine_state = slow_save

    async def go():
        await w.runner.start()
        await tick(w)
        assert w.desk.check_order_now(sell4).reason == "ACTIVE"
        w.engine.open_position("sim-main", "BTCUSDT", "short", 3.0, 60_000.0)
        w.engine.open_position("sim-main", "ETHUSDT", "short", 100.0, 3_000.0)
        thread = threading.Thread(target=bot, daemon=True)
        thread.start()
        await asyncio.sleep(0.05)
        w.adapter.delay_s = 0.3
        in_tick.set()
        await tick(w)
        in_tick.clear()
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.to_thread(thread.join, 5)

    asyncio.run(asyncio.wait_for(go(), 60))
    reasons = {r for r, _ in seen}
    denied = "REDUCING: order larger than the position (amount 4 > position 2)"
    assert all(r == "ACTIVE" or r.startswith(denied) for r in reasons), reasons
    assert any(r == "ACTIVE" and during for r, during in seen), "no check saw the view before the decision"
    assert any(r.startswith(denied) and during for r, during in seen), "the decision was not published mid-tick"
    assert seen[-1][0].startswith(denied)
    # and once a check saw the decision, none saw the view before it again
    first = next(i for i, (r, _) in enumerate(seen) if r.startswith(denied))
    assert all(r.startswith(denied) for r, _ in seen[first:]), seen[first:]
