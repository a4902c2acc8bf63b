"""Alertmanager's own routing tests (``dispatch/route_test.go``: TestRouteMatch, TestRouteWalk,
TestInheritParentGroupByAll, TestRouteMatchers, TestRouteMatchersAndMatch), as tables over our
documents.

Where ours differ from Alertmanager's, on purpose, the tables say so:

- the root's timers are ours (10s / 1m / 4h, a kill switch pages within seconds) rather than
  Alertmanager's 30s / 5m / 4h;
- a ``match_re`` prints as written (``owner=~"team-(B|C)"``) where Alertmanager prints the
  pattern it anchored (``owner=~"^(?:team-(B|C))$"``); ``matchers:`` print alike in both.
"""

from __future__ import annotations

import textwrap

import pytest

from killswitch.notify.routes import GROUP_INTERVAL_MS, GROUP_WAIT_MS, REPEAT_INTERVAL_MS
from tests.unit.notify.routes.test_matchers import compiled

RECEIVERS = """\
  receivers:
    - {name: notify-def, apprise: ["json://127.0.0.1:9/def"]}
    - {name: notify-A, apprise: ["json://127.0.0.1:9/a"]}
    - {name: notify-testing, apprise: ["json://127.0.0.1:9/t"]}
    - {name: notify-productionA, apprise: ["json://127.0.0.1:9/pa"]}
    - {name: notify-productionB, apprise: ["json://127.0.0.1:9/pb"]}
    - {name: notify-BC, apprise: ["json://127.0.0.1:9/bc"]}
"""


def document(route: str) -> str:
    head = "apiVersion: killswitch/v1\nkind: NotificationRoutes\nmetadata: {name: am}\nspec:\n  route:\n"
    return head + textwrap.indent(textwrap.dedent(route), "    ") + RECEIVERS


# TestRouteMatch: match and match_re only
ROUTE_MATCH = document("""\
    receiver: 'notify-def'
    routes:
    - match: {owner: 'team-A'}
      receiver: 'notify-A'
      routes:
      - match: {env: 'testing'}
        receiver: 'notify-testing'
        group_by: [...]
      - match: {env: "production"}
        receiver: 'notify-productionA'
        group_wait: 1m
        continue: true
      - match_re: {env: "produ.*", job: ".*"}
        receiver: 'notify-productionB'
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 1h
        group_by: ['job']
    - match_re: {owner: 'team-(B|C)'}
      group_by: ['foo', 'bar']
      group_wait: 2m
      receiver: 'notify-BC'
    - match: {group_by: 'role'}
      group_by: ['role']
      routes:
      - match: {env: 'testing'}
        receiver: 'notify-testing'
        routes:
        - match: {wait: 'long'}
          group_wait: 2m
    """)

# TestRouteMatchers: the same tree in matchers:, with a != and a !~ added on two routes
ROUTE_MATCHERS = document("""\
    receiver: 'notify-def'
    routes:
    - matchers: ['{owner="team-A"}', '{level!="critical"}']
      receiver: 'notify-A'
      routes:
      - matchers: ['{env="testing"}', '{baz!~".*quux"}']
        receiver: 'notify-testing'
        group_by: [...]
      - matchers: ['{env="production"}']
        receiver: 'notify-productionA'
        group_wait: 1m
        continue: true
      - matchers: [ env=~"produ.*", job=~".*"]
        receiver: 'notify-productionB'
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 1h
        group_by: ['job']
    - matchers: [owner=~"team-(B|C)"]
      group_by: ['foo', 'bar']
      group_wait: 2m
      receiver: 'notify-BC'
    - matchers: [group_by="role"]
      group_by: ['role']
      routes:
      - matchers: ['{env="testing"}']
        receiver: 'notify-testing'
        routes:
        - matchers: [wait="long"]
          group_wait: 2m
    """)

# TestRouteMatchersAndMatch: both forms in one tree
ROUTE_MATCHERS_AND_MATCH = document("""\
    receiver: 'notify-def'
    routes:
    - matchers: ['{owner="team-A"}', '{level!="critical"}']
      receiver: 'notify-A'
      routes:
      - matchers: ['{env="testing"}', '{baz!~".*quux"}']
        receiver: 'notify-testing'
        group_by: [...]
      - match: {env: "production"}
        receiver: 'notify-productionA'
        group_wait: 1m
        continue: true
      - matchers: [ env=~"produ.*", job=~".*"]
        receiver: 'notify-productionB'
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 1h
        group_by: ['job']
    - match_re: {owner: 'team-(B|C)'}
      group_by: ['foo', 'bar']
      group_wait: 2m
      receiver: 'notify-BC'
    - matchers: [group_by="role"]
      group_by: ['role']
      routes:
      - matchers: ['{env="testing"}']
        receiver: 'notify-testing'
        routes:
        - matchers: [wait="long"]
          group_wait: 2m
    """)

