"""Benchmark: a rogue bot that never asks the gate, under an operator halt — how fast the kill switch
cancels what it sends at the venue, and how much exposure it adds after the lock.

The venue is the simulated exchange in a process of its own, on the system's clock, speaking
Binance USDⓈ-M (REST and websocket faces) or, with ``--venue``, any streaming dialect of the
registry (``bench/stream.py``'s venues: each folder's ``contract.STREAM_BENCH``; the account its
face's own); the runner is ``ksctl run`` itself with the real ``CcxtAdapter``,
polled (REST every policy interval) or streamed (``stream: {enabled: true}``). One account of N
longs of 1,000 at 100 on N markets; a calm policy (nothing fires), so every action the runner
takes is the lock's. An operator ``halted`` lock is put on the account through the API; one
interval later (the lock's baseline taken) the rogue bot, inside the venue's process so that its
pace and the stamps are the venue's own, sends at ``--rate`` orders a second for ``--seconds``
(``--at-lock``: at once, so that its first orders come before the first tick under the lock,
which must read and cancel them as any later tick does):

- nine in ten are entries: a GTC limit buy of 10 at 99 (it rests) on one of the first markets;
- one in five of those is a market buy of 10 on the first market instead (it fills at once: the
  position grows by 1,000 of notional, which the runner must bring back to its size at the lock);
- one in ten is a reduce-only limit sell of 10 at 150 on the second market (it can only reduce:
  it must be left alone).

Figures, each from the venue's own monotonic stamps:

- **cancel**: from a resting entry's acceptance to its cancel by the runner (p50, p99, max, in ms
  and in reference loops), and entries never cancelled by the end;
- **revert**: from a growth fill to the runner's first reduce-only sell on that market after it;
- **exposure**: the first market's position above its size at the lock, times its mark: the peak
  while the bot runs, and at the end (one interval and a few seconds after the bot stops);
- the reduce-only orders left standing (all of them, when nothing reducing was cancelled).

``--market spot``: a spot account instead, on every venue whose simulated spot account streams
(``bench/rogue_spot.py``: found in the registry, so a venue whose spot account comes to stream
gets a row by itself; one whose simulator cannot push its orders is said, not run): N base assets
held, 1,000 each at 100, and the quote; the bot, on the spot desk, sends the same entries (limit
buys of 10 at 99 across the held pairs) and every fifth order a market buy of 10 growing the first
holding, and nothing that only reduces (on spot the watch leaves no order standing under a halt:
only a reduce-only order or a position's take-profit / stop-loss is, and no spot order is either).
Each is stamped as on futures (the spot desk tells its orders' changes); MEXC spot's websocket face
reads the desk every 50 ms and pushes what changed (the venue, and Kraken spot's face, push at the
change), which the cancel's figure includes.

Goals (the issue's): streamed p99 <= 250 ms from the venue's event and at most one order's
notional added; polled <= one interval plus the tick. ``--quick``: 1,000 positions only, 10 s.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from harness import (
    API_TOKEN,
    ENV,
    VenueProcess,
    free_port,
    get_json,
    machine,
    pct,
    reference_ms,
    start_runner,
    stop,
    wait_until,
)
from rogue_spot import pick_venues, spot_book, venue_table, why_not_read

ACCOUNT = "acct"
INTERVAL_S = 5.0
POLICY = f"""\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: rogue-calm}}
spec:
  scope: {{level: account}}
  interval: {INTERVAL_S:g}s
  signals:
    loss: {{position_loss: {{of: notional}}}}
  triggers:
    hard: {{when: "loss >= 90%", on_missing_data: hold}}
  stages:
    - {{level: 1, name: flatten, on: [hard], reset: manual, actions: [close_all]}}
