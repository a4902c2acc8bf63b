"""A stage entry that ended by escalation, then had its scope reset, on the pages that still list
it: the on-call's walk (issue 81) read a RESOLVED page that named the escalated stage 1 as "still
firing", and later pages that carried it (and the reset's notice) as if it held."""

from __future__ import annotations

import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.events import RESET, STAGE_TRANSITION, Event
from killswitch.notify.dispatch import Dispatcher, Placement
from killswitch.notify.message import Message, compose
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
        receiver: pager
        group_by: [policy, scope]
        group_wait: 10s
        group_interval: 1m
        repeat_interval: 1h
        routes:
          - {receiver: pager, continue: true}
          - {receiver: chat}
      receivers:
        - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
        - {name: chat, apprise: ["json://127.0.0.1:9/chat"], send_resolved: false}
    """
)


@pytest.fixture(scope="module")
def tree():
    res = compile_documents(load_text(ROUTES, "routes.yaml"))
    assert not res.errors, [d.message for d in res.errors]
    return compile_routes(next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes)))


def entered(ts: int, level: int, stage: str, frm: int, entry: int) -> Event:
    data = {"from": frm, "to": level, "incident": f"book/okx/main/L{level}/e{entry}", "dry_run": False,
            "reason": "ESCALATED"}
    return Event.make(STAGE_TRANSITION, ts, data, policy="book", scope="okx/main", level=level, from_level=frm,
                      stage=stage, venue="okx", severity="critical")


def reset(ts: int, result: str, released: bool) -> Event:
    return Event.make(RESET, ts, {"approver": "alice", "result": result, "released": released,
                                  "incident": "book/okx/main/L3/e2"},
                      policy="book", scope="okx/main", level=3, venue="okx", severity="info")


def walk(tree, *, two: bool = True) -> tuple[Dispatcher, list[dict[str, Message]]]:
    """Stage 1 warn, escalated to stage 3 flatten, then reset: by two people (``two``: one
    approval, then the second, which releases it) or one. The pages of each step, composed as
    they go out."""
    d = Dispatcher({"desk": tree})
    steps = [(0, entered(0, 1, "warn", 0, 1), 10_000), (20_000, entered(20_000, 3, "flatten", 1, 2), 70_000)]
    if two:
        steps.append((80_000, reset(80_000, "APPROVAL_RECORDED: 1/2 approvers=alice", False), 130_000))
    steps.append((140_000, reset(140_000, "MANUAL_RESET: stage=3 approvers=alice" + (",bob" if two else ""), True),
                  190_000))
    pages = []
    for ts, event, at in steps:
        d.insert(event, Placement("desk", dict(event.labels), "test"), ts)
        pages.append({n.receiver: compose(n) for n in d.flush_due(at)})
    return d, pages


def test_a_resolution_says_the_escalated_stage_ended_and_counts_nothing_reset_as_firing(tree):
    _, pages = walk(tree)
    msg = pages[3]["pager"]
    # the halt reset is the news; stage 1 ended when it escalated, the approval notice is no state
    assert msg.title == ("[RESOLVED] book okx/main: stage 3 flatten is over, reset (MANUAL_RESET: stage=3 "
                         "approvers=alice,bob)"), msg.title
    assert "Still firing" not in msg.body, msg.body
    assert ("Earlier in this group, no longer firing:\n"
            "  CRITICAL book okx/main: entered stage 1 warn (from 0) at 1970-01-01T00:00:00.000Z "
            "(ended: escalated to stage 3 flatten)\n") in msg.body, msg.body
    # the first approval's notice, paged, and refreshed by the second (one alert): no state either
    assert "  INFO book okx/main: reset approval (MANUAL_RESET: stage=3 approvers=alice,bob) at " in msg.body


def test_the_page_of_the_escalation_says_the_lower_stage_ended(tree):
    _, pages = walk(tree)
    msg = pages[1]["pager"]
    assert msg.title == "[CRITICAL] book okx/main: entered stage 3 flatten (from 1)", msg.title
    assert ("Earlier in this group:\n  CRITICAL book okx/main: entered stage 1 warn (from 0) at "
            "1970-01-01T00:00:00.000Z (ended: escalated to stage 3 flatten)\n") in msg.body, msg.body


def test_a_reset_notice_after_an_escalation_is_not_raised_to_the_ended_stages_severity(tree):
    """The receiver that takes no resolution hears of the reset alone: an info notice, not a
    critical page because the escalated stage 1 lingers in its group."""
    _, pages = walk(tree, two=False)
    msg = pages[2]["chat"]
    assert msg.title == "[INFO] book okx/main: reset approval (MANUAL_RESET: stage=3 approvers=alice)", msg.title
    assert msg.notify_type == "info"


def test_the_page_of_a_relatch_lists_the_ended_stage_as_ended(tree):
    d, _ = walk(tree)
    again = entered(141_000, 3, "flatten", 0, 3)
    d.insert(again, Placement("desk", dict(again.labels), "test"), 141_000)
    (msg,) = [compose(n) for n in d.flush_due(250_000) if n.receiver == "pager"]
    assert msg.title == "[CRITICAL] book okx/main: entered stage 3 flatten (from 0)", msg.title
    assert "entered stage 1 warn (from 0) at 1970-01-01T00:00:00.000Z (ended: escalated to stage 3 flatten)" \
        in msg.body, msg.body


def test_what_superseded_an_entry_is_kept_with_the_saved_groups(tree):
    d, _ = walk(tree)
    back = Dispatcher({"desk": tree})
    back.restore(d.to_json())
    (old,) = [a for a in back.active["desk"].values() if a.labels.get("stage") == "warn"]
    assert old.superseded and old.superseded_why == "escalated to stage 3 flatten"
