"""Alertmanager's ``matchers:`` (``=``, ``!=``, ``=~``, ``!~``) on routes and inhibit rules, read by
the one parser of matchers (the silences'), beside ``match`` / ``match_re``; the text form that
reads back; what ``ksctl routes test`` shows of them; and labels it takes as given."""

from __future__ import annotations

import json
import textwrap
import time
from typing import Optional

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from killswitch.cli.main import cli
from killswitch.compile.compiler import compile_documents
from killswitch.events import SNAPSHOT_FAILED, Event
from killswitch.notify.dispatch import Dispatcher, Placement
from killswitch.notify.explain import explain
from killswitch.notify.routes import RouteTree, compile_routes
from killswitch.policy.load import load_text
from killswitch.policy.matchers import OPS, LabelMatcher, SilenceError, parse_matchers, quoted
from killswitch.policy.routes_doc import NotificationRoutes


def compiled(text: str) -> RouteTree:
    res = compile_documents(load_text(text, "routes.yaml"))
    assert not res.errors, [x.message for x in res.errors]
    return compile_routes(next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes)))


def fault(policy: str, scope: Optional[str] = None, ts: int = 0) -> Event:
    labels = {"policy": policy, "venue": "okx", "account": "a", "reason": "TIMEOUT", "severity": "warning"}
    if scope is not None:
        labels["scope"] = scope
    return Event.make(SNAPSHOT_FAILED, ts, {"error": "TIMEOUT"}, **labels)


def put(d: Dispatcher, event: Event, now: int) -> None:
    d.insert(event, Placement("desk", dict(event.labels), "test"), now)


# --- the parser ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, read", [
    ('{severity="critical", venue!~"okx|bybit",}', [("severity", "=", "critical"), ("venue", "!~", "okx|bybit")]),
    ("severity=critical,venue!=okx", [("severity", "=", "critical"), ("venue", "!=", "okx")]),
    ('  { a = "x, y" , b=~"c,d" }  ', [("a", "=", "x, y"), ("b", "=~", "c,d")]),  # commas inside quotes stay
    ('quote="She said: \\"Hi, all\\""', [("quote", "=", 'She said: "Hi, all"')]),
    ('a="x\\\\y\\nz"', [("a", "=", "x\\y\nz")]),  # \\ a backslash, \n a line feed
    ('reason=~"\\d+ left"', [("reason", "=~", "\\d+ left")]),  # any other backslash is itself
    ("account=~acc-\\d{2}", [("account", "=~", "acc-\\d{2}")]),  # a pattern's own braces are not a list's
    ('"team.name"=fx', [("team.name", "=", "fx")]),  # a name that is not an identifier, quoted
    ("venue=", [("venue", "=", "")]),
])
def test_matchers_are_read_as_alertmanager_reads_them(text, read):
    assert [(m.name, m.op, m.value) for m in parse_matchers(text)] == read


@pytest.mark.parametrize("text, offset, says", [
    ('{a="b", c=~"(d"}', 8, "not a valid RE2 pattern"),
    ('a="b", c="d', 7, "opens a quote it does not close"),
    ('a=b"c', 0, 'has a " inside its value'),
    ("a=b,,c=d", 4, "empty matcher"),
    ('{a="b"', 0, "opens a brace it does not close"),
    ("a=b, po-licy=x", 5, "is not name=value"),
])
def test_a_matcher_that_does_not_parse_says_why_and_where_it_starts(text, offset, says):
    with pytest.raises(SilenceError) as e:
        parse_matchers(text)
    assert e.value.reason.startswith("BAD_MATCHER: ") and says in e.value.reason
    assert e.value.offset == offset