"""
RECONCILE_S = 5.0
GOAL_P99_MS = 250.0
ORDER_QTY = 10.0
ORDER_NOTIONAL = ORDER_QTY * 100.0
BASELINE = 1_000.0  # the first market's long at the lock (reaction.book), a spot book's each holding
SPOT_QUOTE = 1_000_000.0  # the spot book's USDT: the bot's buys never run short of it
# the bot's own key (revoked at the venue by revoke_trading), the master credential that revokes
# it, and the sub-account's name as the venue knows it (Binance: its email)
BOT_KEY, BOT_SECRET = "rogue-bot-key", "rogue-bot-secret"
MASTER_KEY, MASTER_SECRET = "bench-master-key", "bench-master-secret"
SUB_EMAIL = "acct@sub.example"


def venue_process(conn: Any, n: int, venue_id: str = "binanceusdm", market: str = "futures") -> None:
    """Serves ``reaction.book(n)`` (``market`` spot: :func:`spot_book`) on the system's clock in
    ``venue_id``'s dialect; the rogue bot runs here on command (``rogue`` with its rate and
    seconds). ``account``: the book's account as its face's own and the environment it names;
    ``result``: the stamps; ``stop``."""
    from reaction import book

    from adapters.simulated.http import SimServer, wall_clock

    async def main() -> None:
        eng = book(wall_clock, n) if market == "futures" else spot_book(n, ACCOUNT, BASELINE, SPOT_QUOTE)  # type: ignore[arg-type]
        perms = eng.permissions
        perms.add_key(ACCOUNT, BOT_KEY, BOT_SECRET)
        perms.add_master(MASTER_KEY, MASTER_SECRET)
        perms.name_sub(ACCOUNT, SUB_EMAIL)
        spec = venue_table(market)[venue_id]
        server = SimServer(eng, auth_clock=wall_clock,
                           venue_streams={spec.folder: spec.options} if spec.options else None)
        await server.start()
        server.warm()  # (the faces' one-time loads, before anything is timed)
        conn.send(("port", server.port))
        venue = _RogueVenue(eng, server, venue_id) if market == "futures" else _SpotRogueVenue(eng, server, venue_id)
        asyncio.get_running_loop().add_reader(conn.fileno(), lambda: conn.send(("ok", venue.command(*conn.recv()))))
        await venue.stopped.wait()
        await server.stop()

    asyncio.run(main())


class _RogueVenue:
    """The venue's side of a run: the rogue bot (in the venue's process, or over its REST face)
    and the stamps of what became of its orders."""

    def __init__(self, eng: Any, server: Any, venue_id: str) -> None:
        self.eng = eng
        self.server, self.venue_id = server, venue_id
        self.port = server.port
        self.markets = list(eng.markets)
        self.first, self.second = self.markets[0], self.markets[1]
        self.seen: dict[str, Any] = {"accepted": {}, "cancelled": {}, "growth": [], "reverts": [], "exposure": [],
                                     "reduce_only": [], "refused": [], "errors": 0, "http": []}
        self.stopped = asyncio.Event()
        self._changed = eng._order_changed
        eng._order_changed = self._on_change

    def _on_change(self, o: Any, execution: str, now: int, **trade: Any) -> None:
        cid = o.client_order_id or ""
        t = time.monotonic()
        if cid.startswith("rogue-") and execution == "CANCELED":
            self.seen["cancelled"].setdefault(cid, t)
        elif not cid.startswith("rogue-") and o.symbol == self.first and o.side == "SELL" and execution == "NEW":
            self.seen["reverts"].append(t)
        self._changed(o, execution, now, **trade)

    def size(self, symbol: str) -> float:
        return sum(p.amount for p in self.eng.positions(ACCOUNT, symbol) if p.amount > 0)

    def exposure(self) -> float:
        return max(0.0, self.size(self.first) - BASELINE) * self.eng.mark(self.first)

    def command(self, cmd: str, arg: Any) -> Any:
        if cmd == "rogue":
            asyncio.get_running_loop().create_task(self.rogue(*arg))
        elif cmd == "account":  # the book's account as the face's own, and the environment it names
            from adapters.simulated.venues import sim_account

            before = dict(os.environ)
            doc = sim_account(self.server, ACCOUNT, self.venue_id).model_dump(mode="json", exclude_none=True)
            return doc, {k: v for k, v in os.environ.items() if before.get(k) != v}
        elif cmd == "rogue_http":
            asyncio.get_running_loop().create_task(self.rogue_http(*arg))
        elif cmd == "result":
            reduce_only = set(self.seen["reduce_only"])
            return {**self.seen, "final": self.exposure(),
                    "open_reduce_only": sum(1 for o in self.eng.open_orders(ACCOUNT, self.second)
                                            if (o.client_order_id or "") in reduce_only)}
        elif cmd == "stop":
            self.stopped.set()
        return None

    async def rogue(self, rate: float, seconds: float) -> None:
        step, end, i = 1.0 / rate, time.monotonic() + seconds, 0
        nxt, began, start = time.monotonic(), time.monotonic(), len(self.server.requests)
        while time.monotonic() < end:
            try:
                self._place(i)
            except Exception as e:  # noqa: BLE001 - the venue refused it (a revoked key, a filter)
                self.seen["refused"].append(self.refusal(e))
            self.seen["exposure"].append(self.exposure())
            i += 1
            nxt += step
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
        # the runner's writes at the venue while the bot ran, by endpoint (its reads aside)
        writes = [f"{m} {p.rsplit('/', 1)[-1]}" for m, p, _ in self.server.requests[start:] if m != "GET"]
        self.seen["writes"] = {w: writes.count(w) for w in sorted(set(writes))}
        self.seen["writes_s"] = time.monotonic() - began

    @staticmethod
    def refusal(e: Exception) -> str:
        """What the venue's refusal of one of the bot's orders is counted as."""
        return type(e).__name__

    def _place(self, i: int) -> None:
        """The bot's i-th order: every tenth a reduce-only sell of the second market, every fifth
        a market buy growing the first market's long, the others limit buys across the rest."""
        eng, seen, cid = self.eng, self.seen, f"rogue-{i}"
        if i % 10 == 9:
            eng.place_order(ACCOUNT, self.second, "SELL", "LIMIT", ORDER_QTY, 150.0, time_in_force="GTC",
                            reduce_only=True, client_order_id=cid)
            seen["reduce_only"].append(cid)
        elif i % 5 == 4:
            eng.place_order(ACCOUNT, self.first, "BUY", "MARKET", ORDER_QTY, client_order_id=cid)
            seen["growth"].append(time.monotonic())
        else:
            sym = self.markets[2 + i % min(8, len(self.markets) - 2)]
            eng.place_order(ACCOUNT, sym, "BUY", "LIMIT", ORDER_QTY, 99.0, time_in_force="GTC", client_order_id=cid)
            seen["accepted"][cid] = time.monotonic()

    async def rogue_http(self, rate: float, seconds: float) -> None:
        """The bot as a venue sees it: signed requests with its own key over the REST face,
        each answer stamped (accepted, or refused with the venue's code)."""
        import aiohttp

        url = f"http://127.0.0.1:{self.port}/fapi/v1/order"
        step, end, i = 1.0 / rate, time.monotonic() + seconds, 0
        nxt = time.monotonic()
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < end:
                sym = self.markets[2 + i % min(8, len(self.markets) - 2)]
                q = (f"symbol={sym}&side=BUY&type=LIMIT&quantity={ORDER_QTY:g}&price=99&timeInForce=GTC"
                     f"&newClientOrderId=rogue-h{i}&timestamp={int(time.time() * 1000)}")
                sig = hmac.new(BOT_SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()
                t = time.monotonic()
                async with http.post(f"{url}?{q}&signature={sig}", headers={"X-MBX-APIKEY": BOT_KEY}) as r:
                    body = await r.json(content_type=None)
                self.seen["http"].append((t, r.status, body.get("code") if r.status != 200 else None))
                i += 1
                nxt += step
                await asyncio.sleep(max(0.0, nxt - time.monotonic()))


class _SpotRogueVenue(_RogueVenue):
    """The venue's side of a spot run: the same bot on the spot desk (limit buys resting across
    the held pairs, every fifth a market buy growing the first holding), stamped as the futures
    book's are (the spot desk tells its orders' changes). Nothing it places only reduces: on spot
    the venue watch leaves no order standing under a halt (only a reduce-only order or a
    position's take-profit / stop-loss, which no spot order is)."""

    @staticmethod
    def refusal(e: Exception) -> str:  # (by what the venue said: a spot face may lack what the bot needs)
        return f"{type(e).__name__}: {str(e)[:120]}"

    def size(self, symbol: str) -> float:
        return float(self.eng.accounts[ACCOUNT].spot.get(self.eng.markets[symbol].base, 0.0))

    def _place(self, i: int) -> None:
        """The bot's i-th spot order: every fifth a market buy growing the first holding, the
        others limit buys resting across the held pairs."""
        seen, cid = self.seen, f"rogue-{i}"
        if i % 5 == 4:
            self.eng.place_spot_order(ACCOUNT, self.first, "BUY", ORDER_QTY, client_order_id=cid)
            seen["growth"].append(time.monotonic())
        else:
            sym = self.markets[2 + i % min(8, len(self.markets) - 2)]
            self.eng.place_spot_order(ACCOUNT, sym, "BUY", ORDER_QTY, 99.0, time_in_force="GTC",
                                      client_order_id=cid)
            seen["accepted"][cid] = time.monotonic()

    def command(self, cmd: str, arg: Any) -> Any:
        if cmd == "account":  # the spot account as its face's own
            from adapters.simulated.venues import sim_account

            before = dict(os.environ)
            doc = sim_account(self.server, ACCOUNT, self.venue_id, market_type="spot").model_dump(
                mode="json", exclude_none=True)
            return doc, {k: v for k, v in os.environ.items() if before.get(k) != v}
        if cmd == "result":
            return {**self.seen, "final": self.exposure(), "open_reduce_only": 0}
        return super().command(cmd, arg)


def write_inputs(work: Path, account: dict, streamed: bool, revoke: bool = False) -> tuple[Path, Path]:
    """The policy and the Accounts document of ``account`` (its face's own: the venue process's
    ``account``), the bot's strategy declared, its stream block when ``streamed``, the revoke's
    master credentials when ``revoke``."""
    pol = work / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "rogue.yaml").write_text(POLICY)
    account = {**account, "strategies": ["rogue"]}
    if streamed:
        account["stream"] = {"enabled": True, "reconcile_every": f"{RECONCILE_S:g}s"}
    if revoke:
        account["revoke"] = {"master_credentials": {"api_key": {"env": "KS_M_KEY"}, "secret": {"env": "KS_M_SECRET"}},
                             "sub_account": SUB_EMAIL, "api_keys": [BOT_KEY]}
    acc = work / "accounts.yaml"
    acc.write_text(json.dumps({"apiVersion": "killswitch/v1", "kind": "Accounts", "metadata": {"name": "bench"},
                               "spec": {"dry_run": False, "accounts": [account]}}, indent=1))
    return pol, acc


