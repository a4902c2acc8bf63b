"""Whose an order is at the gate (killswitch/runner/gate/whose.py): the strategy its client
order id names by the account's declared prefixes, read as the venue watch reads it.

Fails where the gate trusted the self-declared strategy alone: a latched bot's order carrying its
``bot-a-`` client id was answered ALLOW (then cancelled at the venue by the watch), and a typo'd
strategy passed too."""

from __future__ import annotations

import pytest

from killswitch.runner.gate.gate import check_order
from killswitch.runner.gate.placement import Placement
from killswitch.runner.lock.lock import LockBook
from killswitch.runner.names import Catalog

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
