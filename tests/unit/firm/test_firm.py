"""The firm layer's pure core and a shard applying directives: facts made into snapshots (a
shard that stopped publishing, a lapsed lease, a stale token), the firm-wide policies evaluated
by the engine over them (a global drawdown entered, a stopped shard's accounts blind), the
directives of a stage entry, what one shard acts on, the firm-wide policies
that facts cannot serve (KS243), and a directive applied once by a real runner on the simulated
exchange (a hand-written firm store in memory)."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.compile.shards import assign, local_graph, split
from killswitch.engine.evaluate import evaluate
from killswitch.firm.directives import (
    CANCEL_ORDERS,
    CLOSE_ALL,
    LOCK,
    UNLOCK,
    Directive,
    directives_of,
    firm_scope,
    inherited,
    locks_in_force,
    targets,
)
from killswitch.firm.facts import SHARD_NOT_PUBLISHING, Fact, ShardLease, facts_of, firm_snapshots, stale_after_ms
from killswitch.firmlink.apply import DirectiveApplier
from killswitch.policy.accounts_doc import Accounts
from killswitch.policy.load import load_text
from killswitch.process.bootstrap import shard_ports
from killswitch.snapshot import FetchStatus, Position, Snapshot

T0 = 1_772_456_400_000

ACCOUNTS = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Accounts
    metadata: {name: firm}
    spec:
      shards:
        - {name: desk-a, accounts: {match_labels: {desk: a}}}
        - {name: desk-b, accounts: {match_labels: {desk: b}}}
      accounts:
        - {name: a1, venue: binanceusdm, market_type: futures, labels: {desk: a}, initial_capital: 1M,
           credentials: {api_key: {env: K}, secret: {env: S}}}
        - {name: b1, venue: binanceusdm, market_type: futures, labels: {desk: b}, initial_capital: 1M,
           credentials: {api_key: {env: K}, secret: {env: S}}}
        - {name: b2, venue: okx, market_type: futures, labels: {desk: b}, initial_capital: 1M,
           credentials: {api_key: {env: K}, secret: {env: S}, password: {env: P}}}
    """)

FIRM = textwrap.dedent("""\
    ---
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {{name: firm-drawdown}}
    spec:
      scope: {{level: global}}
      interval: 1s
      signals:
        dd: {{{signal}}}
      triggers:
        deep: {{when: "dd >= 10%", on_missing_data: hold}}
      stages:
        - {{level: 1, name: halt, on: [deep], reset: manual, actions: [{action}]}}
    """)
DRAWDOWN = "equity_drawdown: {window: 1h, min_coverage: 0%}"


def _compile(signal: str = DRAWDOWN, action: str = "{lock_trading: {mode: halted}}, close_all"):
    return compile_documents(load_text(ACCOUNTS + FIRM.format(signal=signal, action=action), "firm.yaml"))


def _firm():
    res = _compile()
    assert res.graph is not None, [d.message for d in res.errors]
    spec = next(d.model for d in res.docs if isinstance(d.model, Accounts)).spec
    assignment = assign(spec.accounts, spec.shards)
    got = split(res.graph, spec.accounts, assignment)
    return local_graph(res.graph, got.firm), spec.accounts, assignment


def _fact(shard, account, equity, published, fence=1, venue="binanceusdm", ok=True):
    return Fact(shard, venue, account, published - 50, published, equity, 0.0, 0.0, 0.0, 50, ok,
                None if ok else "EXCHANGE_UNAVAILABLE", True, fence)


LEASES = {"desk-a": ShardLease("desk-a", "a-0", T0 + 60_000, 1), "desk-b": ShardLease("desk-b", "b-0", T0 + 60_000, 1)}


def _all_facts(now, equity=1_000_000.0, b_published=None):
    b = now if b_published is None else b_published
    return [_fact("desk-a", "a1", equity, now), _fact("desk-b", "b1", equity, b),
            _fact("desk-b", "b2", equity, b, venue="okx")]


def test_fresh_facts_are_snapshots_with_the_accounts_equity_labels_and_capital():
    graph, accounts, assignment = _firm()
    got = firm_snapshots(_all_facts(T0), LEASES, assignment, accounts, T0, stale_after_ms(graph))
    assert [(s.venue, s.account, s.equity, s.fetch.ok) for s in got.snapshots] == [
        ("binanceusdm", "a1", 1e6, True), ("binanceusdm", "b1", 1e6, True), ("okx", "b2", 1e6, True)]
    assert got.snapshots[0].labels == {"desk": "a"} and got.snapshots[0].initial_capital == 1e6
    assert got.not_publishing == {} and got.ages_ms == {"desk-a": 0, "desk-b": 0}