def the_account(venue: Any) -> dict:
    """The venue process's account document, its credentials' environment set here (and in the
    runner's, :data:`harness.ENV`)."""
    account, env_key = venue.do("account")
    os.environ.update(env_key)
    ENV.update(env_key)
    return account


def post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def run_dir(work: Path, n: int, streamed: bool, venue_id: str, market: str) -> Path:
    """Where one run keeps its inputs, the runner's state and its log."""
    return work / f"{'s' if streamed else 'p'}{n}-{venue_id}{'' if market == 'futures' else '-' + market}"


def one_run(work: Path, n: int, streamed: bool, rate: float, seconds: float, at_lock: bool = False,
            venue_id: str = "binanceusdm", market: str = "futures") -> dict:
    venue = VenueProcess(venue_process, n, venue_id, market)
    runner = None
    try:
        d = run_dir(work, n, streamed, venue_id, market)
        d.mkdir()
        pol, acc = write_inputs(d, the_account(venue), streamed)
        api_port = free_port()
        runner = start_runner(d, pol, acc, f"sqlite://{d / 'state.db'}", "bench", api_port)
        api = f"http://127.0.0.1:{api_port}"
        key = f"{venue_id}/{ACCOUNT}"

        def ready() -> bool:
            st = get_json(api + "/v1/status", token=API_TOKEN)
            if not streamed:
                return bool(st.get("leader")) and st.get("last_tick_ms") is not None
            s = (st.get("streams") or {}).get(key) or {}
            return s.get("state") == "live" and bool(s.get("answers"))

        if not wait_until(ready, 180, step=0.2):
            raise RuntimeError(f"the runner was not ready in 180 s (see {d}/bench.err)")
        answer = post_json(api + "/v1/lock", {"scope": key, "mode": "halted", "reason": "bench: rogue bot"})
        if not answer.get("done"):
            raise RuntimeError(f"the lock was refused: {answer}")
        if not at_lock:
            time.sleep(INTERVAL_S + 1.0)  # a tick under the lock: its baseline taken
        venue.do("rogue", (rate, seconds))
        time.sleep(seconds + INTERVAL_S + 3.0)
        out = venue.do("result")
        try:
            out["status"] = get_json(api + "/v1/status", token=API_TOKEN)
        except Exception:  # noqa: BLE001 - figures stand without it
            out["status"] = {}
        return out
    finally:
        stop(runner)
        venue.close()


