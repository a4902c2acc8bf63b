"""The limit tables (killswitch.engine.limit_tables): which policies' limits bind an order, each
scope instance's usage summed once, the marks by venue, what the book already breaks (``ksctl
plan``) and the usage rows (the console, the lock document)."""

from __future__ import annotations

import textwrap

from killswitch.engine.limit_tables import book_breaches, limit_tables, usage_rows
from killswitch.preview.plan import plan_snapshots
from killswitch.snapshot import FetchStatus, Order, Position, Snapshot
from tests.unit.engine_helpers import compile_graph

T0 = 1_700_000_000_000
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def graph(limits: str, scope: str = "{level: account}"):
    text = textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {{name: lim}}
        spec:
          scope: {scope}
          signals: {{dd: {{equity_drawdown: {{window: 15m}}}}}}
          triggers: {{hard: {{when: "dd >= 10%", on_missing_data: hold}}}}
          stages: [{{level: 1, name: flatten, on: [hard], actions: [close_all]}}]
          limits: {limits}
        """)
    return compile_graph(text, "p.yaml")


def pos(symbol, side, contracts, mark, strategy=None):
    return Position(symbol=symbol, side=side, contracts=contracts, notional=contracts * mark, mark_price=mark,
                    unrealized_pnl=0.0, strategy=strategy)


def snap(account, positions=(), orders=(), ok=True, venue="binance", ts=T0):
    return Snapshot(venue=venue, account=account, market_type="futures", ts_event=ts, equity=1e6,
                    positions=list(positions), orders=list(orders), fetch=FetchStatus(ok=ok))


def test_an_account_level_policy_binds_each_account_to_its_own_usage():
    g = graph("{max_gross_notional: 1M}")
    t = limit_tables(g, [snap("a", [pos(BTC, "long", 2, 100.0)]), snap("b", [pos(ETH, "short", 10, 10.0)])])
    [a] = t.binding("binance/a", None, BTC)
    [b] = t.binding("binance/b", None, BTC)
    assert (a.scope, a.usage.gross) == ("binance/a", 200.0) and (b.scope, b.usage.gross) == ("binance/b", 100.0)
    assert t.binding("okx/c", None, BTC) == []  # an account the policy does not select: nothing binds
    assert t.marks_of("binance/b")[ETH].price == 10.0


def test_a_venue_level_policy_sums_its_accounts_and_an_unread_one_makes_it_unknown():
    g = graph("{max_gross_notional: 1M}", "{level: venue}")
    t = limit_tables(g, [snap("a", [pos(BTC, "long", 2, 100.0)]), snap("b", [pos(ETH, "short", 10, 10.0)])])
    [sl] = t.binding("binance/a", None, BTC)
    assert sl.scope == "binance" and sl.usage.gross == 300.0 and sl.usage.known
    t = limit_tables(g, [snap("a", [pos(BTC, "long", 2, 100.0)]), snap("b", ok=False)])
    assert t.binding("binance/a", None, BTC)[0].usage.known is False


def test_a_strategy_level_policy_counts_each_strategy_s_positions_and_orders():
    g = graph("{max_open_orders: 5}", "{level: strategy, strategies: [bot-a, bot-b]}")
    orders = [Order(id="1", symbol=BTC, side="buy", type="limit", amount=1, price=90.0, strategy="bot-a"),
              Order(id="2", symbol=BTC, side="buy", type="limit", amount=1, price=90.0, strategy="bot-c")]
    t = limit_tables(g, [snap("a", [pos(BTC, "long", 2, 100.0, "bot-a")], orders)])
    [sl] = t.binding("binance/a", "bot-a", BTC)
    assert sl.scope == "bot-a" and sl.usage.open_orders == 1 and sl.usage.gross == 200.0
    assert sl.usage.resting == 0.0  # no position or gross limit: the buy is counted, not summed on its leg
    [empty] = t.binding("binance/a", "bot-b", BTC)
    assert empty.usage.open_orders == 0 and empty.usage.known
    assert t.binding("binance/a", "bot-c", BTC) == []  # a strategy the scope does not list
    assert len(t.binding("binance/a", None, BTC)) == 1  # naming none: held, not guessed free


def test_book_breaches_list_positions_scope_counts_and_open_orders_that_break_a_limit():
    g = graph("{max_position_notional: 150, max_open_orders: 1, price_collar: 5%}")
    orders = [Order(id="far", symbol=BTC, side="buy", type="limit", amount=0.1, price=80.0),
              Order(id="near", symbol=BTC, side="sell", type="limit", amount=0.1, price=101.0),
              Order(id="stop", symbol=BTC, side="sell", type="stop_market", kind="conditional", amount=2,
                    reduce_only=True, trigger_price=90.0)]
    snaps = [snap("a", [pos(BTC, "long", 2, 100.0)], orders)]
    found = book_breaches(limit_tables(g, snaps), snaps, T0)
    reasons = [(b.order_id, b.breach.code) for b in found]
    assert (None, "OPEN_ORDERS_LIMIT") in reasons  # 3 open > 1, said once for the scope
    assert (None, "POSITION_LIMIT") in reasons  # 200 > 150
    assert ("far", "PRICE_COLLAR") in reasons and ("far", "POSITION_LIMIT") in reasons
    assert not any(o in ("near", "stop") for o, _ in reasons)  # within the collar, or only reducing


def test_usage_rows_show_each_limit_beside_its_value():
    g = graph("{max_gross_notional: 1000, max_open_orders: 4, max_position_notional: 500, "
              "max_open_orders_per_symbol: 2}")
    orders = [Order(id="1", symbol=ETH, side="buy", type="limit", amount=1, price=9.0)]
    t = limit_tables(g, [snap("a", [pos(BTC, "long", 2, 100.0), pos(ETH, "long", 30, 10.0)], orders)])
    rows = {r.limit: r for r in usage_rows(t)}
    # the resting buy of ETH opens the long further: counted beside the positions
    gross = rows["max_gross_notional"]
    assert (gross.usage, gross.positions, gross.resting) == (509.0, 500.0, 9.0) and rows["max_open_orders"].usage == 1
    eth = rows["max_position_notional"]
    assert eth.symbol == ETH and (eth.usage, eth.positions, eth.resting) == (309.0, 300.0, 9.0)
    assert rows["max_open_orders_per_symbol"].symbol == ETH and rows["max_open_orders_per_symbol"].usage == 1


def test_plan_over_snapshots_carries_the_breaches():
    g = graph("{max_gross_notional: 100}")
    planned = plan_snapshots(g, [snap("a", [pos(BTC, "long", 2, 100.0)])], None, T0)
    [b] = planned.limit_breaches
    assert b.breach.code == "GROSS_LIMIT" and b.breach.usage == 200.0 and b.scope == "binance/a"
