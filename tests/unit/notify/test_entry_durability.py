"""What the notification sink says about an event's durability, and the key of a page sent
again after a crash: an event is held (in the groups ``state_doc`` saves) only once routed out
of the queue, and a notification rebuilt from restored groups carries the same dedup key."""

from __future__ import annotations

from killswitch.events import STAGE_TRANSITION, Event
from killswitch.notify.dispatch import Dispatcher, placements as placements_of
from killswitch.notify.message import compose
from killswitch.notify.routes import compile_routes
from killswitch.notify.sink import NotifyOptions, NotifySink
from tests.unit.notify.routes.test_routes import routes_doc

DOC = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {name: desk}
spec:
  route:
    receiver: pager
    group_by: [policy, scope]
    group_wait: 0s
  receivers:
    - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
"""


class Ctx:
    graph, dry_run = None, False


def entry(incident: str = "p/binance/L3/e1") -> Event:
    return Event.make(STAGE_TRANSITION, 1_000, {"incident": incident, "decision_id": incident, "from": 0, "to": 3,
                                               "reason": "hard"},
                      policy="p", scope="binance", level=3, stage="flatten")


def test_an_event_is_held_only_once_routed_into_the_saved_groups():
    sink = NotifySink({"desk": compile_routes(routes_doc(DOC))}, {}, options=NotifyOptions(poll_s=60))
    e = entry()
    sink.on_event(e, Ctx())  # outside a loop: queued, no worker started
    assert not sink.holds(e), "a queued event would be lost by a crash: not held"
    assert "p/binance/L3/e1" not in str(sink.state_doc())
    sink._drain(1_000)
    assert sink.holds(e)
    assert "p/binance/L3/e1" in str(sink.state_doc()), "held means in what the save takes"


def test_a_page_rebuilt_from_restored_groups_has_the_same_dedup_key():
    tree = compile_routes(routes_doc(DOC))
    first = Dispatcher({"desk": tree})
    for p in placements_of(entry().labels, None, {"desk": tree}):
        first.insert(entry(), p, 1_000)
    saved = first.to_json()
    (n1,) = first.flush_due(1_000)
    again = Dispatcher({"desk": tree})
    again.restore(saved)  # the crash came after the save, before the delivery was recorded
    (n2,) = again.flush_due(1_000)
    assert n1.dedup_key == n2.dedup_key
    assert f"dedup {n1.dedup_key}" in compose(n1).body
    other = Dispatcher({"desk": tree})
    for p in placements_of(entry("p/binance/L3/e2").labels, None, {"desk": tree}):
        other.insert(entry("p/binance/L3/e2"), p, 1_000)
    (n3,) = other.flush_due(1_000)
    assert n3.dedup_key != n1.dedup_key, "another incident is news, not a repeat"