def report(n: int, streamed: bool, r: dict, ref: float, market: str = "futures") -> None:
    lags = [(r["cancelled"][c] - t) * 1000 for c, t in r["accepted"].items() if c in r["cancelled"]]
    left = len(r["accepted"]) - len(lags)
    reverts = sorted(r["reverts"])
    rlag = []
    for g in r["growth"]:
        after = next((t for t in reverts if t >= g), None)
        if after is not None:
            rlag.append((after - g) * 1000)
    mode = "streamed" if streamed else "polled"
    peak = max(r["exposure"], default=0.0)
    if lags:
        p50, p99 = statistics.median(lags), pct(lags, 99)
        goal = (f"goal p99 <= {GOAL_P99_MS:g} ms: {'met' if p99 <= GOAL_P99_MS else 'NOT met'}" if streamed else
                f"goal <= interval + tick ({INTERVAL_S * 1000:,.0f} ms + tick): "
                f"{'met' if max(lags) <= INTERVAL_S * 1000 * 1.5 else 'NOT met'}")
        print(f"  {mode}: cancel after acceptance p50 {p50:,.1f} ms  p99 {p99:,.1f} ms  max {max(lags):,.1f} ms "
              f"({goal}); in reference loops p50 {p50 / ref:.1f}  p99 {p99 / ref:.1f}")
    else:
        print(f"  {mode}: NO entry was cancelled")
    reverted = (f"reverted after (p50 {statistics.median(rlag) if rlag else float('nan'):,.0f} ms, "
                f"max {max(rlag, default=float('nan')):,.0f} ms)")
    if market != "futures" and r["growth"] and not rlag:
        reverted = "NONE reverted (no sell of the first holding by the runner after any of them)"
    print(f"    entries {len(r['accepted'])}, cancelled {len(lags)}, left open {left}; growth fills "
          f"{len(r['growth'])}, {reverted}; refused by the venue {len(r['refused'])}")
    standing = (f"reduce-only left standing {r['open_reduce_only']} of {len(r['reduce_only'])}" if market == "futures"
                else "no order that only reduces placed: on spot the watch leaves none standing under a halt")
    print(f"    exposure added after the lock ({'first market' if market == 'futures' else 'first holding'}, "
          f"notional): peak {peak:,.0f}  at the end "
          f"{r['final']:,.0f}  (one order is {ORDER_NOTIONAL:,.0f}: "
          f"{'at most one order' if r['final'] <= ORDER_NOTIONAL else 'MORE than one order'} at the end); "
          f"{standing}")
    if r["refused"] and market != "futures":
        print(f"    the venue refused the bot's orders: "
              f"{', '.join(f'{k} x{v}' for k, v in sorted(Counter(r['refused']).items()))}")
    if r.get("writes") is not None:
        total = sum(r["writes"].values())
        print(f"    the runner's writes at the venue while the bot ran: "
              f"{', '.join(f'{w} {k}' for w, k in r['writes'].items()) or 'none'} "
              f"({total / r['writes_s']:.1f} a second)")


