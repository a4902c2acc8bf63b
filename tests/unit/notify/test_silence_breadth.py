"""The breadth of a silence (issue 81, medium 3: a silence on ``severity="critical"`` alone held back
every lock-violation, limit-violation and revoke page on every scope for a day, and its preview did
not say that it spans every scope): the one rule (``killswitch/silences.py``) that a silence whose
matchers name no scope spans every scope and is made only when confirmed, the notification receipts
that keep the labels of the pages they told, and what a silence's matchers match of the last day's
receipts (``runner/silence/history.py``)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from killswitch.events import Event
from killswitch.notify.routes import compile_routes
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.runner.silence.history import past_pages, past_text
from killswitch.silences import EVERY_SCOPE_CONFIRM, every_scope_problem, parse_matchers, spans_every_scope
from killswitch.state.store import AuditRow
from tests.unit.notify.routes.test_routes import routes_doc
from tests.unit.notify.test_silences import DOC, H, _Context, silence
from tests.unit.notify.test_sink import GatedReceiver, Store

KNOWN = {"policy": frozenset({"bot-guard", "book-drawdown"}), "scope": frozenset({"simulated/sim-main"})}


@pytest.mark.parametrize("text", [
    'severity="critical"',  # the walk's
    'event=~"lock_violation|limit_violation|trading_revoked"',
    'receiver="pager"',
    '{severity="critical", level="2"}',
    'stage="halt"',
    'policy!="bot-guard"',  # every policy but one
    'scope!~"simulated/.*"',
    'account=""',  # a page without an account: every scope's
    'policy=~".+"',  # every policy the runner knows
    'policy=~"bot-guard|book-drawdown"',
])
def test_a_silence_whose_matchers_name_no_scope_spans_every_scope(text):
    assert spans_every_scope(parse_matchers(text), KNOWN)


@pytest.mark.parametrize("text", [
    'policy="bot-guard"',
    '{severity="critical", scope="simulated/sim-main"}',
    'account="simulated/sim-main"',
    'venue="simulated"',
    'strategy="momentum-bot"',
    'symbol="BTC/USDT:USDT"',
    'incident="bot-guard/simulated/sim-main/L1/e1"',
    'policy=~"bot-.*"',  # one of the two
])
def test_a_silence_that_names_a_scope_does_not(text):
    assert not spans_every_scope(parse_matchers(text), KNOWN)


def test_one_that_spans_every_scope_is_refused_until_its_author_confirms_it_and_the_refusal_says_how():
    critical = parse_matchers('severity="critical"')
    why = every_scope_problem(critical, False, KNOWN)
    assert why is not None and why.startswith("SILENCE_TOO_BROAD: it spans EVERY scope: none of its matchers names "
                                              "a policy, scope, venue, account, strategy, symbol or incident"), why
    assert why.endswith(EVERY_SCOPE_CONFIRM)
    for way in ("ksctl silence add --every-scope", '"every_scope": true in POST /v1/silences', "It spans every scope"):
        assert way in why
    assert every_scope_problem(critical, True, KNOWN) is None  # confirmed
    assert every_scope_problem(parse_matchers('{severity="critical", policy="bot-guard"}'), False, KNOWN) is None


def _receipts(store: Store) -> list[AuditRow]:
    return [AuditRow(i, kind, 1_000, payload, "") for i, (kind, _, payload) in enumerate(store.rows, 1)]


def test_each_receipt_keeps_the_labels_of_the_pages_it_told_and_a_preview_counts_them_by_kind():
    """A delivered page's receipt and a silenced one's carry the labels of their alerts, so that
    the matchers of a silence not yet made can be matched with the last day's pages."""
    pager = GatedReceiver("pager", threading.Event())
    pager.gate.set()
    store = Store()
    sink = NotifySink({"desk": compile_routes(routes_doc(DOC))}, {("desk", "pager"): pager}, receipts=store,
                      options=NotifyOptions(poll_s=0.01), clock=lambda: 1_000)
    ctx = _Context([silence(scope="c", end=10 * H)])

    async def go():
        sink.on_event(Event.make("lock_violation", 0, {}, scope="a", account="okx/a", severity="critical"), ctx)
        sink.on_event(Event.make("limit_violation", 0, {}, scope="b", account="okx/b", severity="critical"), ctx)
        sink.on_event(Event.make("trading_revoked", 0, {}, scope="c", severity="critical"), ctx)  # silenced: s1
        sink.on_event(Event.make("snapshot_failed", 0, {}, scope="d"), ctx)  # a warning
        for _ in range(300):  # bounded: the three pages sent and the silenced one recorded
            await asyncio.sleep(0.01)
            if pager.sent == 3 and any(k == "notification_silenced" for k, _, _ in store.rows):
                break
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    delivered = [p for k, _, p in store.rows if k == "notification_delivered"]
    assert sorted(lab["scope"] for p in delivered for lab in p["labels"]) == ["a", "b", "d"]
    [silenced] = [p for k, _, p in store.rows if k == "notification_silenced"]
    assert silenced["labels"] == [{"event": "trading_revoked", "severity": "critical", "scope": "c"}]

    past = past_pages(parse_matchers('severity="critical"'), _receipts(store))
    assert dict(past.pages) == {"lock_violation": 1, "limit_violation": 1, "trading_revoked": 1}
    assert (past.read, past.untold) == (4, 0)
    assert past_text(past) == ("in the last day its matchers match 3 pages: 1 limit_violation, 1 lock_violation, "
                               "1 trading_revoked (of 4 recorded in the audit trail's notification receipts)")
    assert dict(past_pages(parse_matchers('{severity="critical", scope="a"}'), _receipts(store)).pages) == \
        {"lock_violation": 1}


def test_a_receipt_of_before_is_told_by_its_kinds_severity_and_receiver_alone_and_a_retry_once():
    old = {"receiver": "pager", "event_kinds": ["lock_violation", "reset"], "severity": "critical"}
    rows = [AuditRow(1, "notification_delivered", 0, old, ""),
            AuditRow(2, "notification_failed", 0, {**old, "final": False}, ""),  # an attempt: its final one counts
            AuditRow(3, "notification_failed", 0, {**old, "final": True}, ""),
            AuditRow(4, "notification_delivered", 0, {**old, "receiver": "desk", "fallback_for": "pager"}, ""),
            AuditRow(5, "notification_delivered", 0, {**old, "severity": "warning"}, "")]
    past = past_pages(parse_matchers('{severity="critical", receiver="pager"}'), rows)
    assert dict(past.pages) == {"lock_violation": 2, "reset": 2} and (past.read, past.untold) == (3, 0)
    named = past_pages(parse_matchers('{severity="critical", policy!="x"}'), rows)  # a label it does not carry
    assert dict(named.pages) == {} and (named.read, named.untold) == (3, 3)
    assert past_text(named).endswith("(of 3 recorded in the audit trail's notification receipts; 3 recorded before "
                                     "receipts carried their pages' labels cannot be told)")
