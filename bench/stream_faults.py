"""The stream bench's third run (``bench/stream.py``, 3.; ``--skip faults`` leaves it out):
``bench/close_all_faults.py``'s run — 40 % fills, the full REST fault plan — through the real
``CcxtAdapter`` of a Binance USDⓈ-M account with its private stream on (``stale_after`` 2 s), the
user-data stream dropped at the first and the fourth tick after the stage entry, while the closes
are under way. Printed: flat or residual-only at the end, nothing open, nothing pending; the
stream's reconnects, REST reconciles and disagreements; every order the venue holds against the
journal, and no client id accepted twice (the venue refuses one it holds); the time to flat.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any


async def faults_run(work: Path) -> tuple[Any, dict]:
    from close_all_faults import ACCOUNT as SIM_MAIN, TICK_MS, Result, Watch, _engine, fault_plan, graph, settled, tally

    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.venues import sim_account
    from killswitch.process.bootstrap import build_runner_and_desk
    from killswitch.state import open_store

    plan = fault_plan()
    engine, clock = _engine(0.4, True, plan)
    received: dict[str, int] = {}
    refused_dup = 0
    place = engine.place_order

    def counted(*a: Any, **kw: Any) -> Any:
        nonlocal refused_dup
        cid = kw.get("client_order_id")
        if cid:
            received[cid] = received.get(cid, 0) + 1
        try:
            return place(*a, **kw)
        except Exception as e:
            if "duplicated" in str(e):
                refused_dup += 1
            raise

    engine.place_order = counted  # type: ignore[method-assign]
    store = open_store(f"sqlite://{work / 'stream.db'}")
    # the venue's clock is the run's manual one (5 s a tick, a tick ~0.1-0.3 s of wall time): the
    # face pushes marks every 100 ms of wall time, about once a tick, stamped with the engine's
    # time, as Binance's 1 s cadence is about once a tick of a runner on the wall clock (at its
    # own 1 s the stream's marks and their E would lag the venue by 5-15 ticks)
    async with SimServer(engine, faults=plan, auth_clock=wall_clock, hang_s=3.0,
                         stream={"mark_every_ms": 100, "mark_every_1s_ms": 100}) as server:
        acc = sim_account(server, SIM_MAIN, "binanceusdm", labels={"book": "futures"},
                          stream={"enabled": True, "stale_after": "2s"})
        adapter = CcxtAdapter(acc, urls=server.base_url, timeout=2.0, max_retries=1, backoff_s=0.05,
                              orders_per_second=1000, ccxt_rate_limit=False)
        runner, _, parts = build_runner_and_desk(graph(), {f"binanceusdm/{SIM_MAIN}": adapter}, store,
                lock_path=work / "lock.json",
                              dry_run=False, clock=clock, confirm_gap_ms=TICK_MS, snapshot_timeout_s=3.0,
                              send_wait_s=None)  # simulated time at full speed: a tick waits for its sends
        res = Result("ccxt binanceusdm, stream on, dropped twice mid-close")
        watch = Watch(engine)
        drops: list[int] = []
        start = time.perf_counter()
        try:
            await runner.start()
            await adapter.start_streams()
            live = await _until(lambda: adapter.stream_health().state == "live", 20)
            for t in range(1, 91):
                clock.advance(TICK_MS)
                if res.entered_tick is not None and t - res.entered_tick in (1, 4):  # mid-close: drop the user stream
                    server.faults.stream("stream_disconnect", op="stream:user", times=1)
                    drops.append(t)
                    await asyncio.sleep(0.3)  # the drop lands between two ticks (the next reads REST)
                report = await runner.tick()
                res.ticks = t
                if res.done_tick is not None:
                    res.after_done_sent += report.execution.sent
                    if t - res.done_tick >= 3:
                        break
                    continue
                if res.entered_tick is None and report.transitions:
                    res.entered_tick = t
                if res.entered_tick is None:
                    continue
                if settled(parts, engine, store):
                    res.done_tick = t
            health = adapter.stream_health()
        finally:
            res.wall_s = time.perf_counter() - start
            await runner.aclose()
            await adapter.close()
        tally(res, parts, engine, store, plan, watch)
        entries = store.journal(limit=100_000)
        journaled = {e.client_order_id for e in entries}
        held = set(engine.accounts[SIM_MAIN].by_client)
        absent: dict[str, int] = {}  # journaled, not at the venue: by the journal's status (refused, not sent...)
        for e in entries:
            if e.client_order_id not in held:
                absent[str(e.status)] = absent.get(str(e.status), 0) + 1
        store.close()
    extra = {"live_at_start": live, "drops": drops, "reconnects": health.reconnects,
             "reconciles": health.reconciles, "disagreements": health.disagreements, "state_at_end": health.state,
             "journaled": len(journaled), "held": len(held), "not_journaled": len(held - journaled),
             "absent": absent,
             "received_twice": sum(1 for v in received.values() if v > 1), "refused_dup": refused_dup}
    return res, extra


async def _until(cond: Any, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return False


def faults() -> None:
    from close_all_faults import layout, report

    work = Path(tempfile.mkdtemp(prefix="ks-stream-faults-"))
    print("3. close-all under the full fault plan with partial fills, the account's stream on (stale_after 2 s) "
          "and its user-data stream dropped at the 1st and 4th tick after the stage entry")
    print("  " + layout(0.4, True).replace("\n", "\n  "))
    res, x = asyncio.run(asyncio.wait_for(faults_run(work), 600))
    report([res])
    print(f"  stream: live before the first tick {x['live_at_start']}; dropped at ticks {x['drops']}; reconnects "
          f"{x['reconnects']}, REST reconciles {x['reconciles']}, disagreements found {x['disagreements']}; "
          f"{x['state_at_end']} at the end")
    print(f"  journal vs venue: {x['journaled']} intents journaled, {x['held']} orders at the venue, "
          f"{x['not_journaled']} of them not journaled; journaled but not at the venue, by status: "
          f"{x['absent'] or 'none'}; client ids received more than once {x['received_twice']} "
          f"(refused as duplicates: {x['refused_dup']}; the venue holds each once)", flush=True)
