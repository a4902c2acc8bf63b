"""Route ids unique in the tree, group keys that quote their values, and groups saved under the
older keys regrouped once on upgrade.

A route's id was built from its parent's *key* (the matchers from the root down, which two
routes can share): two sibling routes with the same matchers whose children at the same
position matched alike gave those children one id, groups are keyed by it, and one receiver's
page was never sent. Alertmanager had the same bug until 0.27: the id is now, as there, the
parent's *id*, the route's matchers and its position.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from killswitch.events import STAGE_TRANSITION, Event
from killswitch.notify.alerts import GROUP_KEYS
from killswitch.notify.dispatch import Dispatcher
from killswitch.notify.routes import RouteTree, compile_routes
from killswitch.policy.routes_doc import NotificationRoutes, Receiver, Route, RoutesSpec
from tests.unit.notify.routes.test_matchers import compiled, fault, put

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "notify"

# Two siblings of the same matchers, the first with continue, each with a child of the same
# matchers at position 0: the shape that gave two routes one id.
SIBLINGS = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: NotificationRoutes
    metadata: {name: desk}
    spec:
      route:
        receiver: desk-chat
        group_by: [policy, scope]
        group_wait: 10s
        group_interval: 1m
        repeat_interval: 1h
        routes:
          - match: {severity: critical}
            receiver: pager
            continue: true
            routes:
              - match: {venue: binanceusdm}
          - match: {severity: critical}
            receiver: risk-chat
            routes:
              - match: {venue: binanceusdm}
      receivers:
        - {name: desk-chat, apprise: ["json://127.0.0.1:9/desk"]}
        - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
        - {name: risk-chat, apprise: ["json://127.0.0.1:9/risk"]}
    """
)


def flatten(ts: int = 0) -> Event:
    return Event.make(STAGE_TRANSITION, ts, {"from": 2, "to": 3, "incident": "futures-book/binanceusdm/main/L3/e1",
                                             "dry_run": False, "reason": "ESCALATED: stage=2->3"},
                      policy="futures-book", scope="binanceusdm/main", stage="flatten", level=3, from_level=2,
                      venue="binanceusdm", severity="critical")


def pages(d: Dispatcher, start: int, stop: int, step: int = 1_000) -> list[tuple[str, int]]:
    """(receiver, firing alerts) of every notification of firing alerts flushed from ``start`` to
    ``stop`` (the faults' resolutions, 5 minutes after they were last reported, are not pages)."""
    return [(n.receiver, len(n.alerts)) for t in range(start, stop, step) for n in d.flush_due(t) if n.alerts]


# --- unique ids --------------------------------------------------------------------------------------


def test_nested_siblings_of_the_same_matchers_have_ids_of_their_own_and_both_receivers_are_paged():
    tree = compiled(SIBLINGS)
    assert [r.id for r in tree.routes()] == [
        "{}",
        '{}/{severity="critical"}/0',
        '{}/{severity="critical"}/0/{venue="binanceusdm"}/0',
        '{}/{severity="critical"}/1',
        '{}/{severity="critical"}/1/{venue="binanceusdm"}/0',
    ]
    # the key stays Alertmanager's (matchers from the root down), which the two children share
    assert tree.root.routes[0].routes[0].key == tree.root.routes[1].routes[0].key
    d = Dispatcher({"desk": tree})
    put(d, flatten(), 0)
    assert len(d.groups) == 2
    assert sorted(pages(d, 0, 20_000)) == [("pager", 1), ("risk-chat", 1)]


