"""Named time intervals (``spec.time_intervals``) and a route's ``mute_time_intervals`` /
``active_time_intervals``: what an interval contains, and what the dispatcher holds back."""

from __future__ import annotations

import textwrap
from datetime import datetime

import pytest
from pydantic import ValidationError

from killswitch.compile.compiler import compile_documents
from killswitch.events import STAGE_TRANSITION, Event
from killswitch.notify.dispatch import Dispatcher, Placement
from killswitch.notify.routes import compile_routes
from killswitch.policy.load import load_text
from killswitch.policy.routes_doc import NotificationRoutes
from killswitch.policy.time_intervals.build import compile_intervals
from killswitch.policy.time_intervals.model import TimeInterval, TimeSpec
from killswitch.zones import zone


def ms(text: str) -> int:
    """An ISO time with its offset, as epoch milliseconds."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def interval(**period) -> TimeInterval:
    return TimeInterval(name="x", time_intervals=[TimeSpec(**period)])


@pytest.mark.parametrize("period, at, inside", [
    ({"times": [{"start_time": "08:00", "end_time": "18:00"}]}, "2026-11-23T08:00:00+00:00", True),
    ({"times": [{"start_time": "08:00", "end_time": "18:00"}]}, "2026-11-23T18:00:00+00:00", False),  # end excluded
    ({"times": [{"start_time": "22:00", "end_time": "24:00"}]}, "2026-11-23T23:59:59+00:00", True),
    ({"weekdays": ["monday:friday"]}, "2026-11-23T12:00:00+00:00", True),  # a Monday
    ({"weekdays": ["monday:friday"]}, "2026-11-22T12:00:00+00:00", False),  # a Sunday
    ({"weekdays": ["saturday", "sunday"]}, "2026-11-22T12:00:00+00:00", True),
    ({"days_of_month": ["-1"]}, "2026-02-28T12:00:00+00:00", True),  # the last day of February
    ({"days_of_month": ["-1"]}, "2026-03-28T12:00:00+00:00", False),
    ({"days_of_month": ["1:5"]}, "2026-03-05T23:00:00+00:00", True),
    ({"months": ["december:december"], "years": ["2026"]}, "2026-12-24T00:00:00+00:00", True),
    ({"months": ["12"], "years": ["2027:2028"]}, "2026-12-24T00:00:00+00:00", False),
    # in New York (UTC-5 in November) 08:00-18:00 is 13:00-23:00 UTC
    ({"times": [{"start_time": "08:00", "end_time": "18:00"}], "location": "America/New_York"},
     "2026-11-23T22:30:00+00:00", True),
    ({"times": [{"start_time": "08:00", "end_time": "18:00"}], "location": "America/New_York"},
     "2026-11-23T12:30:00+00:00", False),
    # the weekday is the zone's: Monday 01:00 in Tokyo is Sunday 16:00 UTC
    ({"weekdays": ["monday"], "location": "Asia/Tokyo"}, "2026-11-22T16:00:00+00:00", True),
])
def test_an_interval_contains_the_instants_its_fields_all_hold_at(period, at, inside):
    (named,) = compile_intervals([interval(**period)], zone).values()
    assert named.contains(ms(at)) is inside


@pytest.mark.parametrize("period, message", [
    ({"times": [{"start_time": "18:00", "end_time": "08:00"}]}, "start_time 18:00 is not before end_time 08:00"),
    ({"times": [{"start_time": "8:00", "end_time": "09:00"}]}, 'time "8:00" is not HH:MM'),
    ({"times": [{"start_time": "08:00", "end_time": "24:30"}]}, 'time "24:30" is not between 00:00 and 24:00'),
    ({"weekdays": ["friday:monday"]}, 'weekdays "friday:monday" runs backwards'),
    ({"weekdays": ["tues"]}, 'weekday "tues" is not one of monday … sunday (did you mean "tuesday"?)'),
    ({"days_of_month": ["32"]}, 'day of month "32" is not 1 … 31 or -31 … -1'),
    ({"months": ["13"]}, 'month "13" is not one of january … december or 1 … 12'),
    ({"years": ["26"]}, 'year "26" is not a four-digit year'),
    ({"years": ["2027:2026"]}, 'years "2027:2026" runs backwards'),
])
def test_bad_periods_are_rejected_with_the_reason(period, message):
    with pytest.raises(ValidationError) as e:
        TimeSpec(**period)
    assert message in str(e.value)


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
        routes:
          - match: {severity: warning}
            receiver: chat
            mute_time_intervals: [lunch]
            routes:
              - {match: {venue: okx}, receiver: okx-desk}
          - match: {severity: info}
            receiver: chat
            active_time_intervals: [desk-hours]
      time_intervals:
        - name: lunch
          time_intervals: [{times: [{start_time: "12:00", end_time: "13:00"}]}]
        - name: desk-hours
          time_intervals:
            - {times: [{start_time: "08:00", end_time: "18:00"}], weekdays: ["monday:friday"]}
      receivers:
        - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
        - {name: chat, apprise: ["json://127.0.0.1:9/chat"]}
        - {name: okx-desk, apprise: ["json://127.0.0.1:9/okx"]}
    """
)
MONDAY_NOON = ms("2026-11-23T12:00:00+00:00")