def test_a_shard_whose_facts_are_older_than_the_limit_is_not_publishing_naming_the_shard_and_age():
    graph, accounts, assignment = _firm()
    assert stale_after_ms(graph) == 1_500  # one and a half of the 1s interval
    got = firm_snapshots(_all_facts(T0, b_published=T0 - 4_000), LEASES, assignment, accounts, T0, 1_500)
    failed = {s.account: s.fetch for s in got.snapshots if not s.fetch.ok}
    assert set(failed) == {"b1", "b2"}
    assert failed["b1"].error_code == SHARD_NOT_PUBLISHING
    assert "shard desk-b's last facts of binanceusdm/b1 are 4.0s old (limit 1.5s)" in failed["b1"].error
    assert got.ages_ms["desk-b"] == 4_000 and "desk-b" in got.not_publishing and "desk-a" not in got.not_publishing


def test_a_shard_without_a_leader_is_not_publishing_even_with_fresh_facts():
    graph, accounts, assignment = _firm()
    leases = {**LEASES, "desk-b": ShardLease("desk-b", "b-0", T0 - 2_000, 1)}
    got = firm_snapshots(_all_facts(T0), leases, assignment, accounts, T0, 1_500)
    assert "shard desk-b has no leader (its lease lapsed 2.0s ago)" in got.not_publishing["desk-b"]
    assert [s.account for s in got.snapshots if not s.fetch.ok] == ["b1", "b2"]


def test_facts_under_a_token_below_the_shards_current_one_are_ignored_and_counted():
    graph, accounts, assignment = _firm()
    leases = {**LEASES, "desk-b": ShardLease("desk-b", "b-1", T0 + 60_000, 2)}  # a standby took over
    got = firm_snapshots(_all_facts(T0), leases, assignment, accounts, T0, 1_500)
    assert got.ignored == 2  # the dead leader's b1 and b2, fresh as they look
    b1 = next(s for s in got.snapshots if s.account == "b1")
    assert not b1.fetch.ok and "published no facts of binanceusdm/b1 under its current token" in b1.fetch.error


def test_a_fact_the_shard_could_not_read_is_a_failed_snapshot_with_its_error():
    graph, accounts, assignment = _firm()
    facts = _all_facts(T0)
    facts[0] = _fact("desk-a", "a1", None, T0, ok=False)
    got = firm_snapshots(facts, LEASES, assignment, accounts, T0, 1_500)
    assert got.snapshots[0].fetch.error_code == "EXCHANGE_UNAVAILABLE"


def test_facts_of_a_tick_carry_equity_exposure_and_data_age():
    pos = [Position(symbol="BTC/USDT:USDT", side="long", contracts=1, notional=60_000, mark_price=60_000,
                    unrealized_pnl=-500),
           Position(symbol="ETH/USDT:USDT", side="short", contracts=10, notional=30_000, mark_price=3_000,
                    unrealized_pnl=100)]
    snaps = [Snapshot(venue="binanceusdm", account="a1", market_type="futures", ts_event=T0 - 300, equity=9e5,
                      positions=pos),
             Snapshot(venue="okx", account="a2", market_type="futures", ts_event=T0 - 100,
                      fetch=FetchStatus(ok=False, error_code="RATE_LIMITED"))]
    ok, failed = facts_of("desk-a", snaps, True, T0, 7)
    assert (ok.equity, ok.gross_exposure, ok.net_exposure, ok.unrealized_pnl, ok.data_age_ms, ok.fence) == \
        (9e5, 90_000, 30_000, -400, 300, 7)
    assert not failed.fetch_ok and failed.fetch_error == "RATE_LIMITED" and failed.gross_exposure is None


def test_a_global_drawdown_over_two_shards_facts_enters_the_stage_and_writes_lock_and_close_directives():
    graph, accounts, assignment = _firm()
    state = None
    for i, equity in enumerate((1_000_000.0, 1_000_000.0, 850_000.0)):
        now = T0 + i * 1_000
        reading = firm_snapshots(_all_facts(now, equity), LEASES, assignment, accounts, now, 1_500)
        ev, state = evaluate(graph, reading.snapshots, state, now)
    assert [(s.scope, s.stage_after) for s in ev.scopes] == [("global", 1)]
    got = directives_of(ev, graph, accounts)
    assert [(d.kind, d.scope) for d in got] == [(LOCK, "global"), (CLOSE_ALL, "global")]
    assert got[0].accounts == ["binanceusdm/a1", "binanceusdm/b1", "okx/b2"]
    assert got[0].payload["mode"] == "halted" and got[0].payload["manual"] is True
    assert got[0].decision_id == ev.scopes[0].transition.decision_id