# Alertmanager's dispatch/route_test.go TestRouteID, in our document (matchers: as it writes them)
AM_ROUTE_ID = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: NotificationRoutes
    metadata: {name: am}
    spec:
      route:
        receiver: default
        routes:
          - {continue: true, matchers: [foo=bar], receiver: test1, routes: [{matchers: [bar=baz]}]}
          - {continue: true, matchers: [foo=bar], receiver: test1, routes: [{matchers: [bar=baz]}]}
          - {continue: true, matchers: [foo=bar], receiver: test2, routes: [{matchers: [bar=baz]}]}
          - continue: true
            matchers: [bar=baz]
            receiver: test3
            routes: [{matchers: [baz=qux]}, {matchers: [qux=corge]}]
          - {continue: true, matchers: ['qux=~"[a-zA-Z0-9]+"']}
          - {continue: true, matchers: ['corge!~"[0-9]+"']}
      receivers:
        - {name: default, apprise: ["json://127.0.0.1:9/d"]}
        - {name: test1, apprise: ["json://127.0.0.1:9/1"]}
        - {name: test2, apprise: ["json://127.0.0.1:9/2"]}
        - {name: test3, apprise: ["json://127.0.0.1:9/3"]}
    """
)


def test_route_ids_are_alertmanagers():
    assert [r.id for r in compiled(AM_ROUTE_ID).routes()] == [
        "{}",
        '{}/{foo="bar"}/0',
        '{}/{foo="bar"}/0/{bar="baz"}/0',
        '{}/{foo="bar"}/1',
        '{}/{foo="bar"}/1/{bar="baz"}/0',
        '{}/{foo="bar"}/2',
        '{}/{foo="bar"}/2/{bar="baz"}/0',
        '{}/{bar="baz"}/3',
        '{}/{bar="baz"}/3/{baz="qux"}/0',
        '{}/{bar="baz"}/3/{qux="corge"}/1',
        '{}/{qux=~"[a-zA-Z0-9]+"}/4',
        '{}/{corge!~"[0-9]+"}/5',
    ]


# --- property: every id distinct, whatever the tree ---------------------------------------------------

# few names and values, so that generated trees are full of routes alike; values that hold what
# an id or a group key is made of (quotes, commas, slashes, braces, backslashes, line breaks)
NAMES = st.sampled_from(["a", "b", "team.name", 'x"y'])
VALUES = st.sampled_from(["x", "y", "", 'x",b="y', "}/{", "/0", "\\", '"', "a,b", "\n", "x}"])
OPS = st.sampled_from(["=", "!=", "=~", "!~"])


def _line(name: str, op: str, value: str) -> str:
    from killswitch.policy.matchers import matcher_text

    return matcher_text(name, op, value if op in ("=", "!=") else "x|y")


MATCHER_LINES = st.lists(st.builds(_line, NAMES, OPS, VALUES), max_size=2)
ROUTES = st.recursive(
    st.builds(lambda m, lines, c: Route.model_validate({"match": m, "matchers": lines, "continue": c}),
              st.dictionaries(NAMES, VALUES, max_size=2), MATCHER_LINES, st.booleans()),
    lambda children: st.builds(
        lambda m, lines, kids: Route.model_validate({"match": m, "matchers": lines, "routes": kids}),
        st.dictionaries(NAMES, VALUES, max_size=1), MATCHER_LINES, st.lists(children, max_size=3)),
    max_leaves=14)


def _tree(children: list[Route]) -> RouteTree:
    spec = RoutesSpec(route=Route.model_validate({"receiver": "r", "routes": children,
                                                  "group_by": ["a", "b", "team.name"]}),
                      receivers=[Receiver(name="r", apprise=["json://127.0.0.1:9/r"])])
    return compile_routes(NotificationRoutes.model_validate(
        {"apiVersion": "killswitch/v1", "kind": "NotificationRoutes", "metadata": {"name": "p"},
         "spec": spec.model_dump(by_alias=True)}))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROUTES, min_size=1, max_size=4))
def test_every_route_of_any_tree_has_an_id_of_its_own(children):
    routes = _tree(children).routes()
    ids = [r.id for r in routes]
    assert len(set(ids)) == len(ids), sorted(r.name for r in routes if ids.count(r.id) > 1)


LABELS = st.dictionaries(NAMES, VALUES, max_size=3)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(ROUTES, min_size=1, max_size=3), st.lists(LABELS, min_size=2, max_size=4))
def test_a_group_key_is_one_route_and_one_set_of_group_labels(children, label_sets):
    tree = _tree(children)
    seen: dict[str, tuple] = {}
    for labels in label_sets:
        for route in tree.routes():
            key = route.group_key("p", labels)
            what = (route.path, tuple(sorted(route.group_labels(labels).items())))
            assert seen.setdefault(key, what) == what, key


# --- group keys quote their values ---------------------------------------------------------------------


def test_label_values_are_quoted_in_group_keys_so_two_label_sets_are_two_groups():
    tree = compiled(SIBLINGS)
    odd, plain = {"policy": 'x",scope="y'}, {"policy": "x", "scope": "y"}
    assert tree.root.group_key("desk", odd) == 'desk:{}:{policy="x\\",scope=\\"y"}'
    assert tree.root.group_key("desk", plain) == 'desk:{}:{policy="x",scope="y"}'
    assert tree.root.group_key("desk", {"policy": "a\tb\x00é"}) == 'desk:{}:{policy="a\\tb\\x00é"}'  # as Go's %q
    d = Dispatcher({"desk": tree})
    put(d, fault('x",scope="y'), 0)
    put(d, fault("x", "y"), 0)
    assert sorted(pages(d, 0, 20_000)) == [("desk-chat", 1), ("desk-chat", 1)]


# --- groups saved under the older keys ----------------------------------------------------------------


def restored(name: str, tree: RouteTree) -> Dispatcher:
    d = Dispatcher({"desk": tree})
    assert d.restore(json.loads((FIXTURES / name).read_text())) == []  # the same document: taken up
    return d


def test_a_group_saved_under_an_old_id_pages_the_receiver_it_left_out_once_after_the_upgrade():
    # saved by the code before this change: the flatten paged the pager only (both routes' alerts
    # in one group under the shared id), and the two faults of policy 'x",scope="y' and of x/y
    # went to the desk chat as one group; 20s in, before the upgrade
    tree = compiled(SIBLINGS)
    d = restored("groups-v1-pager-paged.json", tree)
    assert d.regrouped == ["desk"]
    assert [kind for kind, _ in d.restore_notes([])] == ["notification_groups_regrouped"]
    # the receiver left out is paged once; nothing notified already is notified again, until the
    # repeat interval of the halt (1h from its page at 10s)
    assert pages(d, 20_000, 3_600_000, 10_000) == [("risk-chat", 1)]
    assert sorted(pages(d, 3_600_000, 3_700_000, 10_000)) == [("pager", 1), ("risk-chat", 1)]


def test_groups_saved_before_their_first_flush_page_every_receiver_once_after_the_upgrade():
    d = restored("groups-v1-unflushed.json", compiled(SIBLINGS))
    assert sorted(pages(d, 5_000, 200_000)) == [("desk-chat", 1), ("desk-chat", 1), ("pager", 1), ("risk-chat", 1)]


def test_the_regrouping_is_done_once():
    tree = compiled(SIBLINGS)
    d = restored("groups-v1-pager-paged.json", tree)
    assert pages(d, 20_000, 30_000) == [("risk-chat", 1)]
    saved = json.loads(json.dumps(d.to_json()))
    assert saved["group_keys"] == GROUP_KEYS
    again = Dispatcher({"desk": tree})
    assert again.restore(saved) == [] and again.regrouped == [] and again.restore_notes([]) == []
    assert sorted(again.groups) == sorted(d.groups)
    assert pages(again, 30_000, 3_600_000, 10_000) == []


def test_groups_saved_today_are_restored_as_they_were():
    tree = compiled(SIBLINGS)
    d = Dispatcher({"desk": tree})
    put(d, flatten(), 0)
    put(d, fault('x",scope="y'), 0)
    before = sorted(d.groups)
    again = Dispatcher({"desk": tree})
    assert again.restore(json.loads(json.dumps(d.to_json()))) == [] and again.regrouped == []
    assert sorted(again.groups) == before
