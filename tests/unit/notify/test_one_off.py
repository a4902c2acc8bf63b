"""One-off events page once; only states come back as "still active" reminders every
``repeat_interval`` (the event's kind decides), on the pure dispatcher with an explicit clock."""

from __future__ import annotations

import pytest

from killswitch.events import (
    LIMIT_VIOLATION,
    LOCK_VIOLATION,
    MANUAL_CLOSE,
    ORDER_FAILED,
    RESET,
    SCOPE_BLIND,
    SNAPSHOT_FAILED,
    TRADING_REVOKED,
    Event,
)
from killswitch.notify.dispatch import Dispatcher
from killswitch.notify.message import compose
from killswitch.policy.matchers import LabelMatcher
from killswitch.silences import Silence
from tests.unit.notify.test_resolved_retry import (
    by_receiver,
    put,
    transition,
    tree as tree,  # noqa: F401 - the fixture
)

H = 3_600_000
# a one-off stays in its group long enough for the hour's reminder to see it
LONG_RESOLVE = 3 * H

ONE_OFFS = [
    Event.make(MANUAL_CLOSE, 0, {"orders": 2, "id": "manual/okx/main/m1"}, policy="book", scope="okx/main"),
    Event.make(ORDER_FAILED, 0, {"client_order_id": "ks-1"}, policy="book", scope="okx/main", venue="okx",
               account="okx/main", reason="REJECTED", severity="critical"),
    Event.make(RESET, 0, {"result": "RESET", "released": False}, policy="book", scope="okx/main", level=3),
    Event.make(LOCK_VIOLATION, 0, {"side": "buy"}, policy="book", scope="okx/main", strategy="bot-a"),
    Event.make(LIMIT_VIOLATION, 0, {"side": "buy"}, policy="book", scope="okx/main", strategy="bot-a"),
    Event.make(TRADING_REVOKED, 0, {"keys": ["k"]}, policy="book", scope="okx/main", account="okx/main"),
]


@pytest.mark.parametrize("event", ONE_OFFS, ids=lambda e: e.kind)
def test_a_one_off_event_pages_once_and_is_never_a_reminder(tree, event):
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, event, 0)
    first = d.flush_due(10_000)
    assert first and all(n.new for n in first)
    for t in range(70_000, 2 * H + 70_000, 60_000):
        assert d.flush_due(t) == [], f"{event.kind} reminded at {t} ms"


@pytest.mark.parametrize("event", [
    Event.make(SCOPE_BLIND, 0, {}, policy="book", scope="okx/main", reason="NO_DATA"),
    Event.make(SNAPSHOT_FAILED, 0, {}, policy="book", scope="okx/main", venue="okx", account="okx/main"),
], ids=lambda e: e.kind)
def test_a_state_is_reminded_while_it_lasts(tree, event):
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, event, 0)
    assert d.flush_due(10_000)
    reminders = [n for t in range(70_000, H + 70_000, 60_000) for n in d.flush_due(t)]
    assert reminders and all(n.repeat for n in reminders)


def test_the_reminder_of_a_held_stage_carries_the_stage_alone(tree):
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, transition(0, 3, "flatten"), 0)
    put(d, ONE_OFFS[0], 1_000)  # manual close queued
    put(d, ONE_OFFS[1], 2_000)  # an order failed
    assert set(by_receiver(d.flush_due(10_000))) == {"chat", "pager"}
    reminders = [n for t in range(70_000, H + 70_000, 60_000) for n in d.flush_due(t)]
    pager = [n for n in reminders if n.receiver == "pager"]
    assert pager and all(n.repeat for n in pager)
    assert {a.event.kind for n in pager for a in n.alerts} == {"stage_transition"}
    msg = compose(pager[0])
    assert "(reminder: still active)" in msg.title and "Still active (1)" in msg.body
    assert "order failed" not in msg.body and "manual close" not in msg.body