def _entered(action: str):
    res = _compile(action=action)
    assert res.graph is not None, [d.message for d in res.errors]
    spec = next(d.model for d in res.docs if isinstance(d.model, Accounts)).spec
    assignment = assign(spec.accounts, spec.shards)
    graph = local_graph(res.graph, split(res.graph, spec.accounts, assignment).firm)
    state = None
    for i, equity in enumerate((1_000_000.0, 1_000_000.0, 850_000.0)):
        now = T0 + i * 1_000
        reading = firm_snapshots(_all_facts(now, equity), LEASES, assignment, spec.accounts, now, 1_500)
        ev, state = evaluate(graph, reading.snapshots, state, now)
    return directives_of(ev, graph, spec.accounts), ev


def test_a_stage_entry_with_cancel_orders_writes_a_cancel_directive_before_its_close():
    # the stage lists the close first: the cancel is written (and so applied) before it all the same
    got, ev = _entered("close_all, {cancel_orders: {which: entries, symbols: [BTC/USDT:USDT]}}, "
                       "{lock_trading: {mode: halted}}")
    assert [d.kind for d in got] == [CANCEL_ORDERS, CLOSE_ALL, LOCK]
    cancel = got[0]
    assert (cancel.scope, cancel.payload["which"], cancel.payload["symbols"]) == \
        ("global", "entries", ["BTC/USDT:USDT"])
    assert cancel.accounts == ["binanceusdm/a1", "binanceusdm/b1", "okx/b2"]
    assert cancel.payload["reason"].startswith("FIRM_STAGE: stage=1 (halt) policy=firm-drawdown")
    assert cancel.decision_id == ev.scopes[0].transition.decision_id
    plain, _ = _entered("{cancel_orders: all}")
    assert [(d.kind, d.payload["which"], d.payload["symbols"]) for d in plain] == [(CANCEL_ORDERS, "all", [])]


def test_a_stopped_shard_leaves_the_firm_policy_blind_and_its_on_missing_data_holds():
    graph, accounts, assignment = _firm()
    now = T0 + 5_000
    reading = firm_snapshots(_all_facts(now, b_published=now - 3_000), LEASES, assignment, accounts, now, 1_500)
    ev, _ = evaluate(graph, reading.snapshots, None, now)
    cov = ev.scopes[0].coverage
    assert not cov.armed and cov.reason == "ACCOUNT_NOT_READ"
    assert "binanceusdm/b1 not read: SHARD_NOT_PUBLISHING" in cov.detail and "a1" not in cov.detail
    assert "shard desk-b's last facts of binanceusdm/b1 are 3.0s old" in reading.not_publishing["desk-b"]
    assert ev.scopes[0].stage_after == 0 and directives_of(ev, graph, accounts) == []


@pytest.mark.parametrize("scope, accounts, mine, expected", [
    ("global", ["binanceusdm/a1", "binanceusdm/b1"], ["binanceusdm/a1"], ["global"]),
    ("global", ["binanceusdm/a1"], ["binanceusdm/a1", "okx/a2"], ["binanceusdm/a1"]),  # part of it: its accounts
    ("binanceusdm", ["binanceusdm/a1", "binanceusdm/b1"], ["binanceusdm/a1", "okx/a2"], ["binanceusdm"]),
    ("global", ["binanceusdm/b1"], ["binanceusdm/a1"], []),  # none of this shard's
])
def test_a_shard_acts_on_its_own_part_of_a_directive(scope, accounts, mine, expected):
    assert targets(Directive(LOCK, scope, {"accounts": accounts}), mine) == expected


def test_firm_wide_scopes_are_global_and_venues_spanning_shards():
    _, accounts, assignment = _firm()
    assert firm_scope("global", assignment, accounts) == ["binanceusdm/a1", "binanceusdm/b1", "okx/b2"]
    assert firm_scope("binanceusdm", assignment, accounts) == ["binanceusdm/a1", "binanceusdm/b1"]
    assert firm_scope("okx", assignment, accounts) is None  # desk-b's alone: its own runner's
    assert firm_scope("binanceusdm/a1", assignment, accounts) is None


