"""Whose an order is at the gate (killswitch/runner/gate/whose.py): the strategy its client
order id names by the account's declared prefixes, read as the venue watch reads it.

Fails where the gate trusted the self-declared strategy alone: a latched bot's order carrying its
``bot-a-`` client id was answered ALLOW (then cancelled at the venue by the watch), and a typo'd
strategy passed too. And an order carrying no strategy, refused by per-strategy limits, is told
so (STRATEGY_MISSING) under its account's scope, which an override may name."""

from __future__ import annotations

import pytest

from killswitch.overrides import Override, OverrideIndex
from killswitch.runner.gate.gate import check_order
from killswitch.runner.gate.limits_state import LimitsState
from killswitch.runner.gate.placement import Placement
from killswitch.runner.gate.refusals import refusal_key
from killswitch.runner.lock.lock import LockBook
from killswitch.runner.names import Catalog
from killswitch.runner.override.resolve import bound_of
from killswitch.snapshot import Snapshot
from tests.unit.engine_helpers import compile_graph

T0 = 1_800_000_000_000
MAIN, HEDGE = "binanceusdm/sim-main", "binanceusdm/sim-hedge"
PREFIXES = {MAIN: {"bot-a-": "bot-a", "bot-b": "bot-b"}, HEDGE: {"hb-": "bot-a"}}
WHERE = Placement(Catalog(accounts=frozenset({MAIN, HEDGE}), strategies=frozenset({"bot-a", "bot-b"}),
                          symbols={MAIN: frozenset({"BTC/USDT:USDT"}), HEDGE: frozenset({"BTC/USDT:USDT"})},
                          prefixes=PREFIXES))
BOT_A_LATCHED = LockBook().apply("bot-a", "halted", now_ms=T0, policy="bot-guard", stage=2)


def order(**kw):
    return {"account": MAIN, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01, **kw}


def check(book=BOT_A_LATCHED, **kw):
    return check_order(book, order(**kw), [], T0 + 1, placement=WHERE)


def test_a_latched_bots_client_id_is_its_order_whatever_the_order_says():
    said_nothing = check(client_order_id="bot-a-17")
    assert not said_nothing.allow and said_nothing.reason.startswith("HALTED"), said_nothing
    other = check(client_order_id="bot-b-3")
    assert other.allow, other  # bot-b is not latched: its orders go
    assert not check(client_order_id="hb-1", account=HEDGE).allow  # a prefix of another shape, the same bot


def test_a_strategy_its_client_id_contradicts_is_refused_naming_both():
    d = check(strategy="bot-b", client_order_id="bot-a-17")
    assert not d.allow and d.reason == ("STRATEGY_MISMATCH: client order id 'bot-a-17' is strategy 'bot-a''s (its "
                                        "declared prefix), not 'bot-b''s as the order says"), d


@pytest.mark.parametrize("typed, hint", [("bot-aa", "did you mean 'bot-a'"), ("zzz", "they declare bot-a, bot-b")])
def test_a_strategy_the_account_does_not_declare_is_refused_with_close_matches(typed, hint):
    d = check(LockBook(), strategy=typed)
    assert not d.allow and d.reason.startswith(f"UNKNOWN_STRATEGY: {typed!r} is no strategy of {MAIN}"), d
    assert hint in d.reason, d


def test_a_declared_strategy_and_an_unattributed_order_pass_as_before():
    assert check(LockBook(), strategy="bot-b").allow
    assert check(LockBook(), client_order_id="x-cvBPrNm9abc").allow  # a venue's own id: nobody's
    assert check(LockBook()).allow  # no strategy, no client id