def test_a_silenced_one_off_is_recorded_once_not_at_every_repeat(tree):
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    s = Silence("s1", (LabelMatcher.make("scope", "=", "okx/main"),), 0, 10 * H, "alice", "on it", 0, 0)
    put(d, ONE_OFFS[0], 0)
    recorded = [n for t in range(10_000, 2 * H, 60_000) for n in d.flush_due(t, [s]) if n.silenced]
    assert len(recorded) == 1 and not recorded[0].sends


def test_the_sink_says_which_pages_it_holds_in_force_for_a_silence_preview(tree):
    from killswitch.notify.dispatch import Placement
    from killswitch.notify.sink import NotifySink

    now = [0]
    sink = NotifySink({"desk": tree}, {}, clock=lambda: now[0])
    e = transition(0, 3, "flatten")
    sink.dispatcher.insert(e, Placement("desk", dict(e.labels), "test"), 0)
    sink.dispatcher.insert(ONE_OFFS[0], Placement("desk", dict(ONE_OFFS[0].labels), "test"), 0)
    held = sorted((labels["event"], receiver) for labels, receiver in sink.pages_in_force())
    assert held == [("manual_close", "chat"), ("stage_transition", "chat"), ("stage_transition", "pager")]
    now[0] = 10 * H  # the one-off expired, the held stage still fires
    assert sorted(r for _, r in sink.pages_in_force()) == ["chat", "pager"]


def test_a_revoke_page_names_its_keys_as_words_not_a_list(tree):
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, Event.make(TRADING_REVOKED, 0, {"keys": ["bot-a-key", "bot-b-key"], "read_back": True},
                      policy="book", scope="okx/main", account="okx/main"), 0)
    text = "\n".join(m.title + "\n" + m.body for m in (compose(n) for n in d.flush_due(10_000)))
    assert "trading revoked at the venue for okx/main (read back): keys bot-a-key, bot-b-key" in text, text
    assert "['" not in text


def test_a_venue_revoke_page_names_the_accounts_it_did_not_reach_and_who_asked(tree):
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, Event.make(TRADING_REVOKED, 0, {"keys": ["main-key"], "read_back": False, "out_of_reach": ["okx/hedge"],
                                           "asked_by": ["alice's revoke of okx: bot-a ignores the halt"]},
                      account="okx/main", venue="okx"), 0)
    [title] = {compose(n).title for n in d.flush_due(10_000)}
    assert title == ("[CRITICAL] trading revoked at the venue for okx/main (the venue offers no read): keys main-key; "
                     "okx/hedge: OUT OF REACH, not revoked (no revoke: block in the Accounts document); asked by "
                     "alice's revoke of okx: bot-a ignores the halt"), title


def test_a_manual_close_page_points_at_its_orders_not_at_a_runbook_that_is_never_rendered(tree):
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, Event.make(ORDER_FAILED, 0, {"client_order_id": "ks-1", "incident": "manual/okx/main/m1"},
                      policy="book", scope="okx/main", venue="okx", account="okx/main", reason="REJECTED",
                      severity="critical"), 0)
    text = "\n".join(m.body for m in (compose(n) for n in d.flush_due(10_000)))
    assert "manual close manual/okx/main/m1: no runbook (an operator's close)" in text, text
    assert "ksctl runbook render" not in text


def test_a_page_title_names_the_other_kind_of_news_it_carries(tree):
    """A page led by an order failure that also carries a failed reload says so in its title, not
    '(+1 more)' alone (fourth walk, issue 65)."""
    from killswitch.events import POLICY_RELOAD_FAILED

    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, Event.make(POLICY_RELOAD_FAILED, 0, {"error": "KS101"}, severity="critical"), 0)
    # (an order of no policy's, as a manual close's: no policy label, the reload's group)
    put(d, Event.make(ORDER_FAILED, 1, {"client_order_id": "ks-1"}, venue="okx", account="okx/main",
                      reason="REJECTED", severity="critical"), 1)
    titles = [compose(n).title for n in d.flush_due(10_000)]
    grouped = [t for t in titles if "more" in t]
    assert grouped and all("more: " in t for t in grouped), titles


