"""Resolved notifications (``send_resolved``) and the retry of a failed delivery at the group's
next flush, on the pure dispatcher with an explicit clock (milliseconds)."""

from __future__ import annotations

import json
import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.events import (
    ORDER_FAILED,
    POLICY_MATCHED,
    POLICY_UNMATCHED,
    RESET,
    SCOPE_ARMED,
    SCOPE_BLIND,
    STAGE_TRANSITION,
    Event,
)
from killswitch.notify.dispatch import Dispatcher, Notification, Placement
from killswitch.notify.message import compose
from killswitch.notify.routes import compile_routes
from killswitch.policy.load import load_text
from killswitch.policy.routes_doc import NotificationRoutes

ROUTES = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: NotificationRoutes
    metadata: {name: desk}
    spec:
      route:
        receiver: chat
        group_by: [policy, scope]
        group_wait: 10s
        group_interval: 1m
        repeat_interval: 1h
        routes:
          - {match: {severity: critical}, receiver: pager, continue: true}
          - {receiver: chat}
      receivers:
        - {name: chat, apprise: ["json://127.0.0.1:9/chat"], send_resolved: false}
        - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
    """
)


@pytest.fixture(scope="module")
def tree():
    res = compile_documents(load_text(ROUTES, "routes.yaml"))
    assert not res.errors, [d.message for d in res.errors]
    return compile_routes(next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes)))


def transition(ts: int, level: int, stage: str, *, frm: int | None = None, severity: str = "critical",
               reason: str = "ESCALATED") -> Event:
    frm = level - 1 if frm is None else frm
    data = {"from": frm, "to": level, "incident": f"book/okx/main/L{level}/e1", "dry_run": False, "reason": reason}
    labels = dict(policy="book", scope="okx/main", level=level, from_level=frm, venue="okx", severity=severity)
    if stage:
        labels["stage"] = stage
    return Event.make(STAGE_TRANSITION, ts, data, **labels)


def put(d: Dispatcher, event: Event, now: int) -> None:
    d.insert(event, Placement("desk", dict(event.labels), "test"), now)


def by_receiver(ns: list[Notification]) -> dict[str, Notification]:
    return {n.receiver: n for n in ns}


# --- send_resolved ----------------------------------------------------------------------------------


def test_a_reset_halt_is_resolved_to_the_pager_and_not_to_a_receiver_without_send_resolved(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    assert set(by_receiver(d.flush_due(10_000))) == {"chat", "pager"}
    put(d, Event.make(RESET, 30_000, {"released": True, "result": "RESET"}, policy="book", scope="okx/main",
                      level=3), 30_000)
    sent = by_receiver(d.flush_due(70_000))
    # chat says send_resolved: false: it hears of the reset approval itself, never of a resolution
    assert sent["chat"].resolved == () and [a.event.kind for a in sent["chat"].alerts] == [RESET]
    assert "RESOLVED" not in compose(sent["chat"]).title + compose(sent["chat"]).body
    n = sent["pager"]
    assert n.resolved_only and [a.labels["stage"] for a in n.resolved] == ["flatten"]
    msg = compose(n, "https://ks.example.com")
    assert msg.title == "[RESOLVED] book okx/main: stage 3 flatten is over, reset (RESET)"
    assert msg.notify_type == "success"
    assert "was: CRITICAL book okx/main: entered stage 3 flatten (from 2)" in msg.body
    assert "resolved at: 1970-01-01T00:00:30.000Z" in msg.body and "book/okx/main/L3/e1" in msg.body
    assert [n for t in range(130_000, 9_000_000, 60_000) for n in d.flush_due(t)] == []  # told once
    assert d.groups == {}


def test_a_scope_back_at_level_0_resolves_its_stage_entry_beside_the_re_arm_notice(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 2, "trim"), 0)
    d.flush_due(10_000)
    put(d, transition(20_000, 0, "", frm=2, severity="info", reason="AUTO_RESET"), 20_000)
    sent = by_receiver(d.flush_due(70_000))
    # the pager's route takes critical only: the resolution alone; chat gets the re-arm notice only
    assert sent["pager"].resolved_only
    assert "back at level 0 (AUTO_RESET)" in compose(sent["pager"]).title
    assert sent["chat"].resolved == () and [a.labels["level"] for a in sent["chat"].alerts] == ["0"]
    assert "RESOLVED" not in compose(sent["chat"]).body


def test_an_escalation_supersedes_the_lower_stage_and_resolves_nothing(tree):
    d = Dispatcher({"desk": tree}, resolve_timeout_ms=300_000)
    put(d, transition(0, 1, "reduce"), 0)
    d.flush_due(10_000)
    put(d, transition(20_000, 2, "trim"), 20_000)
    later = [n for t in range(70_000, 9_000_000, 60_000) for n in d.flush_due(t)]
    assert later and all(n.resolved == () for n in later)
    assert all("[RESOLVED]" not in compose(n).title for n in later)


def test_a_resolution_beside_a_new_alert_is_listed_under_the_new_page(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    d.flush_due(10_000)
    put(d, Event.make(RESET, 30_000, {"released": True, "result": "RESET"}, policy="book", scope="okx/main",
                      level=3), 30_000)
    again = transition(40_000, 1, "reduce", frm=0)
    put(d, again, 40_000)
    n = by_receiver(d.flush_due(70_000))["pager"]
    assert [a.labels["stage"] for a in n.alerts] == ["reduce"] and len(n.resolved) == 1
    msg = compose(n)
    assert msg.title.startswith("[CRITICAL] book okx/main: entered stage 1 reduce")
    assert "Resolved since the last notification:\n  RESOLVED book okx/main: stage 3 flatten is over" in msg.body


def test_a_resolution_survives_a_restart_before_the_flush(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    d.flush_due(10_000)
    put(d, Event.make(RESET, 30_000, {"released": True, "result": "RESET"}, policy="book", scope="okx/main",
                      level=3), 30_000)
    again = Dispatcher({"desk": tree})
    assert again.restore(json.loads(json.dumps(d.to_json()))) == []
    n = by_receiver(again.flush_due(70_000))["pager"]
    assert n.resolved_only and n.resolved[0].resolved_why == "reset (RESET)"


# --- coverage: a blind or unmatched scope resolves when it is armed again -----------------------------


def blind(ts: int, scope: str = "okx/main") -> Event:
    return Event.make(SCOPE_BLIND, ts, {"triggers": "soft", "detail": "dd_15m: INSUFFICIENT_HISTORY"},
                      policy="book", scope=scope, reason="INSUFFICIENT_HISTORY")


def test_a_blind_scope_pages_once_and_is_over_at_the_tick_it_is_armed_again(tree):
    d = Dispatcher({"desk": tree})
    sent = []
    for t in range(0, 95_000, 5_000):  # reported when it turns blind, again every 30 s
        if t % 30_000 == 0:
            put(d, blind(t), t)
        sent += [(t, n) for n in d.flush_due(t)]
    assert [(t, n.receiver, [a.event.kind for a in n.alerts]) for t, n in sent] == [(10_000, "chat", [SCOPE_BLIND])]
    armed = 95_000
    put(d, Event.make(SCOPE_ARMED, armed, {"why": "blind for 95s"}, policy="book", scope="okx/main"), armed)
    # chat says send_resolved: false: told nothing, but the alert is over now, not 5 minutes on
    assert d.flush_due(armed) == [] and d.groups == {} and d.active["desk"] == {}
    put(d, blind(armed + 5_000), armed + 5_000)  # a new spell is news again
    assert [n.receiver for n in d.flush_due(armed + 15_000)] == ["chat"]


def test_a_blind_scope_resolved_to_a_send_resolved_receiver_once_at_the_arming_tick(tree):
    d = Dispatcher({"desk": tree})
    page = blind(0)
    put(d, Event(SCOPE_BLIND, 0, {**page.labels, "severity": "critical"}, page.data), 0)  # to the pager too
    assert {n.receiver for n in d.flush_due(10_000)} == {"chat", "pager"}
    put(d, Event.make(SCOPE_BLIND, 30_000, page.data, **{**page.labels, "severity": "critical"}), 30_000)
    assert d.flush_due(35_000) == []
    armed = 45_000
    put(d, Event.make(SCOPE_ARMED, armed, {"why": "blind for 45s"}, policy="book", scope="okx/main"), armed)
    sent = by_receiver(d.flush_due(armed))
    assert set(sent) == {"pager"}, sent  # chat (send_resolved: false) hears nothing
    n = sent["pager"]
    assert n.resolved_only and n.resolved[0].resolved_ms == armed
    msg = compose(n)
    assert msg.title == ("[RESOLVED] book okx/main: BLIND, cannot act (INSUFFICIENT_HISTORY): triggers soft: "
                         "armed again (blind for 45s)"), msg.title
    assert msg.notify_type == "success"
    assert [n for t in range(50_000, 9_000_000, 5_000) for n in d.flush_due(t)] == []  # told once
    assert d.groups == {}


def test_armed_again_resolves_only_its_own_scope_and_is_no_page_itself(tree):
    d = Dispatcher({"desk": tree})
    put(d, blind(0), 0)
    put(d, blind(0, scope="okx/other"), 0)
    assert len(d.flush_due(10_000)) == 2
    assert d.insert(Event.make(SCOPE_ARMED, 20_000, {}, policy="book", scope="okx/main"),
                    Placement("desk", {"event": SCOPE_ARMED, "severity": "info", "policy": "book",
                                       "scope": "okx/main"}, "test"), 20_000) == []
    assert d.flush_due(20_000) == []  # chat has no send_resolved; the other scope is still blind
    (still,) = [a for a in d.active["desk"].values()]
    assert still.labels["scope"] == "okx/other" and still.resolved_ms is None


def test_a_scope_armed_before_its_page_went_out_is_never_paged(tree):
    d = Dispatcher({"desk": tree})
    put(d, blind(0), 0)
    put(d, Event.make(SCOPE_ARMED, 5_000, {}, policy="book", scope="okx/main"), 5_000)
    assert [n for t in range(5_000, 600_000, 5_000) for n in d.flush_due(t)] == []
    assert d.groups == {}


def test_an_unmatched_policy_pages_the_pager_and_is_resolved_when_it_selects_accounts_again(tree):
    d = Dispatcher({"desk": tree})
    off = Event.make(POLICY_UNMATCHED, 0, {"selector": "labels{book=futurs}"}, policy="book", scope="(none)",
                     reason="UNMATCHED")
    put(d, off, 0)
    assert {n.receiver for n in d.flush_due(10_000)} == {"chat", "pager"}  # critical
    put(d, Event.make(POLICY_MATCHED, 20_000, {}, policy="book", scope="(none)"), 20_000)
    n = by_receiver(d.flush_due(20_000))["pager"]
    assert n.resolved_only and compose(n).title == (
        "[RESOLVED] policy book is OFF: its scope (labels{book=futurs}) selects no account: its scope selects "
        "accounts again")
    assert [n for t in range(25_000, 9_000_000, 60_000) for n in d.flush_due(t)] == []


def test_armed_again_after_a_restart_still_resolves_the_restored_page(tree):
    d = Dispatcher({"desk": tree})
    put(d, Event.make(SCOPE_BLIND, 0, blind(0).data, **{**blind(0).labels, "severity": "critical"}), 0)
    d.flush_due(10_000)
    again = Dispatcher({"desk": tree})
    assert again.restore(json.loads(json.dumps(d.to_json()))) == []
    put(again, Event.make(SCOPE_ARMED, 40_000, {}, policy="book", scope="okx/main"), 40_000)
    n = by_receiver(again.flush_due(40_000))["pager"]
    assert n.resolved_only and n.resolved[0].resolved_why == "armed again"


def test_a_one_off_fault_that_comes_back_after_it_expired_is_notified_again(tree):
    d = Dispatcher({"desk": tree}, resolve_timeout_ms=300_000)
    put(d, transition(0, 3, "flatten", severity="warning"), 0)  # keeps the group alive
    failed = Event.make(ORDER_FAILED, 0, {"client_order_id": "ks-1"}, policy="book", scope="okx/main",
                        venue="okx", account="a", reason="REJECTED")
    put(d, failed, 0)
    d.flush_due(10_000)
    assert [n for t in range(70_000, 600_000, 60_000) for n in d.flush_due(t)] == []  # expired quietly
    put(d, failed, 600_000)
    n = by_receiver(d.flush_due(610_000))["chat"]  # the halt's group, which outlived the first failure
    assert [a.event.kind for a in n.alerts if a.fp in n.new] == [ORDER_FAILED] and n.resolved == ()


# --- a failed delivery is retried at the next flush, then falls back ------------------------------------


def test_a_failed_page_is_sent_again_at_the_next_group_interval_then_given_up(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    (n,) = [n for n in d.flush_due(10_000) if n.receiver == "pager"]
    assert n.round == 1
    assert d.delivery_failed(n.group_key, n.new, 12_000, retries=1) == 70_000  # the group's next flush
    (again,) = [n for n in d.flush_due(70_000) if n.receiver == "pager"]
    assert again.new == n.new and again.round == 2 and not again.repeat
    assert d.delivery_failed(again.group_key, again.new, 72_000, retries=1) is None  # now: the fallback
    assert d.flush_due(130_000) == []  # given up: not sent a third time
    assert d.groups[n.group_key].failed_rounds == 0


def test_a_retry_that_succeeds_resets_the_count_and_a_failed_reminder_is_retried(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    (n,) = [n for n in d.flush_due(10_000) if n.receiver == "pager"]
    d.delivery_failed(n.group_key, n.new, 12_000, retries=1)
    (again,) = [n for n in d.flush_due(70_000) if n.receiver == "pager"]
    d.delivery_succeeded(again.group_key)
    assert d.groups[n.group_key].failed_rounds == 0
    (reminder,) = [n for n in d.flush_due(70_000 + 3_600_000) if n.receiver == "pager"]
    assert reminder.repeat and reminder.round == 1
    assert d.delivery_failed(reminder.group_key, reminder.new, 3_672_000, retries=1) == 3_730_000
    (retried,) = [n for n in d.flush_due(3_730_000) if n.receiver == "pager"]
    assert retried.repeat and retried.round == 2


def test_no_retry_when_retries_is_zero_or_the_group_is_gone(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    (n,) = [n for n in d.flush_due(10_000) if n.receiver == "pager"]
    assert d.delivery_failed(n.group_key, n.new, 12_000, retries=0) is None
    assert d.delivery_failed("desk:nothing:{}", n.new, 12_000, retries=1) is None


def test_a_pending_retry_survives_a_restart(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    (n,) = [n for n in d.flush_due(10_000) if n.receiver == "pager"]
    d.delivery_failed(n.group_key, n.new, 12_000, retries=1)
    again = Dispatcher({"desk": tree})
    assert again.restore(json.loads(json.dumps(d.to_json()))) == []
    (retried,) = [n for n in again.flush_due(70_000) if n.receiver == "pager"]
    assert retried.round == 2 and retried.new == n.new


# --- state saved before these keys existed is still restored -------------------------------------------


def test_the_digest_of_a_routes_document_not_using_the_new_keys_is_the_one_saved_before_them():
    from killswitch.notify.dispatch import tree_digest
    from tests.conftest import POLICIES

    # the example as it was then: its pager route took the root's timers, its desk chat's URL a variable
    text = (POLICIES / "routes.yaml").read_text().replace("        group_wait: 0s\n        group_interval: 1s\n", "") \
        .replace("{file: /var/run/secrets/killswitch/desk-chat-url}", "{env: KS_APPRISE_DESK_CHAT}") \
        .replace('{env: KS_AUDIT_WEBHOOK_URL, default: "json://127.0.0.1:9099/killswitch"}',
                 '"json://127.0.0.1:9099/killswitch"')
    assert "{env: KS_APPRISE_DESK_CHAT}" in text and "{env: KS_AUDIT_WEBHOOK_URL" not in text
    res = compile_documents(load_text(text, "routes.yaml"))
    model = next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes))
    # computed by the code before send_resolved and time intervals: a saved halt is not paged again
    assert tree_digest(compile_routes(model)) == "83bcd23e02bd70c2"
    changed = text.replace("- name: pager\n", "- name: pager\n      send_resolved: false\n")
    assert changed != text
    res = compile_documents(load_text(changed, "routes.yaml"))
    model = next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes))
    assert tree_digest(compile_routes(model)) != "83bcd23e02bd70c2"


@pytest.mark.parametrize("severity, resolved, tag, kind", [
    ("critical", False, "[CRITICAL]", "failure"), ("warning", False, "[WARNING]", "warning"),
    ("info", False, "[INFO]", "info"), ("warning", True, "[INFO]", "info")])
def test_the_fallbacks_page_carries_the_failed_pages_own_severity(severity, resolved, tag, kind):
    # every page delivered through the fallback was titled critical: a BLIND warning, an "armed
    # again" notice alike; the fallback's titles now rank as the pages they carry
    from killswitch.notify.message import Message, failed_page

    inner = "[RESOLVED] futures-book armed again" if resolved else f"[{severity.upper()}] futures-book BLIND"
    page = failed_page(Message(inner, "body\n", "info"), "pager", "failed (connection refused)", 3, "desk:g", 2,
                       severity, resolved)
    assert page.title == f"{tag} NOTIFICATION FAILED to pager: {inner}" and page.notify_type == kind
    assert "could not be delivered to receiver pager after 3 attempt(s) in each of 2 rounds" in page.body


def test_a_withdrawn_reset_approval_pages_as_info_not_at_the_halts_severity(tree):
    """A withdrawal changes nothing in the book: its page is no critical one, though the halt it
    was for is still in its group (the halt's own reminder stays critical)."""
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    assert by_receiver(d.flush_due(10_000))["pager"].severity == "critical"
    why = ("APPROVAL_WITHDRAWN: alice's approval of the reset of book okx/main (stage 3) is withdrawn; "
           "approvers now: none")
    put(d, Event.make(RESET, 30_000, {"released": False, "withdrawn": True, "result": why}, policy="book",
                      scope="okx/main", level=3), 30_000)
    chat = by_receiver(d.flush_due(70_000))["chat"]
    assert [a.event.kind for a in chat.alerts if a.fp in chat.new] == [RESET]
    assert chat.severity == "info"
    msg = compose(chat)
    assert msg.title.startswith("[INFO] book okx/main: reset approval (APPROVAL_WITHDRAWN: "), msg.title
    assert "CRITICAL book okx/main: entered stage 3 flatten" in msg.body  # the halt itself, earlier in the group


def test_a_resolution_names_what_still_fires_in_its_group(tree):
    """Walk 7's L8: not "(1 still firing)" alone, but what fires."""
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    failed = Event.make(ORDER_FAILED, 1_000, {"client_order_id": "ks-1", "detail": "-2022 ReduceOnly"},
                        policy="book", scope="okx/main", venue="okx", account="a", reason="REJECTED",
                        severity="critical")
    put(d, failed, 1_000)
    d.flush_due(10_000)
    put(d, Event.make(RESET, 30_000, {"released": True, "result": "RESET"}, policy="book", scope="okx/main",
                      level=3), 30_000)
    n = by_receiver(d.flush_due(70_000))["pager"]
    assert [a.event.kind for a in n.alerts if a.fp not in n.new] == [ORDER_FAILED]
    msg = compose(n)
    assert msg.title.startswith("[RESOLVED] book okx/main: stage 3 flatten is over, reset (RESET)"), msg.title
    assert msg.title.endswith(" (still firing: order failed on okx/a: REJECTED: -2022 ReduceOnly)"), msg.title


def test_a_resolution_delivered_after_the_last_save_is_not_told_again_after_a_restart(tree):
    """The state is saved with the halt paged and its reset routed; the [RESOLVED] notice is
    delivered between two saves, then the runner stops. The runner taking up the saved state
    reads the receipt (its ``resolved_alerts``) and does not tell the resolution again."""
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    d.flush_due(10_000)
    put(d, Event.make(RESET, 30_000, {"released": True, "result": "RESET"}, policy="book", scope="okx/main",
                      level=3), 30_000)
    saved = json.loads(json.dumps(d.to_json()))  # the last save: the resolution not told yet
    told = by_receiver(d.flush_due(70_000))["pager"]
    assert told.resolved_only
    resolved = tuple(a.fp for a in told.resolved)

    def restarted() -> Dispatcher:
        again = Dispatcher({"desk": tree})
        assert again.restore(saved) == []
        return again

    # without the receipt read back, the restored group tells the resolution a second time
    assert [n for n in restarted().flush_due(70_000) if n.receiver == "pager" and n.resolved_only]
    again = restarted()
    again.handed_before(told.group_key, (), 70_000, resolved)
    assert [n for t in range(70_000, 9_000_000, 60_000) for n in again.flush_due(t) if n.receiver == "pager"
            and n.resolved] == []


def test_the_receipts_read_back_keep_their_order_a_resolution_then_the_fault_again():
    from killswitch.notify.replay import DELIVERED, handed_since

    class Row:
        def __init__(self, seq, ts, payload):
            self.seq, self.ts_ms, self.kind, self.payload = seq, ts, DELIVERED, payload

    class Store:
        rows = [Row(1, 10, {"group_key": "g", "alerts": ["a", "b"]}),
                Row(2, 20, {"group_key": "g", "alerts": [], "resolved_alerts": ["a"]}),
                Row(3, 30, {"group_key": "g", "alerts": [], "resolved_alerts": ["b"]}),
                Row(4, 40, {"group_key": "g", "alerts": ["b"]})]  # b came back and was paged again

        def audit_rows(self, since, kinds, limit, after_seq=0):
            return [r for r in self.rows if r.seq > after_seq][:limit]

    assert handed_since(Store(), 0).delivered == {"g": ({"b"}, {"a"}, 40)}


def test_a_sending_cut_off_at_a_stop_or_open_at_a_death_is_unfinished_from_before_the_save():
    from killswitch.notify.replay import DELIVERED, FAILED, SENDING, handed_since

    class Row:
        def __init__(self, seq, ts, kind, payload):
            self.seq, self.ts_ms, self.kind, self.payload = seq, ts, kind, {"routes": "desk", **payload}

    page = {"receiver": "pager", "group_key": "g", "dedup_key": "k1", "alerts": ["a"]}
    other = {"receiver": "chat", "group_key": "h", "dedup_key": "k2", "alerts": ["b"]}
    done = {"receiver": "chat", "group_key": "i", "dedup_key": "k3", "alerts": ["c"]}

    class Store:
        rows = [Row(1, 5, SENDING, page),  # before the save (at 10): in flight as it was made
                Row(2, 6, SENDING, done), Row(3, 7, DELIVERED, done),  # delivered before the save
                Row(4, 12, SENDING, other),
                Row(5, 13, FAILED, {**other, "result": "cancelled"})]  # cut off mid-attempt at a stop

        def audit_rows(self, since, kinds, limit, after_seq=0):
            return [r for r in self.rows if r.ts_ms >= since and r.seq > after_seq][:limit]

    h = handed_since(Store(), 10, 0)
    assert h.unfinished == {"g": {"a"}, "h": {"b"}}
    assert h.maybe_keys == {"k1": 5, "k2": 12}
    assert h.delivered == {}  # a receipt before the save: the saved state knows it
    assert handed_since(Store(), 10).unfinished == {"h": {"b"}}  # read from the save alone: k1 unseen


@pytest.mark.parametrize("resumed,paged_again", [(True, False), (False, True)])
def test_a_page_delivered_before_its_event_was_saved_is_notified_when_the_event_is_told_again(tree, resumed,
                                                                                                paged_again):
    """The save before the entry's page holds no alert of it; the receipt after it names a group
    the restored state lacks. The entry outbox tells the event again (``resumed``): it joins its
    group notified, and only the receiver with no receipt (chat) gets it. Kept in the saved state
    until then. The same alert not told again (a later report of it) is news as ever."""
    from dataclasses import replace
    from types import SimpleNamespace

    from killswitch.notify.replay import DELIVERED
    from killswitch.notify.sink import NotifySink

    event = transition(0, 3, "flatten")
    first = Dispatcher({"desk": tree})
    saved = {**first.to_json(), "saved_ms": 0}  # the save that owes the entry: no alert of it
    put(first, event, 0)
    page = by_receiver(first.flush_due(10_000))["pager"]  # delivered before the next save

    class Store:
        def audit_rows(self, since, kinds, limit, after_seq=0):
            row = SimpleNamespace(seq=1, ts_ms=10_000, kind=DELIVERED, payload={
                "routes": "desk", "receiver": "pager", "group_key": page.group_key, "dedup_key": page.dedup_key,
                "alerts": list(page.new)})
            return [row] if after_seq < 1 else []

    model = next(d.model for d in compile_documents(load_text(ROUTES, "routes.yaml")).docs
                 if isinstance(d.model, NotificationRoutes))
    now = [20_000]
    sink = NotifySink.from_documents([model], clock=lambda: now[0])
    ctx = SimpleNamespace(store=Store(), audit_receipt=lambda *a: 0)
    sink.restore_state(json.loads(json.dumps(saved)), ctx)
    kept = sink.state_doc()["unheld"]
    assert kept == {page.group_key: {"alerts": sorted(page.new), "at_ms": 10_000}}
    again = NotifySink.from_documents([model], clock=lambda: now[0])  # killed again: the next one reads the save
    again.restore_state(json.loads(json.dumps({**saved, "saved_ms": 20_000, "unheld": kept})), ctx)
    told = replace(event, data={**event.data, "resumed": True}) if resumed else event
    again.on_event(told, ctx)
    again._drain(now[0])
    sent = by_receiver([n for n in again.dispatcher.flush_due(40_000) if n.new])
    assert ("pager" in sent) is paged_again and "chat" in sent
    assert ("unheld" in again.state_doc()) is not resumed


def test_a_delivery_the_groups_never_took_up_is_kept_in_the_saved_state_for_a_day():
    from killswitch.notify.replay import Handed, unheld_of

    h = Handed()
    h.keep_unheld("g", {"a"}, 1_000)
    h.keep_unheld("g", {"b"}, 2_000)
    day = 24 * 3_600_000
    assert unheld_of(h.unheld_doc(2_000 + day)) == {"g": (frozenset({"a", "b"}), 2_000)}
    assert h.unheld_doc(2_001 + day) == {}
    assert unheld_of(None) == {}