def revoke_run(work: Path, n: int, rate: float, seconds: float) -> dict:
    """The bot trading over REST with its own key; ``revoke_trading`` asked through the API (preview,
    then the revoke) halfway through. The stamps: the bench's request and the runner's answer
    (acknowledged: the venue confirmed it), beside each of the bot's orders and the venue's answer."""
    venue = VenueProcess(venue_process, n)
    runner = None
    try:
        d = work / f"revoke{n}"
        d.mkdir()
        pol, acc = write_inputs(d, the_account(venue), False, revoke=True)
        api_port = free_port()
        env_key = {"KS_M_KEY": MASTER_KEY, "KS_M_SECRET": MASTER_SECRET}
        os.environ.update(env_key)
        ENV.update(env_key)
        runner = start_runner(d, pol, acc, f"sqlite://{d / 'state.db'}", "bench", api_port)
        api = f"http://127.0.0.1:{api_port}"
        if not wait_until(lambda: get_json(api + "/v1/status", token=API_TOKEN).get("last_tick_ms") is not None,
                          180, step=0.2):
            raise RuntimeError(f"the runner was not ready in 180 s (see {d}/bench.err)")
        venue.do("rogue_http", (rate, seconds))
        time.sleep(seconds / 2)
        key = f"binanceusdm/{ACCOUNT}"
        preview = post_json(api + "/v1/preview/revoke", {"scope": key})
        asked = time.monotonic()
        answer = post_json(api + "/v1/revoke", {"scope": key, "reason": "bench: rogue bot",
                                                "preview_id": preview["preview_id"]})
        acked = time.monotonic()
        time.sleep(seconds / 2 + 1.0)
        out = venue.do("result")
        out.update(asked=asked, acked=acked, answer=answer)
        return out
    finally:
        stop(runner)
        venue.close()


