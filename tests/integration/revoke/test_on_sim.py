"""``revoke_trading`` end to end on the simulated exchange's Binance, Bybit and OKX faces: the
runner built by :func:`killswitch.process.bootstrap.build_runner_and_desk` over the production CcxtAdapter, whose
Accounts entry has a ``revoke:`` block (the master credential, the sub-account, the bot's key),
and the bot's own ccxt client trading with that key (tests/integration/simulator/test_revoke.py).

The policy ``bot-guard`` (as tests/integration/revoke/helpers.py) enters its one stage —
halted, the bot's key revoked, a manual reset by two people — when bot-x has been silent over a
minute. The runner's clock is a manual one: 5 s a tick, no sleeps.

- The venue refuses the first revoke with its own code (``REVOKE_FAILED``, paged, audited); the
  retry a tick later takes; from then on the bot's orders are refused with the venue's code. One
  approver restores nothing; the second's reset does, and the bot trades again. ``ksctl report``
  lists the refusal, the revoke and the restore under the incident.
- Failover: the first runner stops after the revoke is owed and saved, before it leaves; a
  second runner on the same SQLite store takes the lease, sends it once, audits it once, and the
  first, woken, sends nothing.
"""

from __future__ import annotations

import asyncio
import json

import ccxt
import pytest
from click.testing import CliRunner

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.venues import sim_account
from killswitch.cli.main import cli
from killswitch.events import REVOKE_FAILED, TRADING_RESTORED, TRADING_REVOKED
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.integration.enforcement.rig import TICK_MS, engine, unthrottled
from tests.integration.simulator.test_revoke import (
    BOT,
    BOT_SECRET,
    MASTER,
    MASTER_SECRET,
    PATH,
    REFUSALS,
    REFUSED_ORDER,
    SUB,
    VENUES,
    _bot,
    _buy,
    master_credentials,
)
from tests.unit.engine_helpers import compile_graph

from .helpers import GUARD

pytest.importorskip("ccxt")

POLICY, ACCOUNT = "bot-guard", "sim-main"


class Crash(BaseException):
    """The process dying here (a BaseException: no ``except Exception`` absorbs it)."""


class DiesBeforeTheSwitch:
    """The adapter; its first ``set_trading`` dies before anything leaves, as a process killed
    after the tick saved the owed revoke and before the revoke was sent."""

    def __init__(self, inner):
        self._inner, self.died = inner, False

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def set_trading(self, allowed: bool):
        if not self.died:
            self.died = True
            raise Crash("killed before the revoke left")
        return await self._inner.set_trading(allowed)


def revoke_block(venue: str, monkeypatch) -> dict:
    monkeypatch.setenv("KS_T_MASTER_KEY", MASTER)
    monkeypatch.setenv("KS_T_MASTER_SECRET", MASTER_SECRET)
    monkeypatch.setenv("KS_T_MASTER_PASS", "sim-passphrase")
    return {"master_credentials": master_credentials(venue), "sub_account": SUB[venue], "api_keys": [BOT]}