@pytest.mark.parametrize("signal, action, says", [
    ("position_loss: {}", "{lock_trading: {mode: halted}}", 'signal "dd" is position_loss'),
    (DRAWDOWN, "{reduce_top_risk: {count: 1, fraction: 50%}}", "action reduce_top_risk"),
    (DRAWDOWN, "{close_side: long}", "action close_side"),
    (DRAWDOWN, "{reduce_all_by: 50%}", "action reduce_all_by"),  # a kind of its own module, not firm
])
def test_a_firm_wide_policy_reading_or_doing_what_facts_cannot_serve_is_refused_ks243(signal, action, says):
    res = _compile(signal, action)
    assert res.graph is None
    found = [d for d in res.errors if d.code == "KS243"]
    assert found and "firm-wide policy firm-drawdown (its scope spans shards desk-a, desk-b)" in found[0].message
    assert says in found[0].message and found[0].pos is not None


def test_a_firm_wide_policy_of_facts_compiles():
    assert _compile().graph is not None
    assert _compile(action="{cancel_orders: entries}, close_all").graph is not None  # every shard cancels its own


# --- a directive applied once, by a real runner -------------------------------------------------


class FakeFirm:
    """The firm store's directive calls, in memory (the shard's token is always 1)."""

    def __init__(self, directives, written_before: int = 0):
        self.directives = directives
        self.written_before = written_before  # the directives up to this id predate the shard's first run
        self.claims: dict[int, str] = {}
        self.outcomes: dict[int, str] = {}

    def last_directive_id(self):
        return self.written_before

    def ensure_applied(self, schema, start_after, now, inherit=None):
        for did in inherit([d for d in self.directives if d.id <= start_after]) if inherit else ():
            self.claims[did] = "inherited"
        return start_after

    def inherited(self, schema):
        return [d for d, s in self.claims.items() if s == "inherited"]

    def directives_after(self, after, limit=500):
        return [d for d in self.directives if d.id > after]

    def claim_directive(self, schema, fence, did, now):
        if did in self.claims:
            return False
        self.claims[did] = "claimed"
        return True

    def applied(self, schema, fence, did, outcome, now):
        self.claims[did] = "applied"
        self.outcomes[did] = outcome

    def unfinished(self, schema):
        return [d for d, s in self.claims.items() if s == "claimed"]

    def directive(self, did):
        return next((d for d in self.directives if d.id == did), None)

    def reclaim(self, schema, fence, did, now):
        self.claims[did] = "claimed"
        return True

    def kills(self):  # no firm-wide kill was sent (tests/unit/firm/test_kill.py has them)
        return None, None


def test_a_directive_is_applied_once_though_read_again_and_its_lock_is_the_firm_policys(tmp_path):
    from tests.unit.runner.operator.rig import ACCOUNT, make

    w = make(tmp_path)
    lock = Directive(LOCK, "global", {"accounts": [ACCOUNT, "binanceusdm/b1"], "source": "policy",
                                      "policy": "firm-drawdown", "mode": "halted", "manual": True, "stage": 1,
                                      "reason": "FIRM_STAGE: stage=1"}, "firm-drawdown/global/L1/e1", "firm", 1)
    other = Directive(LOCK, "global", {"accounts": ["binanceusdm/b1"], "source": "operator", "mode": "halted"},
                      None, "ops", 2)
    firm = FakeFirm([lock, other])
    echoed: list[str] = []
    applier = DirectiveApplier(shard_ports(w.parts), firm, "desk-a", "ks_shard_desk_a", w.clock, echoed.append,
                               echoed.append)

    async def go():
        await w.runner.start()
        await applier.start()
        first = await applier.apply_new()
        again = await applier.apply_new()
        applier.after_id = 0  # as if a NOTIFY and a tick both read them
        third = await applier.apply_new()
        return first, again, third

    first, again, third = asyncio.run(asyncio.wait_for(go(), 30))
    assert (first, again, third) == (2, 0, 0)
    holds = [(h.scope, h.policy, h.mode, h.manual) for h in w.parts.book.lock_book.holds]
    assert holds == [("global", "firm:firm-drawdown", "halted", True)]
    assert firm.outcomes[2] == "none of this shard's accounts"
    unlock = asyncio.run(w.desk.unlock_scope("global", "try"))
    assert not unlock.done and unlock.reason.startswith("MANUAL_RESET_REQUIRED")  # the firm reset lifts it
    w.store.close()


