"""The executor's send order across accounts (killswitch.orders.send_order): every cancel before
any order; each account's cancels one after another in plan order, the accounts at once, so that
a global scope's first close waits for the slowest account's cancels, not for every account's in
turn; then each account's orders in plan order, the accounts at once."""

from __future__ import annotations

import asyncio

from adapters.base import AdapterError, CancelResult, OrderResult, Reason
from killswitch.engine.attribution import Attribution
from killswitch.engine.planner import Plan
from killswitch.orders import CancelIntent, OrderIntent
from killswitch.runner.storeio import StoreIO
from killswitch.runner.venue.executor import Executor
from killswitch.runner.venue.port import Venues
from killswitch.state import open_store

NONE = Attribution("UNKNOWN", 0.0, 0.0, None, None)
ACCOUNTS = [f"acct-{i}" for i in range(5)]


class Venue:
    """One account's venue: a cancel takes ``delay`` s (a round trip); every call noted in the
    log shared by all accounts, with how many cancels were in flight then."""

    def __init__(self, account: str, log: list, flight: dict, delay: float = 0.05, fail: bool = False):
        self.account, self.log, self.flight, self.delay, self.fail = account, log, flight, delay, fail

    async def cancel_orders(self, selector):
        self.flight["now"] += 1
        self.flight["most"] = max(self.flight["most"], self.flight["now"])
        self.flight.setdefault(self.account, 0)
        self.flight[self.account] += 1
        assert self.flight[self.account] == 1, "two cancels of one account at once"
        try:
            await asyncio.sleep(self.delay)
            if self.fail:
                raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, "down")
            self.log.append((self.account, "cancel", selector.order_ids))
            return CancelResult(canceled=selector.order_ids)
        finally:
            self.flight["now"] -= 1
            self.flight[self.account] -= 1

    async def submit(self, intent: OrderIntent):
        self.log.append((self.account, "order", intent.client_order_id))
        return OrderResult(intent.client_order_id, "x", "filled", intent.amount, intent.amount, 100.0)


def order(account: str, k: int) -> OrderIntent:
    return OrderIntent("d-1", f"ks-{account}-{k}", "simulated", account, f"S{k}/USDT:USDT", "sell", None, 1.0, True,
                       99.0, 100.0, 1, 1, 0, "close_all", "TEST")


def send(tmp_path, venues) -> tuple:
    cancels = tuple(CancelIntent("simulated", a, "entries", (f"{a}-o{k}",), "CANCEL_ENTRIES")
                    for k in range(2) for a in ACCOUNTS)  # plan order: every account's first, then its second
    orders = tuple(order(a, k) for a in ACCOUNTS for k in range(2))
    plans = [Plan("d-1", 1, NONE, cancels=cancels, orders=orders)]
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    fence = store.acquire_lease("runner", 60_000, 0)
    io = StoreIO("test")
    ex = Executor(store, Venues({f"simulated/{a}": v for a, v in venues.items()}), lambda: fence, dry_run=False,
                  clock=lambda: 1_000, io=io)
    try:
        asyncio.run(ex.journal(plans))
        report = asyncio.run(ex.send(plans))
        audit = [r.kind for r in store.audit_rows()]
    finally:
        io.close()
        store.close()
    return report, audit


def test_the_accounts_cancel_at_once_each_in_plan_order_and_every_cancel_goes_before_any_order(tmp_path):
    log: list = []
    flight = {"now": 0, "most": 0}
    report, _ = send(tmp_path, {a: Venue(a, log, flight) for a in ACCOUNTS})
    assert flight["most"] == len(ACCOUNTS)  # one cancel of every account in flight together
    kinds = [kind for _, kind, _ in log]
    assert kinds == ["cancel"] * 10 + ["order"] * 10  # every cancel done before the first order
    for a in ACCOUNTS:
        mine = [x for acct, _, x in log if acct == a]
        assert mine == [(f"{a}-o0",), (f"{a}-o1",), f"ks-{a}-0", f"ks-{a}-1"]  # the account's plan order
    assert report.canceled == 10 and report.cancel_failed == [] and report.sent == 10


def test_an_account_whose_cancels_fail_is_reported_and_the_others_are_not_held_up(tmp_path):
    log: list = []
    flight = {"now": 0, "most": 0}
    venues = {a: Venue(a, log, flight, fail=a == "acct-2") for a in ACCOUNTS}
    report, audit = send(tmp_path, venues)
    assert report.cancel_failed == ["simulated/acct-2 EXCHANGE_UNAVAILABLE: down"] * 2
    assert audit.count("cancel_failed") == 2
    assert report.canceled == 8 and report.sent == 10  # its closes go all the same (reduce-only)