class Rig:
    """The server, the account's Accounts entry (with its revoke: block), the store, and runners
    built over it as ``ksctl run`` builds one (each with its own CcxtAdapter)."""

    def __init__(self, tmp_path, venue: str, monkeypatch):
        self.tmp, self.venue, self.key = tmp_path, venue, f"{venue}/{ACCOUNT}"
        self.eng, self.clock = engine()
        perms = self.eng.permissions
        perms.add_key(ACCOUNT, BOT, BOT_SECRET)
        perms.add_master(MASTER, MASTER_SECRET)
        perms.name_sub(ACCOUNT, *SUB.values())
        self.server = SimServer(self.eng, auth_clock=wall_clock)
        self.monkeypatch = monkeypatch
        self.adapters: list = []
        self.url = f"sqlite://{tmp_path / 'state.db'}"
        self.stores: list = []

    async def __aenter__(self) -> "Rig":
        await self.server.start()
        self.account = sim_account(self.server, ACCOUNT, self.venue, labels={"book": "futures"},
                                   revoke=revoke_block(self.venue, self.monkeypatch))
        self.bot = _bot(self.server, self.venue)
        return self

    async def __aexit__(self, *exc) -> None:
        for a in self.adapters:
            await a.close()
        await self.bot.close()
        await self.server.stop()
        for s in self.stores:
            s.close()

    def runner(self, holder: str = "runner", wrap=None):
        adapter = CcxtAdapter(self.account, urls=self.account.api_url, timeout=5.0, max_retries=1, backoff_s=0.05,
                              orders_per_second=1000, exchange_factory=unthrottled(self.venue),
                              open_orders_max_age_s=0)
        self.adapters.append(adapter)
        store = open_store(self.url)
        self.stores.append(store)
        return build_runner_and_desk(compile_graph(GUARD, "guard.yaml"), {self.key: wrap(adapter) if wrap else adapter},
                                     store, lock_path=self.tmp / f"lock-{holder}.json", dry_run=False, clock=self.clock,
                                     holder=holder, confirm_gap_ms=TICK_MS, snapshot_timeout_s=6.0)

    async def ticks(self, built, n: int, *, beat: bool = False) -> list:
        runner, desk, parts = built
        out = []
        for _ in range(n):
            self.clock.advance(TICK_MS)
            if beat:
                await desk.heartbeat("bot-x")
            out.append(await runner.tick())
        return out

    def switches(self) -> list[str]:
        """The permission changes the venue took (POSTs of the switch's path), in order."""
        return [p for m, p, _ in self.eng.permissions.requests if m == "POST"]

    def rows(self, kind: str) -> list[dict]:
        return [r.payload for r in self.stores[0].audit_rows(kinds=[kind], limit=100)]


async def refused(bot, venue: str) -> str:
    """The venue's refusal of the bot's order: its own code."""
    with pytest.raises(ccxt.BaseError) as e:
        await _buy(bot, venue)
    return str(e.value)


def events(reports, kind: str) -> list:
    return [e for r in reports for e in r.events if e.kind == kind]


@pytest.mark.parametrize("venue", VENUES)
def test_a_stage_revokes_the_bots_key_at_the_venue_and_only_two_approvers_restore_it(tmp_path, venue, monkeypatch):
    seen: dict = {}

    async def go():
        async with Rig(tmp_path, venue, monkeypatch) as rig:
            bot, code = rig.bot, REFUSED_ORDER[venue]
            assert (await _buy(bot, venue))["id"]  # the bot trades before
            built = rig.runner()
            runner, desk, parts = built
            await runner.start()
            await desk.heartbeat("bot-x")
            refusal, message = REFUSALS[venue]
            rig.eng.permissions.refuse(refusal, message, ops=("revoke_trading",), times=1)
            reports = await rig.ticks(built, 13)  # bot-x silent over a minute: the stage entered
            assert parts.book.state.scopes[f"{POLICY}|{rig.key}"].stage.level == 1
            [failed] = events(reports, REVOKE_FAILED)  # the venue's refusal, with its own code, paged
            assert failed.data["code"] == refusal and message in failed.data["message"], failed.data
            assert (await _buy(bot, venue))["id"]  # refused at the venue, so not revoked: the bot still trades
            reports = await rig.ticks(built, 1)  # the retry, after the backoff
            assert [e.data["read_back"] for e in events(reports, TRADING_REVOKED)] == [venue != "binanceusdm"]
            assert code in await refused(bot, venue)  # from the first order after the revoke
            assert rig.switches() == [PATH[venue]] * 2  # the refused one and the one that took
            seen["status"] = parts.revokes.status()[rig.key]["shown"]

            await rig.ticks(built, 3, beat=True)  # bot-x back: the trigger stops, the stage holds
            first = await desk.reset(POLICY, rig.key, "alice", "bot reviewed")
            assert not first.done and first.reason.startswith("APPROVAL_RECORDED: 1/2"), first.reason
            await rig.ticks(built, 3, beat=True)
            assert code in await refused(bot, venue)  # one approver restores nothing
            assert rig.switches() == [PATH[venue]] * 2
            second = await desk.reset(POLICY, rig.key, "bob", "agreed")
            assert second.done and "trading restore owed" in second.reason, second.reason
            reports = await rig.ticks(built, 1, beat=True)
            assert len(events(reports, TRADING_RESTORED)) == 1
            assert (await _buy(bot, venue))["id"]  # the bot trades again
            await rig.ticks(built, 3, beat=True)
            assert rig.switches() == [PATH[venue]] * 3  # restored once
            seen["rows"] = {k: rig.rows(k) for k in ("trading_revoked", "trading_restored",
                                                     "trading_permission_failed")}
            seen["incident"] = next(r["decision_id"] for r in rig.rows("stage_transition") if r["to"] == 1)

    asyncio.run(asyncio.wait_for(go(), 120))
    rows = seen["rows"]
    assert [len(rows[k]) for k in ("trading_revoked", "trading_restored", "trading_permission_failed")] == [1, 1, 1]
    assert rows["trading_revoked"][0]["keys"] == {BOT: "revoked"}
    assert rows["trading_restored"][0]["keys"] == {BOT: "allowed"}
    assert seen["status"].startswith("revoked (")

    # the closure report: the refusal, the revoke and the restore, under the stage's incident
    r = CliRunner().invoke(cli, ["report", "--state", f"sqlite://{tmp_path / 'state.db'}", "--since", "2026-03-02",
                                 "--until", "2026-03-03", "-o", "json"], catch_exceptions=False)
    doc = json.loads(r.stdout)
    trading = doc["halt_breaks"]["trading"]
    assert [(t["event"], t["account"], t["incident"]) for t in trading] == [
        ("failed", f"{venue}/{ACCOUNT}", seen["incident"]), ("revoked", f"{venue}/{ACCOUNT}", seen["incident"]),
        ("restored", f"{venue}/{ACCOUNT}", seen["incident"])]  # by the reset that ended the incident
    assert (trading[0]["code"], trading[0]["want"]) == (REFUSALS[venue][0], "revoke")
    assert trading[1]["keys"] == [BOT] and doc["summary"]["trading_changes"] == 3