def test_a_cancel_directive_cancels_the_shards_resting_entry_orders_once_before_its_close_is_sent(tmp_path):
    from tests.unit.runner.operator.rig import ACCOUNT, audit_kinds, make, open_client_ids, resting_order

    w = make(tmp_path)
    why = {"source": "policy", "policy": "firm-drawdown", "stage": 1, "reason": "FIRM_STAGE: stage=1 (halt)"}
    cancel = Directive(CANCEL_ORDERS, "global", {"accounts": [ACCOUNT, "binanceusdm/b1"], "which": "entries",
                                                 "symbols": [], **why}, "firm-drawdown/global/L1/e1", "firm", 1)
    close = Directive(CLOSE_ALL, "global", {"accounts": [ACCOUNT, "binanceusdm/b1"], **why},
                      "firm-drawdown/global/L1/e1", "firm", 2)
    firm = FakeFirm([cancel, close])
    echoed: list[str] = []
    applier = DirectiveApplier(shard_ports(w.parts), firm, "desk-a", "ks_shard_desk_a", w.clock, echoed.append,
                               echoed.append)
    seen: dict[str, object] = {}

    async def go():
        await w.runner.start()
        await w.runner.tick()
        resting_order(w, "bot-a-1")
        # a reduce-only order resting too: an entries cancel leaves it
        w.engine.place_order("sim-main", "ETHUSDT", "SELL", "LIMIT", 0.01, 9_000.0, time_in_force="GTC",
                             client_order_id="bot-a-tp", reduce_only=True)
        seen["before"] = open_client_ids(w)
        first = await applier.apply_new()
        # applied: the entry order is gone, the close only queued (no order of it sent yet)
        seen["after"] = open_client_ids(w)
        seen["journal"] = [e.client_order_id for e in w.store.pending_intents()]
        resting_order(w, "bot-a-2")  # placed after the directive: not the directive's
        applier.after_id = 0  # read again (a NOTIFY and a tick)
        again = await applier.apply_new()
        return first, again

    first, again = asyncio.run(asyncio.wait_for(go(), 30))
    assert (first, again) == (2, 0)
    assert {"bot-a-1", "bot-a-tp"} <= seen["before"]
    assert "bot-a-1" not in seen["after"] and "bot-a-tp" in seen["after"]
    assert seen["journal"] == []  # the close is sent at the next tick, after the cancel
    assert "bot-a-2" in open_client_ids(w)  # the directive was applied once
    assert firm.outcomes[1] == f"{ACCOUNT}: CANCELED 1 (entries open orders)"
    assert firm.outcomes[2].startswith(f"{ACCOUNT}: ")
    assert "firm_cancel" in audit_kinds(w)
    assert any("FIRM_DIRECTIVE 1 cancel_orders global applied here" in e for e in echoed)
    w.store.close()


def _lock(did, scope="global", source="policy", policy="firm-drawdown", created=T0, **extra):
    return Directive(LOCK, scope, {"accounts": ["binanceusdm/a1"], "source": source, "policy": policy,
                                   "mode": "halted", **extra}, None, "firm", did, created)


def _unlock(did, scope="global", source="policy", policy="firm-drawdown"):
    return Directive(UNLOCK, scope, {"source": source, "policy": policy}, None, "firm", did, T0)


def test_the_locks_in_force_are_those_no_unlock_of_their_hold_lifted_nor_their_ttl_ended_and_never_a_close():
    close = Directive(CLOSE_ALL, "global", {"accounts": ["binanceusdm/a1"], "source": "policy"}, None, "firm", 2, T0)
    history = [
        _lock(1),                                                        # the firm policy's: lifted by 5
        close,
        _lock(3, source="operator", policy=None),                        # the operator's of global: in force
        _lock(4, scope="binanceusdm", source="operator", policy=None),   # lifted by 6
        _unlock(5),
        _unlock(6, scope="binanceusdm", source="operator", policy=None),
        _lock(7, policy="other"),                                        # another policy's: in force
        _lock(8, source="operator", policy=None, scope="okx", ttl_s=60, created=T0),  # lapsed at T0 + 61 s
        _lock(9, policy="firm-drawdown", mode="reducing"),               # entered again after its reset
        _unlock(10, policy="other", scope="okx"),                        # another scope's: lifts nothing
    ]
    assert [d.id for d in locks_in_force(history, T0 + 30_000)] == [3, 7, 8, 9]
    assert [d.id for d in locks_in_force(history, T0 + 61_000)] == [3, 7, 9]
    assert locks_in_force([close], T0) == []


