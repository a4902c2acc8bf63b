"""Whose fills grew a position (killswitch/runner/watch/attribution.py): a revert's violation named
by the venue's own ids — the fills' client order ids and the declared prefixes — not ``unknown``,
the bot's order apart from the runner's own revert, and why where nothing names a strategy."""

from __future__ import annotations

from typing import Optional

from killswitch.fills import Fill
from killswitch.runner.watch.attribution import FillRead, attribute, growth_fills
from killswitch.runner.watch.enforce import watch

from .test_enforce import ACCT, BTC, ETH, T, locked, pos, snap


def fill(cid: Optional[str], amount: float, *, ts: int = T + 1_000, side: str = "buy", symbol: str = BTC,
         strategy: Optional[str] = None, oid: str = "77", leg: Optional[str] = None) -> Fill:
    return Fill(id=f"t{ts}", order_id=oid, client_id=cid, symbol=symbol, side=side, amount=amount, price=60_000.0,
                ts_ms=ts, position_side=leg, strategy=strategy)


def grown(before: float = 5.0, now: float = 6.0):
    """The revert's violation of a BTC long that grew from ``before`` to ``now`` under a halt."""
    book = locked()
    base = watch(book, [snap([pos(contracts=before)])], (), {}, T).baselines
    w = watch(book, [snap([pos(contracts=now)])], (), base, T + 5_000)
    (v,) = w.violations
    assert v.action == "revert" and v.strategy == "unknown"  # a position names no strategy by itself
    return v


def test_a_revert_names_the_strategy_and_the_bots_order_of_the_fill_that_grew_the_leg():
    v = attribute(grown(), FillRead((fill("alp-mkt-1", 1.0, strategy="alpha", oid="9001"),)))
    assert (v.strategy, v.strategies) == ("alpha", ("alpha",))
    assert (v.client_order_id, v.order_id) == ("alp-mkt-1", "9001")  # the bot's order, not the runner's
    assert v.revert_id is not None and v.revert_id != v.client_order_id  # the runner's own, apart
    row = v.to_json()
    assert (row["client_order_id"], row["revert_client_order_id"], row["strategies"]) == (
        "alp-mkt-1", v.revert_id, ["alpha"])
    assert row["attribution"] == "from fills: alp-mkt-1 (alpha) 1"


def test_growth_of_two_bots_names_both_the_larger_first():
    v = attribute(grown(5.0, 7.5), FillRead((fill("beta-1", 1.0, strategy="beta", ts=T + 1_000, oid="1"),
                                              fill("alp-2", 1.5, strategy="alpha", ts=T + 2_000, oid="2"))))
    assert (v.strategy, v.strategies, v.client_order_id, v.order_id) == ("alpha", ("alpha", "beta"), "alp-2", "2")


def test_only_the_newest_fills_that_cover_the_growth_of_its_side_and_symbol_count_and_never_the_runners():
    fills = (fill("old-bot-1", 3.0, ts=T - 50_000, strategy="old"),  # before: the newer ones cover the growth
             fill("alp-3", 1.0, ts=T + 3_000, strategy="alpha"),
             fill("beta-sell", 2.0, ts=T + 4_000, side="sell", strategy="beta"),  # the other side
             fill("beta-eth", 2.0, ts=T + 4_000, symbol=ETH, strategy="beta"),  # another symbol
             fill("ks" + "a" * 30, 2.0, ts=T + 4_500))  # the runner's own shape
    v = grown()
    assert [f.client_id for f in growth_fills(v, fills)] == ["alp-3"]
    assert attribute(v, FillRead(fills)).strategies == ("alpha",)


def test_where_nothing_names_a_strategy_it_says_why():
    v = grown()
    no_read = attribute(v, FillRead(error="UNSUPPORTED: no read of the account's trades"))
    assert no_read.strategy == "unknown"
    assert no_read.attribution == "unknown: no fill read (UNSUPPORTED: no read of the account's trades)"
    assert attribute(v, None).attribution == "unknown: no fill read"
    assert attribute(v, FillRead(())).attribution == "unknown: no fill of the growth read"
    stray = attribute(v, FillRead((fill("zz-9", 1.0),)))
    assert (stray.strategy, stray.client_order_id) == ("unknown", "zz-9")
    assert stray.attribution.endswith("unknown: client order id zz-9 matches no declared prefix")
    by_hand = attribute(v, FillRead((fill(None, 1.0, oid="5"),)))
    assert by_hand.order_id == "5" and by_hand.attribution.endswith("unknown: the fill carries no client order id")


def test_a_cancel_names_its_own_order_and_is_left_as_it_is():
    from .test_enforce import order

    w = watch(locked(), [snap([pos()], [order(cid="alp-1", strategy="alpha")])], (), {}, T)
    (v,) = w.violations
    assert attribute(v, FillRead(error="X")) is v


def test_a_hedge_leg_takes_the_fills_of_its_own_leg():
    book = locked()
    base = watch(book, [snap([pos(leg="LONG")])], (), {}, T).baselines
    (v,) = watch(book, [snap([pos(leg="LONG", contracts=6.0)])], (), base, T + 5_000).violations
    fills = (fill("beta-s", 1.0, leg="SHORT", strategy="beta"), fill("alp-l", 1.0, leg="LONG", strategy="alpha"))
    assert attribute(v, FillRead(fills)).strategies == ("alpha",)
    assert ACCT == v.account


def test_a_fill_after_the_snapshot_that_showed_the_growth_is_not_whose_growth_it_was():
    """The walk: bot-a-0001 grew the long 5 to 5.5; the tick read it; an order with no declared
    prefix filled 5 ms after that read, before the trades were read. The growth is bot-a's."""
    v = grown(5.0, 5.5)
    read = FillRead((fill("bot-a-0001", 0.5, ts=T - 200, strategy="bot-a", oid="1"),
                     fill("x-cvBPrNm95f", 0.5, ts=T + 5, oid="2")))
    named = attribute(v, read, until=T)  # T: the snapshot's time
    assert (named.strategy, named.client_order_id, named.order_id) == ("bot-a", "bot-a-0001", "1")
    assert named.attribution == "from fills: bot-a-0001 (bot-a) 0.5"


def test_each_order_that_grows_the_leg_to_the_same_step_is_a_key_of_its_own_and_one_seen_again_the_same():
    v = grown(5.0, 6.0)
    first = attribute(v, FillRead((fill("alp-1", 1.0, ts=T - 100, strategy="alpha", oid="11"),)), until=T)
    again = attribute(v, FillRead((fill("alp-1", 1.0, ts=T - 100, strategy="alpha", oid="11"),)), until=T)
    second = attribute(v, FillRead((fill("alp-1", 1.0, ts=T - 9_000, strategy="alpha", oid="11"),
                                    fill("alp-2", 1.0, ts=T - 100, strategy="alpha", oid="12"))), until=T)
    assert first.key == again.key == f"{v.key}|11"  # the same breach read again: one key
    assert second.key == f"{v.key}|12" != first.key
    assert attribute(v, FillRead(())).key == v.key  # no fill names it: the size step alone