@pytest.fixture(scope="module")
def tree():
    res = compile_documents(load_text(ROUTES, "routes.yaml"))
    assert not res.errors, [d.message for d in res.errors]
    return compile_routes(next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes)))


def notice(ts: int, severity: str, venue: str = "binance") -> Event:
    return Event.make(STAGE_TRANSITION, ts, {"from": 0, "to": 1, "incident": f"p/{venue}/L1/e1"}, policy="p",
                      scope=venue, stage="reduce", level=1, from_level=0, venue=venue, severity=severity)


def put(d: Dispatcher, e: Event, now: int) -> None:
    d.insert(e, Placement("desk", dict(e.labels), "test"), now)


def test_a_muted_route_holds_its_page_back_until_the_interval_ends(tree):
    d = Dispatcher({"desk": tree})
    put(d, notice(MONDAY_NOON, "warning"), MONDAY_NOON)
    held = [n for t in range(MONDAY_NOON + 10_000, MONDAY_NOON + 3_600_000, 60_000) for n in d.flush_due(t)]
    assert held == [] and d.time_muted >= 59
    (n,) = d.flush_due(MONDAY_NOON + 3_610_000)  # 13:00:10, the first flush after lunch
    assert n.receiver == "chat" and len(n.new) == 1


def test_mute_time_intervals_are_not_inherited_by_a_child_route(tree):
    d = Dispatcher({"desk": tree})
    put(d, notice(MONDAY_NOON, "warning", venue="okx"), MONDAY_NOON)
    (n,) = d.flush_due(MONDAY_NOON + 10_000)
    assert n.receiver == "okx-desk"


def test_a_route_with_active_time_intervals_sends_only_inside_them(tree):
    sunday = ms("2026-11-22T12:00:00+00:00")
    d = Dispatcher({"desk": tree})
    put(d, notice(sunday, "info"), sunday)
    assert [n for t in range(sunday + 10_000, sunday + 20 * 3_600_000, 60_000) for n in d.flush_due(t)] == []
    monday_8 = ms("2026-11-23T08:00:00+00:00")
    put(d, notice(monday_8 - 1000, "info"), monday_8 - 1000)  # still firing (refreshed) on Monday
    (n,) = d.flush_due(monday_8 + 10_000)
    assert n.receiver == "chat"


def test_the_critical_page_route_is_not_muted(tree):
    d = Dispatcher({"desk": tree})
    put(d, notice(MONDAY_NOON, "critical"), MONDAY_NOON)
    (n,) = d.flush_due(MONDAY_NOON + 10_000)
    assert n.receiver == "pager" and d.time_muted == 0