def test_an_inherited_lock_spans_its_scope_today_and_keeps_what_remains_of_its_ttl():
    lock = _lock(1, source="operator", policy=None, ttl_s=60)
    got = inherited(lock, T0 + 20_000, ["binanceusdm/n1"])
    assert got is not None and got.accounts == ["binanceusdm/a1", "binanceusdm/n1"]
    assert got.payload["ttl_s"] == 40 and got.id == 1
    assert inherited(lock, T0 + 60_000, []) is None
    held = inherited(_lock(2, ttl_ms=None), T0 + 10**9, [])
    assert held is not None and held.payload.get("ttl_ms") is None


def test_a_shards_first_run_applies_the_firm_lock_in_force_before_it_and_no_old_close_nor_lifted_lock(tmp_path):
    from tests.unit.runner.operator.rig import ACCOUNT, make

    w = make(tmp_path)
    base = {"accounts": [ACCOUNT], "reason": "FIRM_STAGE: stage=1"}
    history = [
        Directive(LOCK, "global", {**base, "source": "operator", "mode": "reducing"}, None, "ops", 1, T0),
        Directive(UNLOCK, "global", {**base, "source": "operator"}, None, "ops", 2, T0),
        Directive(CLOSE_ALL, "global", {**base, "source": "policy", "policy": "firm-drawdown"}, "d", "firm", 3, T0),
        Directive(LOCK, "global", {**base, "source": "policy", "policy": "firm-drawdown", "mode": "halted",
                                   "manual": True, "stage": 1}, "d", "firm", 4, T0),
    ]
    firm = FakeFirm(history, written_before=4)
    echoed: list[str] = []
    applier = DirectiveApplier(shard_ports(w.parts), firm, "desk-a", "ks_shard_desk_a", w.clock, echoed.append,
                               echoed.append)

    async def go():
        await w.runner.start()
        await applier.start()
        return await applier.apply_new(), await applier.apply_new()

    assert asyncio.run(asyncio.wait_for(go(), 30)) == (1, 0)
    holds = [(h.scope, h.policy, h.mode, h.manual) for h in w.parts.book.lock_book.holds]
    assert holds == [("global", "firm:firm-drawdown", "halted", True)]
    assert set(firm.outcomes) == {4} and firm.claims == {4: "applied"}  # the close (3) not sent, 1 lifted by 2
    assert any("FIRM_DIRECTIVE 4 lock global applied here" in e and "in force at the shard's first run" in e
               for e in echoed), echoed
    w.store.close()


def test_status_firm_text_names_the_silent_shard_and_the_accounts_not_seen():
    from killswitch.render.firm import firm_text

    doc = {"shard": "desk-a", "firm_lease": {"holder": "a-1", "token": 3}, "view_age_s": 0.4,
           "shards": [{"shard": "desk-a", "leader": "a-1", "standby": ["a-0"], "accounts": ["x"], "armed": True,
                       "facts_age_s": 0.3, "not_publishing": None},
                      {"shard": "desk-b", "leader": None, "standby": [], "accounts": ["y", "z"], "armed": False,
                       "facts_age_s": 4.2,
                       "not_publishing": "shard desk-b has no leader; its last facts are 4.2s old"}],
           "policies": [{"policy": "firm-drawdown", "scope": "global", "stage": 0, "armed": False,
                         "coverage": "ACCOUNT_NOT_READ", "detail": "deep: binanceusdm/b1 not read",
                         "blind_accounts": ["binanceusdm/b1"]}],
           "facts": {"refused": 0, "ignored": 2, "last_publish": {"rows": 1, "ms": 3.2}, "late": 1}}
    text = firm_text(doc)
    assert text.startswith("firm lease: a-1 (token 3)")
    assert "desk-b         NONE" in text and "NOT PUBLISHING: shard desk-b has no leader" in text
    assert "firm-drawdown global: stage 0, BLIND (ACCOUNT_NOT_READ)" in text
    assert "not seen: binanceusdm/b1" in text and "ignored 2" in text and "late 1 (FIRM_FACTS_LATE)" in text
    assert firm_text({"error": "FIRM_NOT_SHARDED"}).startswith("FIRM_NOT_SHARDED: this runner runs no shard")
