"""Silences: matchers as Alertmanager reads them, the refusals of a silence that names a label no
page carries or would silence everything, and the routes honouring them — a silenced page is
recorded as silenced, repeated as often as it would be paged, never sent, and paged again once
the silence ends while the halt still holds."""

from __future__ import annotations

import asyncio
import threading

import pytest

from killswitch.events import Event
from killswitch.notify.dispatch import Dispatcher
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.policy.matchers import PAGE_LABELS, SilenceError, matcher_problem, parse_matcher
from killswitch.silences import Silence, silencing
from tests.unit.notify.test_resolved_retry import (
    by_receiver,
    put,
    transition,
    tree as tree,  # noqa: F401 - the fixture
)
from tests.unit.notify.test_sink import GatedReceiver, Store

MIN, H = 60_000, 3_600_000
PAGE = {"policy": "book", "scope": "okx/main", "severity": "critical", "stage": "flatten", "level": "3"}


@pytest.mark.parametrize("text, labels, hit", [
    ("policy=book", PAGE, True),
    ("policy=boo", PAGE, False),
    ('policy="book"', PAGE, True),
    ("policy!=book", PAGE, False),
    ("venue!=okx", PAGE, True),  # a label the page lacks is the empty string
    ("venue=", PAGE, True),
    ('severity=~"critical|warning"', PAGE, True),
    ("severity=~crit", PAGE, False),  # anchored: the whole value
    ("scope=~okx/.*", PAGE, True),
    ("scope!~okx/.*", PAGE, False),
    ('stage = "flat\\"ten"', {"stage": 'flat"ten'}, True),  # spaces around, an escaped quote
    ('reason=~"\\d+ left"', {"reason": "12 left"}, True),  # a backslash before anything but \\, " or n is itself
    ('reason="a\\nb"', {"reason": "a\nb"}, True),  # \n a line feed
    ("policy=~book", {"policy": "book\n"}, False),  # $ is the end of the text, not before a newline (RE2)
    ("policy!~book", {"policy": "book\n"}, True),
    ('severity=~"(?i)CRIT.*"', PAGE, True),  # a leading flag: RE2 scopes it inside the anchors
    ('scope=~"(.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*)*zz"', {"scope": "x" * 200}, False),  # linear time
])
def test_a_matcher_matches_as_alertmanager_does(text, labels, hit):
    assert parse_matcher(text).matches(labels) is hit


@pytest.mark.parametrize("text, code", [("policy", "BAD_MATCHER"), ("=book", "BAD_MATCHER"),
                                        ("policy=~(book", "BAD_MATCHER"), ("po-licy=x", "BAD_MATCHER")])
def test_a_matcher_that_does_not_parse_is_refused_with_its_reason(text, code):
    with pytest.raises(SilenceError) as e:
        parse_matcher(text)
    assert e.value.reason.startswith(code + ":")


@pytest.mark.parametrize("text, said", [
    ("policy=~(book", "missing )"),
    ('policy=~"(?=book)"', "invalid perl operator: (?="),  # no lookahead in linear time
    (r'policy=~"(b)\\1"', "invalid escape sequence: \\1"),  # nor backreferences
    ("policy=~a{99999999999}", "the repeat {99999999999} is over 1000"),  # an OverflowError in Python's re
    ("policy=~a{1001}", "the repeat {1001} is over 1000"),
])
def test_a_pattern_re2_refuses_is_a_bad_matcher_that_says_what_re2_said(text, said):
    with pytest.raises(SilenceError) as e:
        parse_matcher(text)
    assert e.value.reason.startswith("BAD_MATCHER: ") and said in e.value.reason, e.value.reason


def test_a_long_matcher_is_refused_with_the_bound_it_passed():
    """16 KiB of spaces around a value (an API body's worth): refused for its length, by a parser
    linear in the text (the quadratic one took seconds; see the parse-time test)."""
    with pytest.raises(SilenceError) as e:
        parse_matcher("policy=" + " " * 8_000 + "x" + " " * 8_000 + "!")
    assert e.value.reason.startswith("BAD_MATCHER: the value of policy is longer than 256 characters")


def test_an_unknown_label_is_refused_with_close_matches_and_a_silence_of_everything_too():
    why = matcher_problem([parse_matcher("sevrity=critical")], PAGE_LABELS)
    assert why is not None and why.startswith("UNKNOWN_LABEL: no page carries a label 'sevrity'; did you mean "
                                              "severity?")
    assert "receiver" in why  # the labels known are listed
    why = matcher_problem([parse_matcher("venue!=okx"), parse_matcher("severity=~.*")], PAGE_LABELS)
    assert why is not None and why.startswith("SILENCE_TOO_BROAD")
    assert matcher_problem([parse_matcher("venue!=okx"), parse_matcher("policy=book")], PAGE_LABELS) is None
    assert matcher_problem([], PAGE_LABELS).startswith("BAD_REQUEST")
    assert matcher_problem([parse_matcher("desk=fx")], PAGE_LABELS | {"desk"}) is None  # a policy's own label


def silence(sid="s1", *, start=0, end=2 * H, **match) -> Silence:
    ms = tuple(parse_matcher(f"{k}={v}") for k, v in (match or {"policy": "book"}).items())
    return Silence(sid, ms, start, end, "alice", "on it", start, start)