S, M, H = 1_000, 60_000, 3_600_000
DEF = (GROUP_WAIT_MS, GROUP_INTERVAL_MS, REPEAT_INTERVAL_MS)


def opts(receiver: str, group_by=(), by_all=False, timers=DEF) -> tuple:
    return receiver, tuple(sorted(group_by)), by_all, tuple(timers)


def cases(team_a: str, testing: str) -> list[tuple[dict, list[tuple], list[str]]]:
    """Alertmanager's table: labels → the options of each route matched, and its key. ``team_a``
    and ``testing`` are the matchers of the two routes the matchers: trees extend."""
    return [
        ({"owner": "team-A"}, [opts("notify-A")], [f"{{}}/{team_a}"]),
        ({"owner": "team-A", "env": "unset"}, [opts("notify-A")], [f"{{}}/{team_a}"]),
        ({"owner": "team-C"}, [opts("notify-BC", ("foo", "bar"), timers=(2 * M, DEF[1], DEF[2]))],
         ['{}/{owner=~"team-(B|C)"}']),
        ({"owner": "team-A", "env": "testing"}, [opts("notify-testing", by_all=True)], [f"{{}}/{team_a}/{testing}"]),
        ({"owner": "team-A", "env": "production"},
         [opts("notify-productionA", timers=(M, DEF[1], DEF[2])),
          opts("notify-productionB", ("job",), timers=(30 * S, 5 * M, H))],
         [f'{{}}/{team_a}/{{env="production"}}', f'{{}}/{team_a}/{{env=~"produ.*",job=~".*"}}']),
        ({"group_by": "role"}, [opts("notify-def", ("role",))], ['{}/{group_by="role"}']),
        ({"env": "testing", "group_by": "role"}, [opts("notify-testing", ("role",))],
         ['{}/{group_by="role"}/{env="testing"}']),
        ({"env": "testing", "group_by": "role", "wait": "long"},
         [opts("notify-testing", ("role",), timers=(2 * M, DEF[1], DEF[2]))],
         ['{}/{group_by="role"}/{env="testing"}/{wait="long"}']),
    ]


TABLES = [
    (ROUTE_MATCH, case) for case in cases('{owner="team-A"}', '{env="testing"}')
] + [
    (doc, case) for doc in (ROUTE_MATCHERS, ROUTE_MATCHERS_AND_MATCH)
    for case in cases('{level!="critical",owner="team-A"}', '{baz!~".*quux",env="testing"}')
]


@pytest.mark.parametrize("doc, case", TABLES, ids=[f"{i}" for i in range(len(TABLES))])
def test_alertmanagers_route_tables(doc, case):
    labels, expected, keys = case
    matched = compiled(doc).match(labels)
    got = [opts(r.receiver, r.group_by, r.group_by_all, (r.group_wait_ms, r.group_interval_ms, r.repeat_interval_ms))
           for r in matched]
    assert got == expected
    assert [r.key for r in matched] == keys


def test_a_negative_matcher_of_the_matchers_tree_holds_back_what_it_names():
    # level!="critical" and baz!~".*quux" (a label the alert lacks is "", which != and !~ let through)
    tree = compiled(ROUTE_MATCHERS)
    assert [r.receiver for r in tree.match({"owner": "team-A", "level": "critical"})] == ["notify-def"]
    assert [r.receiver for r in tree.match({"owner": "team-A", "env": "testing", "baz": "aquux"})] == ["notify-A"]
    assert [r.receiver for r in tree.match({"owner": "team-A", "env": "testing", "baz": "quuxa"})] == \
        ["notify-testing"]


def test_alertmanagers_walk_order():
    assert [r.receiver for r in compiled(ROUTE_MATCH).routes()] == [
        "notify-def", "notify-A", "notify-testing", "notify-productionA", "notify-productionB", "notify-BC",
        "notify-def", "notify-testing", "notify-testing"]


def test_a_child_inherits_its_parents_group_by_all_unless_it_sets_its_own():
    tree = compiled(document("""\
        receiver: notify-def
        routes:
        - match: {env: 'parent'}
          group_by: ['...']
          routes:
          - match: {env: 'child1'}
          - match: {env: 'child2'}
            group_by: ['foo']
        """))
    parent = tree.root.routes[0]
    child1, child2 = parent.routes
    assert parent.group_by_all and child1.group_by_all and not child2.group_by_all
    assert child2.group_by == ("foo",)