def test_a_long_run_of_spaces_is_read_in_linear_time():
    # a value read as a lazy group before \s* took time in the square of the run: about 12 s for
    # these two, where a few milliseconds do now
    spaces = " " * 50_000
    started = time.perf_counter()
    (m,) = parse_matchers(f"reason=a{spaces}b", max_value=None)
    assert m.value == f"a{spaces}b"
    with pytest.raises(SilenceError) as e:
        parse_matchers(f'reason=a{spaces}"', max_value=None)
    assert time.perf_counter() - started < 3.0
    assert len(e.value.reason) < 200  # the text is cut in the message


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["a", "team.name", 'x"y', "b c", "{x}"]), st.sampled_from(OPS), TEXT)
def test_a_matcher_printed_reads_back_the_same(name, op, value):
    if op in ("=~", "!~"):
        value = "x|" + "".join(c for c in value if c.isalnum())  # a pattern that compiles
    printed = str(LabelMatcher.make(name, op, value, None))
    assert [(m.name, m.op, m.value) for m in parse_matchers(printed)] == [(name, op, value)]
    assert [(m.name, m.op, m.value) for m in parse_matchers(f"{{{printed}, {printed}}}")] == [(name, op, value)] * 2


def test_go_quoting():
    assert quoted('x",b="y') == '"x\\",b=\\"y"'
    assert quoted("tab\there\x00\x7f") == '"tab\\there\\x00\\x7f"'
    assert quoted("é\u200b\U0001f600") == '"é\\u200b\U0001f600"'  # printable kept, a format character escaped


# --- on routes and inhibit rules -------------------------------------------------------------------------

DOC = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: NotificationRoutes
    metadata: {name: desk}
    spec:
      route:
        receiver: desk-chat
        group_by: [policy, scope]
        routes:
          - matchers: ['{severity="critical", venue!~"okx|bybit"}']
            receiver: pager
          - matchers: [stage!=flatten]
            match: {severity: warning}
            receiver: risk-chat
      inhibit_rules:
        - source_matchers: ['stage=~"flatten|halt"']
          target_matchers: ['stage!~"flatten|halt"', 'severity="warning"']
          equal: [scope]
        - source_match: {stage: reduce-top-risk}
          target_matchers: [stage=info]
      receivers:
        - {name: desk-chat, apprise: ["json://127.0.0.1:9/desk"]}
        - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
        - {name: risk-chat, apprise: ["json://127.0.0.1:9/risk"]}
    """
)


@pytest.mark.parametrize("labels, receivers", [
    ({"severity": "critical", "venue": "binanceusdm"}, ["pager"]),
    ({"severity": "critical"}, ["pager"]),  # no venue is "", which !~ "okx|bybit" lets through
    ({"severity": "critical", "venue": "okx"}, ["desk-chat"]),
    ({"severity": "warning", "stage": "reduce-top-risk"}, ["risk-chat"]),
    ({"severity": "warning"}, ["risk-chat"]),  # no stage is "", which != flatten
    ({"severity": "warning", "stage": "flatten"}, ["desk-chat"]),
])
def test_matchers_route_with_negative_operators_as_alertmanager_does(labels, receivers):
    assert [r.receiver for r in compiled(DOC).match(labels)] == receivers


def test_matchers_of_both_kinds_print_sorted_in_ids():
    tree = compiled(DOC)
    assert [r.id for r in tree.routes()] == [
        "{}", '{}/{severity="critical",venue!~"okx|bybit"}/0', '{}/{severity="warning",stage!="flatten"}/1']


def test_inhibit_rules_take_matchers():
    tree = compiled(DOC)
    halt = {"stage": "halt", "scope": "a", "severity": "critical"}
    assert tree.inhibited_by({"stage": "reduce-top-risk", "scope": "a", "severity": "warning"}, [halt]) is not None
    assert tree.inhibited_by({"stage": "reduce-top-risk", "scope": "b", "severity": "warning"}, [halt]) is None
    assert tree.inhibited_by({"stage": "flatten", "scope": "a", "severity": "warning"}, [halt]) is None
    rule, _ = tree.inhibited_by({"stage": "info"}, [{"stage": "reduce-top-risk"}])
    assert rule.index == 1 and [str(m) for m in rule.target] == ['stage="info"']
    d = Dispatcher({"desk": tree})
    put(d, fault("p", "a"), 0)  # a warning of scope a, muted while a halt of scope a is active
    d.insert(fault("p", "a"), _placement({"stage": "halt", "scope": "a", "severity": "critical", "policy": "p"}), 0)
    assert [n.receiver for n in d.flush_due(10_000)] == ["pager"] and d.inhibited == 1


def _placement(labels):
    return Placement("desk", labels, "test")


INTERVALS = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: NotificationRoutes
    metadata: {name: desk}
    spec:
      route:
        receiver: pager
        routes:
          - {matchers: [MATCHERS], receiver: desk-chat, mute_time_intervals: [night]}
      time_intervals:
        - {name: night, time_intervals: [{times: [{start_time: '22:00', end_time: '23:00'}]}]}
      receivers:
        - {name: desk-chat, apprise: ["json://127.0.0.1:9/desk"]}
        - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
    """
)