def test_silencing_names_the_active_silences_only():
    silences = [silence("a"), silence("b", end=H), silence("c", scope="other/x"), silence("d", start=3 * H, end=4 * H)]
    assert silencing(PAGE, silences, 0) == ("a", "b")
    assert silencing(PAGE, silences, H) == ("a",)  # b ended
    assert silencing(PAGE, silences, 3 * H) == ("d",)


def test_a_silenced_halt_is_recorded_at_every_repeat_never_sent_and_paged_when_the_silence_ends(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    quiet = [silence(end=2 * H + 30_000)]
    first = by_receiver(d.flush_due(10_000, quiet))
    # both routes' groups hold it back; each is recorded as silenced, with the silence, and sends nothing
    assert set(first) == {"pager", "chat"}
    assert all(not n.sends and len(n.silenced) == 1 and n.silence_ids == ["s1"] for n in first.values())
    assert d.flush_due(10_000 + MIN, quiet) == []  # recorded once, not every group interval
    repeat = by_receiver(d.flush_due(10_000 + H, quiet))  # the repeat interval: recorded again
    assert set(repeat) == {"pager", "chat"} and all(not n.sends and n.silenced for n in repeat.values())
    assert d.silenced == 4
    back = by_receiver(d.flush_due(10_000 + 2 * H + MIN, quiet))  # the silence has ended: paged at once
    assert back["pager"].sends and back["pager"].alerts and not back["pager"].silenced
    # nothing was ever counted as notified while silenced: the page after is the first, and it is news
    assert back["pager"].new == (back["pager"].alerts[0].fp,)


def test_a_silence_holds_back_what_it_matches_and_the_rest_of_the_group_is_sent(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    other = Event.make("order_failed", 0, {}, policy="book", scope="okx/main", severity="critical", symbol="ETH")
    put(d, other, 0)
    quiet = [silence(event="stage_transition")]
    n = by_receiver(d.flush_due(10_000, quiet))["pager"]
    assert n.sends and [a.event.kind for a in n.alerts] == ["order_failed"]
    assert [a.event.kind for a in n.silenced] == ["stage_transition"]


def test_a_receiver_matcher_holds_back_that_receiver_only(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    out = by_receiver(d.flush_due(10_000, [silence(policy="book", receiver="chat")]))
    assert out["pager"].sends and not out["pager"].silenced
    assert not out["chat"].sends and out["chat"].silenced


def test_silenced_groups_keep_their_record_across_a_restart(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten"), 0)
    d.flush_due(10_000, [silence()])
    again = Dispatcher({"desk": tree})
    again.restore(d.to_json())
    assert again.flush_due(10_000 + MIN, [silence()]) == []  # not recorded again after a takeover
    assert again.silenced == 2


class _Context:
    """What the notification sink reads of a runner: its graph, mode, and the silences in force."""

    graph, dry_run, store = None, False, None

    def __init__(self, silences):
        self._silences = silences

    def silences(self):
        return self._silences


DOC = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {name: desk}
spec:
  route:
    receiver: pager
    group_by: [scope]
    group_wait: 0s
  receivers:
    - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
"""


def test_the_sink_records_a_silenced_page_and_sends_nothing():
    from killswitch.notify.routes import compile_routes
    from tests.unit.notify.routes.test_routes import routes_doc

    gate = threading.Event()
    gate.set()
    pager = GatedReceiver("pager", gate)
    store = Store()
    sink = NotifySink({"desk": compile_routes(routes_doc(DOC))}, {("desk", "pager"): pager}, receipts=store,
                      options=NotifyOptions(poll_s=0.01), clock=lambda: 1_000)
    ctx = _Context([silence(scope="a", end=10 * H)])

    async def go():
        sink.on_event(Event.make("stage_transition", 0, {"incident": "book/a/L3/e1"}, policy="book", scope="a",
                                 level=3, severity="critical"), ctx)
        sink.on_event(Event.make("snapshot_failed", 0, {}, scope="b"), ctx)  # not silenced: sent
        for _ in range(300):
            await asyncio.sleep(0.01)
            if pager.sent and any(k == "notification_silenced" for k, _, _ in store.rows):
                break
        await sink.aclose()

    asyncio.run(asyncio.wait_for(go(), 30))
    assert pager.sent == 1  # scope b only
    [row] = [p for k, _, p in store.rows if k == "notification_silenced"]
    assert row["receiver"] == "pager" and row["silences"] == ["s1"] and row["incidents"] == ["book/a/L3/e1"]
    assert row["result"] == "silenced" and row["severity"] == "critical" and row["event_kinds"] == ["stage_transition"]
    assert 'killswitch_notifications_total{receiver="pager",result="silenced"} 1.0' in sink.metrics_text()


@pytest.mark.parametrize("text", ["venue=~okx", "venue!~okx"])
def test_an_anchored_pattern_does_not_take_a_value_with_a_line_feed_after_it(text):
    m = parse_matcher(text)
    assert m.matches({"venue": "okx"}) is (m.op == "=~")
    assert m.matches({"venue": "okx\n"}) is (m.op == "!~")