def test_a_page_s_title_and_its_body_s_first_line_carry_one_severity_the_group_s(tree):
    """An approval recorded (info) in the group of a critical stage pages as [CRITICAL]; its body
    began INFO (fifth walk, issue 65): it begins with the group's severity, the notice's own said
    under it."""
    d = Dispatcher({"desk": tree}, LONG_RESOLVE)
    put(d, transition(0, 3, "flatten"), 0)
    d.flush_due(10_000)
    put(d, Event.make(RESET, 20_000, {"result": "APPROVAL_RECORDED: 1/2 approvers=bob", "released": False},
                      policy="book", scope="okx/main", level=3), 20_000)
    msgs = [compose(n) for t in range(40_000, 900_000, 30_000) for n in d.flush_due(t)]
    assert msgs
    for m in msgs:
        severity = m.title.split("]")[0].lstrip("[")
        assert m.body.splitlines()[0].startswith(severity.upper() + " "), (m.title, m.body)
    assert any("this notice: info" in m.body for m in msgs if m.title.startswith("[CRITICAL]"))


def test_a_page_already_sent_is_said_apart_in_a_silence_preview(tree):
    """Walk 7's L7: a silence made now cannot hold back a page that went out minutes ago."""
    from killswitch.events import SENT_LABEL
    from killswitch.notify.dispatch import Placement
    from killswitch.notify.sink import NotifySink
    from killswitch.runner.names import Catalog
    from killswitch.runner.silence.check import preview

    now = [0]
    sink = NotifySink({"desk": tree}, {}, clock=lambda: now[0])
    e = transition(0, 3, "flatten")
    sink.dispatcher.insert(e, Placement("desk", dict(e.labels), "test"), 0)
    assert not any(SENT_LABEL in labels for labels, _ in sink.pages_in_force())  # not notified yet
    assert sorted(n.receiver for n in sink.dispatcher.flush_due(10_000)) == ["chat", "pager"]
    now[0] = 3 * 60_000  # three minutes after it went out
    pages = sink.pages_in_force()
    assert pages and all(SENT_LABEL in labels for labels, _ in pages)
    p = preview((LabelMatcher.make("scope", "=", "okx/main"),), None, Catalog(), {}, pages)  # type: ignore[arg-type]
    assert p.summary == ("affects 0 open incidents, 0 pages (2 sent already: it holds back only their reminders "
                         "and resolutions)"), p.summary
    assert all(h.sent for h in p.pages)


def test_a_page_whose_delivery_failed_is_not_sent_and_a_silence_preview_says_it_holds_back_its_retries(tree):
    """Walk 9's M1: a page that failed to reach its receiver (the fallback's copy aside) is not
    "sent already"; a silence made now would keep its retries from a receiver never told."""
    import asyncio

    from killswitch.events import FAILED_LABEL, SENT_LABEL
    from killswitch.notify.dispatch import Placement
    from killswitch.notify.sink import NotifySink
    from killswitch.runner.names import Catalog
    from killswitch.runner.silence.check import preview

    now = [0]
    sink = NotifySink({"desk": tree}, {}, clock=lambda: now[0])  # no receiver resolves: every delivery fails
    e = transition(0, 3, "flatten")
    sink.dispatcher.insert(e, Placement("desk", dict(e.labels), "test"), 0)
    for n in sink.dispatcher.flush_due(10_000):
        sink._submit(n)

    async def deliver_all() -> None:
        while sink._deliveries:
            await sink._deliver(sink._deliveries.popleft())

    asyncio.run(deliver_all())
    now[0] = 20_000
    pages = sink.pages_in_force()
    assert sorted(r for _, r in pages) == ["chat", "pager"]
    assert all(FAILED_LABEL in labels and SENT_LABEL not in labels for labels, _ in pages), pages
    p = preview((LabelMatcher.make("scope", "=", "okx/main"),), None, Catalog(), {}, pages)  # type: ignore[arg-type]
    assert p.summary == ("affects 0 open incidents, 2 pages (1 failed page to chat would not be retried; "
                         "1 failed page to pager would not be retried)"), p.summary
    assert all(h.failed and not h.sent for h in p.pages)
    from killswitch.render.silences import preview_text
    assert "to pager (failed: not retried under the silence)" in preview_text(p), preview_text(p)