def test_a_client_id_naming_two_bots_over_a_scope_is_ambiguous():
    where = Placement(Catalog(accounts=frozenset({MAIN, HEDGE}),
                              symbols={MAIN: frozenset({"BTC/USDT:USDT"}), HEDGE: frozenset({"BTC/USDT:USDT"})},
                              prefixes={MAIN: {"q-": "bot-a"}, HEDGE: {"q-": "bot-b"}}))
    d = check_order(LockBook(), {"scope": "binanceusdm", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01,
                                 "client_order_id": "q-1"}, [], T0, placement=where)
    assert not d.allow and d.reason.startswith("STRATEGY_AMBIGUOUS: client order id 'q-1' names bot-a, bot-b"), d


PER_STRATEGY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: bots}
spec:
  scope: {level: strategy, strategies: [bot-a, bot-b]}
  signals: {dd: {equity_drawdown: {window: 15m}}}
  triggers: {hard: {when: "dd >= 10%", on_missing_data: hold}}
  stages: [{level: 1, name: flatten, on: [hard], actions: [close_all]}]
  limits: {max_order_notional: 100k}
"""


def test_an_order_carrying_no_strategy_is_judged_as_its_accounts_book_and_an_override_there_can_lift_it():
    """Issue 81: per-strategy limits refused an order naming no strategy (and no client id naming
    one) with ``scope=-``, a scope no override can name. It names the account, leads with
    STRATEGY_MISSING saying what to send, and an override on the account's scope lifts it."""
    graph = compile_graph(PER_STRATEGY, "bots.yaml")
    snaps = {a: Snapshot(venue="binanceusdm", account=a.split("/")[1], market_type="futures", ts_event=T0,
                         equity=1e6) for a in (MAIN, HEDGE)}
    state = LimitsState()

    def ask(**kw):
        return check_order(LockBook(), order(amount=3, price=60_000, **kw), [], T0 + 1, placement=WHERE,
                           limits=state.for_gate(graph, snaps))

    d = ask(client_order_id="x-cvBPrNm9abc")  # 180,000 > 100,000, and the client id is nobody's
    assert not d.allow and d.reason.startswith(
        "STRATEGY_MISSING: the order carries no strategy (no \"strategy\", its client order id 'x-cvBPrNm9abc' has "
        f"no prefix {MAIN} declares): per-strategy limits judged it as {MAIN}'s own book; send \"strategy\" "
        "(bot-a, bot-b) or a client_order_id beginning with a declared prefix (bot-a-, bot-b); "
        "LIMIT_ORDER_NOTIONAL"), d
    assert d.reason.endswith(f"[policy=bots scope={MAIN}]") and "scope=-" not in d.reason, d
    assert (d.limit["code"], d.limit["scope"], d.limit["strategy_missing"]) == ("LIMIT_ORDER_NOTIONAL", MAIN, True)
    assert refusal_key(order(), d.reason, d.limit)[-1] == "LIMIT_ORDER_NOTIONAL"  # counted under the limit's code
    assert ask().reason.startswith('STRATEGY_MISSING: the order carries no strategy (no "strategy", no '
                                   "client_order_id)"), ask()
    said = ask(strategy="bot-b")  # named: judged as its strategy's, as before
    assert not said.allow and said.reason.startswith("LIMIT_ORDER_NOTIONAL") and "scope=bot-b]" in said.reason, said
    bound, why = bound_of(graph, state.tables(graph, snaps), WHERE.catalog, MAIN, "max_order_notional")
    assert why is None and bound.policies == ("bots",), why  # an override may name the account's scope
    state.overrides = OverrideIndex.of([Override("ovr-1", MAIN, "raise", "BLOCK_TRADE", "agreed", "alice", T0,
                                                 T0 + 3_600_000, 2, (("alice", T0), ("bob", T0)),
                                                 limit="max_order_notional", raise_to=200_000.0)], T0)
    lifted = ask()
    assert lifted.allow and lifted.reason.startswith("OVERRIDDEN: LIMIT_ORDER_NOTIONAL 180000 > 100000 "
                                                     f"[policy=bots scope={MAIN}]; by override ovr-1"), lifted
    assert not ask(strategy="bot-b").allow  # the account's override lifts its own book only
