"""Each new violation is news that pages (a bot trading again after its key was restored), and
a restore of trading is its own news: to the receivers of the revoke, leading its page, on the
pure dispatcher with an explicit clock."""

from __future__ import annotations

from killswitch.events import LOCK_VIOLATION, ORDER_FAILED, TRADING_RESTORED, TRADING_REVOKED, Event
from killswitch.notify.dispatch import Dispatcher
from killswitch.notify.message import compose
from tests.unit.notify.test_resolved_retry import (
    by_receiver,
    put,
    tree as tree,  # noqa: F401 - the fixture
)

ACCOUNT = "okx/main"


def violation(ts: int, key: str, client_order_id: str, amount: float) -> Event:
    data = {"key": key, "kind": "LOCK_VIOLATION", "action": "revert", "account": ACCOUNT, "symbol": "BTC/USDT:USDT",
            "side": "buy", "amount": amount, "client_order_id": client_order_id, "strategy": "bot-a",
            "strategies": ["bot-a"], "dry_run": False}
    return Event.make(LOCK_VIOLATION, ts, data, policy="book", scope=ACCOUNT, strategy="bot-a",
                      reason="LOCK_VIOLATION", venue="okx", account=ACCOUNT, symbol="BTC/USDT:USDT")


def trading(kind: str, ts: int, op: str) -> Event:
    return Event.make(kind, ts, {"keys": ["main-bot-key"], "read_back": True, "op": op}, policy="book",
                      scope=ACCOUNT, account=ACCOUNT, venue="okx")


def test_a_violation_after_the_first_pages_again_within_the_group_interval(tree):
    d = Dispatcher({"desk": tree})
    put(d, violation(0, f"revert|{ACCOUNT}|BTC|long|0|0.5", "bot-a-0001", 0.5), 0)
    first = by_receiver(d.flush_due(10_000))["pager"]
    assert "bot-a-0001" in compose(first).body
    # the key restored, the bot buys again under the halt: another leg growth, another key
    put(d, violation(40_000, f"revert|{ACCOUNT}|BTC|long|0|0.1", "bot-a-0003", 0.1), 40_000)
    second = by_receiver(d.flush_due(70_000))["pager"]
    assert len(second.new) == 1 and not second.repeat
    msg = compose(second)
    assert "lock broken" in msg.title and "(reminder" not in msg.title
    assert "bot-a-0003" in msg.body and "Earlier in this group:" in msg.body
    # two more before the next flush: one update, with the new count
    put(d, violation(80_000, f"revert|{ACCOUNT}|BTC|long|0|0.2", "bot-a-0004", 0.2), 80_000)
    put(d, violation(90_000, f"revert|{ACCOUNT}|BTC|long|0|0.3", "bot-a-0005", 0.3), 90_000)
    third = compose(by_receiver(d.flush_due(130_000))["pager"])
    assert third.title == f"[CRITICAL] lock broken at the venue in {ACCOUNT} by strategy bot-a: 2 violation(s)"


def test_the_same_growth_again_after_a_revert_is_news(tree):
    d = Dispatcher({"desk": tree})
    key = f"revert|{ACCOUNT}|BTC|long|0|0.5"  # the leg grew from 0 to 0.5 both times
    put(d, violation(0, key, "bot-a-0001", 0.5), 0)
    assert d.flush_due(10_000)
    put(d, violation(40_000, key, "bot-a-0002", 0.5), 40_000)
    assert "bot-a-0002" in compose(by_receiver(d.flush_due(70_000))["pager"]).body


def test_the_same_violation_reported_again_is_one_alert(tree):
    d = Dispatcher({"desk": tree})
    v = violation(0, f"revert|{ACCOUNT}|BTC|long|0|0.5", "bot-a-0001", 0.5)
    put(d, v, 0)
    assert d.flush_due(10_000)
    put(d, v, 40_000)
    assert d.flush_due(70_000) == []


def test_a_restore_pages_the_receivers_of_the_revoke_and_leads_its_page(tree):
    d = Dispatcher({"desk": tree})
    put(d, trading(TRADING_REVOKED, 0, f"{ACCOUNT}#1@0"), 0)
    revoked = by_receiver(d.flush_due(10_000))
    assert set(revoked) == {"pager", "chat"}
    put(d, trading(TRADING_RESTORED, 30_000, f"{ACCOUNT}#2@30000"), 30_000)
    # a rejection on the same group, after the restore: the restore still titles the page
    put(d, Event.make(ORDER_FAILED, 40_000, {"client_order_id": "ks-1"}, policy="book", scope=ACCOUNT, venue="okx",
                      account=ACCOUNT, reason="REDUCE_ONLY_REJECTED", severity="critical"), 40_000)
    restored = by_receiver(d.flush_due(70_000))
    assert set(restored) == {"pager", "chat"}
    for n in restored.values():
        title = compose(n).title
        assert title.startswith("[CRITICAL] trading restored at the venue for okx/main"), title
        assert "(+1 more: order failed)" in title


def test_a_page_carrying_the_revoke_and_the_restore_says_the_latest_state(tree):
    d = Dispatcher({"desk": tree})
    put(d, trading(TRADING_REVOKED, 0, f"{ACCOUNT}#1@0"), 0)
    put(d, trading(TRADING_RESTORED, 5_000, f"{ACCOUNT}#2@5000"), 5_000)
    title = compose(by_receiver(d.flush_due(10_000))["pager"]).title
    assert "trading restored at the venue for okx/main" in title and "(+1 more: trading revoked)" in title, title
    # revoked again: a new revoke of the account is news, and the page says revoked
    put(d, trading(TRADING_REVOKED, 20_000, f"{ACCOUNT}#3@20000"), 20_000)
    again = by_receiver(d.flush_due(70_000))["pager"]
    assert compose(again).title.startswith("[CRITICAL] trading revoked at the venue for okx/main")