@pytest.mark.parametrize("matchers, warned", [
    ("severity=warning", False),
    ('severity!="critical"', False),
    ('severity!~"crit.*"', False),
    ('\'{severity=~"warning|critical"}\'', True),
    ("severity!=warning", True),
    ("stage=flatten", True),  # no severity matcher: critical pages pass
])
def test_time_intervals_are_warned_about_where_matchers_let_critical_pages_through(matchers, warned):
    diags = compile_documents(load_text(INTERVALS.replace("MATCHERS", matchers), "r.yaml")).diagnostics
    assert [x.code for x in diags] == (["KS131"] if warned else [])


@pytest.mark.parametrize("line", ["match_re: {venue: okx}", "matchers: ['venue=~okx']"])
def test_an_anchored_pattern_does_not_match_the_value_with_a_line_feed_after_it(line):
    tree = compiled(DOC.replace("matchers: [stage!=flatten]", line).replace("match: {severity: warning}", ""))
    (route,) = [r for r in tree.routes() if r.receiver == "risk-chat"]
    assert route.matches({"venue": "okx"})
    assert not route.matches({"venue": "okx\n"})


# --- what ksctl routes test shows -------------------------------------------------------------------------


def test_explain_shows_the_matchers_of_the_route_path_and_of_the_inhibit_rule():
    tree = compiled(DOC)
    answer = explain({"severity": "warning", "stage": "reduce-top-risk", "scope": "a"}, {"desk": tree},
                     active=[{"stage": "flatten", "scope": "a"}])
    (doc,) = answer["documents"]
    (m,) = doc["matches"]
    assert m["path"][-1]["matchers"] == ['severity="warning"', 'stage!="flatten"']
    assert doc["inhibited_by"]["source_matchers"] == ['stage=~"flatten|halt"']
    assert doc["inhibited_by"]["target_matchers"] == ['severity="warning"', 'stage!~"flatten|halt"']


def test_routes_test_prints_matchers_and_keeps_label_values_as_given(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(DOC)
    run = CliRunner().invoke
    r = run(cli, ["routes", "test", "--routes", str(path), "--label", "severity=warning", "--label",
                  "stage=reduce-top-risk", "--label", "scope=a", "--active", "stage=flatten,scope=a"])
    assert r.exit_code == 0, r.output
    assert '→ risk-chat  via route → routes[1] {severity="warning",stage!="flatten"}' in r.output
    assert 'muted by inhibit_rules[0] (source {stage=~"flatten|halt"}, equal [scope])' in r.output
    # a value is what follows "=", spaces and all, as the runner carries it: " warning" is not "warning"
    r = run(cli, ["routes", "test", "--routes", str(path), "--label", "severity= warning", "-o", "json"])
    (doc,) = json.loads(r.output)["documents"]
    assert doc["labels"] == {"severity": " warning"} and [m["receiver"] for m in doc["matches"]] == ["desk-chat"]
    r = run(cli, ["routes", "test", "--routes", str(path), "--label", "severity= warning"])
    assert 'Notification with labels: severity=" warning"' in r.output