@pytest.mark.parametrize("venue", VENUES)
def test_a_revoke_owed_and_saved_by_a_runner_that_stopped_is_sent_once_by_the_next(tmp_path, venue, monkeypatch):
    seen: dict = {}

    async def go():
        async with Rig(tmp_path, venue, monkeypatch) as rig:
            a_built = rig.runner("runner-a", wrap=DiesBeforeTheSwitch)
            a, a_desk, a_parts = a_built
            await a.start()
            await a_desk.heartbeat("bot-x")
            await rig.ticks(a_built, 12)
            with pytest.raises(Crash):  # the stage entered, the revoke owed and saved: then the process died
                await rig.ticks(a_built, 1)
            assert rig.switches() == [] and rig.rows("trading_revoked") == []
            assert (await _buy(rig.bot, venue))["id"]  # nothing reached the venue: the bot still trades

            rig.clock.advance(10_000)  # runner-a's lease runs out
            b_built = rig.runner("runner-b")
            b, _, _ = b_built
            await b.start()
            reports = await rig.ticks(b_built, 3)
            # runner-b entered no stage (runner-a latched it; runner-b only tells its sinks it again,
            # resumed): the revoke it sent is the owe runner-a saved
            assert all(e.data.get("resumed") for e in events(reports, "stage_transition"))
            assert len(rig.rows("stage_transition")) == 1
            assert REFUSED_ORDER[venue] in await refused(rig.bot, venue)
            assert rig.switches() == [PATH[venue]]  # sent once, by runner-b
            seen["rows"] = rig.rows("trading_revoked")
            seen["events"] = events(reports, TRADING_REVOKED)

            sent = len(rig.eng.permissions.requests)
            woken = await a.tick()  # runner-a wakes: not the leader, it sends and writes nothing
            assert not woken.leader and len(rig.eng.permissions.requests) == sent
            await rig.ticks(b_built, 2)
            seen["rows_after"] = rig.rows("trading_revoked")
            seen["switches"] = rig.switches()

    asyncio.run(asyncio.wait_for(go(), 120))
    [row] = seen["rows"]  # audited exactly once
    assert row["by"] == "runner-b" and row["keys"] == {BOT: "revoked"}
    assert row["holds"] == [f"{POLICY}|{venue}/{ACCOUNT}"]
    assert len(seen["events"]) == 1 and len(seen["rows_after"]) == 1 and seen["switches"] == [PATH[venue]]