def report_revoke(r: dict, ref: float) -> None:
    sent, asked = r["http"], r["asked"]
    after = [(t, st, code) for t, st, code in sent if t >= r["acked"]]
    between = [(t, st, code) for t, st, code in sent if r["asked"] <= t < r["acked"]]
    accepted_after = sum(1 for _, st, _ in after if st == 200)
    codes = sorted({str(c) for _, st, c in after if st != 200})
    first_refused = next((t for t, st, _ in sent if st != 200), None)
    ack_ms = (r["acked"] - r["asked"]) * 1000
    print(f"  revoke_trading: answered {r['answer'].get('done')} ({r['answer'].get('reason', '')[:80]}) "
          f"{ack_ms:,.0f} ms after it was asked ({ack_ms / ref:.1f} reference loops)")
    print(f"    the bot's orders: {len(sent)} sent; before the ask accepted "
          f"{sum(1 for t, st, _ in sent if t < r['asked'] and st == 200)}; while the revoke was under way "
          f"{len(between)} ({sum(1 for _, st, _ in between if st == 200)} accepted); after the acknowledgement "
          f"{len(after)}, accepted {accepted_after} "
          f"({'refused from the first one' if after and accepted_after == 0 else 'NOT all refused'}), the venue's "
          f"codes {', '.join(codes) or '-'}; first refusal "
          f"{'-' if first_refused is None else f'{(first_refused - asked) * 1000:,.0f} ms after the ask'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layouts", default=None, help="positions, comma-separated (default 1000,10000)")
    ap.add_argument("--rate", type=float, default=10.0, help="the rogue's orders a second")
    ap.add_argument("--seconds", type=float, default=None, help="how long the rogue sends (default 30; quick 10)")
    ap.add_argument("--modes", default="streamed,polled,revoke",
                    help="streamed, polled (the venue watch) and revoke (revoke_trading under a rogue over REST)")
    ap.add_argument("--venue", default=None, help="the dialect the simulated venue speaks (a streaming one of "
                    "bench/stream.py's; comma-separated for several in turn; revoke: Binance only); default "
                    "binanceusdm, with --market spot every venue whose spot account streams")
    ap.add_argument("--market", default="futures", choices=("futures", "spot"),
                    help="the account: the face's futures book, or a spot account holding the N base assets "
                         "(every venue whose simulated spot account streams)")
    ap.add_argument("--at-lock", action="store_true",
                    help="the bot starts as the lock is placed, before the first tick under it (not one interval on)")
    args = ap.parse_args()
    layouts = [int(x) for x in (args.layouts or ("1000" if args.quick else "1000,10000")).split(",")]
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    spot = args.market == "spot"
    table = venue_table(args.market)
    venues = pick_venues(args.venue, args.market, table)
    unknown = [v for v in venues if v not in table]
    if unknown:
        aside = "" if spot else " (the bench's futures book is positions: a spot face is left out; --market spot)"
        ap.error(f"--venue {', '.join(unknown)}: the venues whose {args.market} account streams are "
                 f"{', '.join(sorted(table)) or 'none'}{aside}")
    if "revoke" in modes and (venues != ["binanceusdm"] or spot):
        ap.error("--modes revoke runs on binanceusdm alone (its bot trades over Binance's REST face)")
    work = Path(tempfile.mkdtemp(prefix="ks-rogue-"))
    print(f"a rogue bot under an operator halt — machine: {machine()}", flush=True)
    for n in layouts:
        ref = reference_ms()
        book = (f"one spot account holding {n:,} base assets on {n:,} pairs (1,000 each at 100)" if spot else
                f"one account, {n:,} longs on {n:,} markets")
        print(f"layout: {book}, an operator halted lock on it; the rogue bot "
              f"at {args.rate:g} orders/s for {seconds:g} s inside the venue's process; "
              f"{', '.join(table[v].name for v in venues)} (REST + websocket faces), ksctl run with ccxt / ccxt.pro, "
              f"SQLite, interval {INTERVAL_S:g} s; "
              f"the bot starting {'as the lock is placed' if args.at_lock else 'one interval after the lock'}; "
              f"load average {os.getloadavg()[0]:.1f}; reference loop {ref:.1f} ms", flush=True)
        for m in modes:
            if m == "revoke":
                report_revoke(revoke_run(work, n, args.rate, seconds), ref)
            else:
                for v in venues:
                    if len(venues) > 1 or spot:
                        print(f"  {table[v].name} ({v}):", flush=True)
                    if not spot:
                        r = one_run(work, n, m == "streamed", args.rate, seconds, args.at_lock, v)
                    elif table[v].lacks is not None:
                        print(f"    not run: {table[v].lacks}")
                        continue
                    else:
                        try:
                            r = one_run(work, n, m == "streamed", args.rate, seconds, args.at_lock, v, "spot")
                        except RuntimeError as e:  # (a face that lacks what the bot or the runner needs: said)
                            print(f"    not run: {e}")
                            for said in why_not_read(run_dir(work, n, m == "streamed", v, "spot") / "bench.err"):
                                print(f"      the runner said: {said}")
                            continue
                    report(n, m == "streamed", r, ref, args.market)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
