"""Notification routes: matching, continue, grouping, timers (fake clock), inhibition, secrets.

Pure code with an explicit ``now``; nothing sleeps and nothing is sent.
"""

from __future__ import annotations

import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.events import ORDER_FAILED, RESET, SNAPSHOT_FAILED, STAGE_TRANSITION, Event
from killswitch.notify.dispatch import Dispatcher, Placement, placements
from killswitch.notify.message import compose
from killswitch.notify.receivers import ReceiverError, redact_url, resolve_receiver, resolve_receivers
from killswitch.notify.routes import compile_routes, trees_of
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.policy.load import load_text
from killswitch.policy.routes_doc import NotificationRoutes, Receiver

ROUTES = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: NotificationRoutes
    metadata: {name: desk}
    spec:
      route:
        receiver: default
        group_by: [policy, scope]
        group_wait: 10s
        group_interval: 1m
        repeat_interval: 1h
        routes:
          - match: {severity: critical}
            receiver: pager
            continue: true
          - match_re: {venue: "binance.*"}
            receiver: binance-desk
            group_wait: 30s
            routes:
              - match: {stage: flatten}
                receiver: binance-oncall
                repeat_interval: 15m
          - match: {desk: spot}
            receiver: spot-desk
            group_by: ['...']
          - match: {venue: ""}
            receiver: runner-ops
            group_by: []
      inhibit_rules:
        - source_match: {stage: flatten}
          target_match: {stage: reduce-top-risk}
          equal: [scope]
      receivers:
        - {name: default, apprise: ["json://127.0.0.1:9/default"]}
        - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
        - {name: binance-desk, apprise: ["json://127.0.0.1:9/binance"]}
        - {name: binance-oncall, apprise: ["json://127.0.0.1:9/oncall"]}
        - {name: spot-desk, apprise: ["json://127.0.0.1:9/spot"]}
        - {name: runner-ops, apprise: ["json://127.0.0.1:9/ops"]}
      fallback_receiver: runner-ops
    """
)


def routes_doc(text: str = ROUTES) -> NotificationRoutes:
    res = compile_documents(load_text(text, "routes.yaml"))
    assert not res.errors, [d.message for d in res.errors]
    return next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes))


@pytest.fixture(scope="module")
def tree():
    return compile_routes(routes_doc())


# --- matching -------------------------------------------------------------------------------------


@pytest.mark.parametrize("labels, receivers", [
    ({"severity": "warning", "venue": "okx"}, ["default"]),  # nothing matches: the root
    ({"severity": "critical", "venue": "okx"}, ["pager"]),  # continue, but no later sibling matches
    ({"severity": "critical", "venue": "binanceusdm"}, ["pager", "binance-desk"]),
    ({"severity": "critical", "venue": "binanceusdm", "stage": "flatten"}, ["pager", "binance-oncall"]),
    ({"venue": "binanceusdm", "desk": "spot"}, ["binance-desk"]),  # no continue: the first match stops
    ({"desk": "spot", "venue": "okx"}, ["spot-desk"]),
    ({"severity": "info"}, ["runner-ops"]),  # a missing label matches ""
    ({"severity": "warning", "venue": "xbinance"}, ["default"]),  # match_re is anchored
    # ... at the end of the text ($ in RE2), not before a trailing newline ($ in Python's re)
    ({"severity": "warning", "venue": "binanceusdm\n"}, ["default"]),
])
def test_route_matching_follows_depth_first_order_and_continue(tree, labels, receivers):
    assert [r.receiver for r in tree.match(labels)] == receivers


def test_children_inherit_what_they_do_not_set(tree):
    by_name = {r.name: r for r in tree.routes()}
    oncall = by_name["route.routes[1].routes[0]"]
    assert oncall.group_by == ("policy", "scope") and not oncall.group_by_all
    assert (oncall.group_wait_ms, oncall.group_interval_ms, oncall.repeat_interval_ms) == (30_000, 60_000, 900_000)
    assert by_name["route.routes[2]"].group_by_all
    assert by_name["route.routes[3]"].group_by == () and not by_name["route.routes[3]"].group_by_all


def test_a_child_without_receiver_uses_its_parents():
    doc = routes_doc(ROUTES.replace("            receiver: binance-oncall\n", ""))
    oncall = compile_routes(doc).match({"venue": "binanceusdm", "stage": "flatten"})
    assert [r.name for r in oncall] == ["route.routes[1].routes[0]"] and oncall[0].receiver == "binance-desk"


def test_group_keys_hold_only_the_group_by_labels_the_event_has(tree):
    labels = {"policy": "p", "venue": "okx", "severity": "warning", "stage": "s"}
    (root,) = tree.match(labels)
    assert root.group_key("desk", labels) == 'desk:{}:{policy="p"}'
    spot = {"desk": "spot", "b": "2", "a": "1"}
    (node,) = tree.match(spot)
    assert node.group_labels(spot) == {"a": "1", "b": "2", "desk": "spot"}  # '...': every label
    (ops,) = tree.match({"severity": "info", "policy": "p"})
    assert ops.group_key("desk", {"severity": "info", "policy": "p"}).endswith(":{}")  # group_by: []


# --- timers -----------------------------------------------------------------------------------------


def transition(ts, level, stage, *, scope="binanceusdm/main", frm=None, entry=1, policy="futures-book",
               severity="critical", venue="okx"):
    frm = level - 1 if frm is None else frm
    data = {"from": frm, "to": level, "incident": f"{policy}/{scope}/L{level}/e{entry}", "dry_run": False,
            "reason": f"ESCALATED: stage={frm}->{level}"}
    return Event.make(STAGE_TRANSITION, ts, data,
                      policy=policy, scope=scope, stage=stage, level=level, from_level=frm, venue=venue,
                      severity=severity)


def put(d: Dispatcher, event: Event, now: int):
    return d.insert(event, Placement("desk", dict(event.labels), "test"), now)


def test_a_group_waits_group_wait_then_notifies_once(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten", severity="warning"), 0)
    assert d.next_due() == 10_000
    assert d.flush_due(9_999) == []
    (n,) = d.flush_due(10_000)
    assert n.receiver == "default" and len(n.alerts) == 1 and not n.repeat
    assert d.flush_due(10_001) == [] and d.flush_due(70_000) == []  # nothing new, repeat not due


def test_events_arriving_within_group_wait_go_out_together(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 1, "trim", severity="warning"), 0)
    put(d, transition(4_000, 2, "trim-more", severity="warning"), 4_000)
    (n,) = d.flush_due(10_000)
    assert [a.labels["level"] for a in n.alerts] == ["1", "2"] and len(n.new) == 2


def test_a_new_alert_waits_for_group_interval_after_the_first_notification(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 1, "trim", severity="warning"), 0)
    assert len(d.flush_due(10_000)) == 1
    put(d, transition(20_000, 2, "trim-more", severity="warning"), 20_000)
    assert d.flush_due(69_999) == []
    (n,) = d.flush_due(70_000)
    assert [a.labels["level"] for a in n.alerts if a.fp in n.new] == ["2"]
    assert "Earlier in this group" in compose(n).body


def test_repeat_interval_reminds_while_the_stage_holds_and_not_before(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten", severity="warning"), 0)
    d.flush_due(10_000)
    sent = [n for t in range(70_000, 3_610_000, 60_000) for n in d.flush_due(t)]
    assert sent == []  # a latched stage entry is still active, but the hour has not passed
    (n,) = d.flush_due(3_610_000)
    assert n.repeat and "reminder" in compose(n).title


def test_a_one_off_event_expires_and_is_never_repeated(tree):
    d = Dispatcher({"desk": tree}, resolve_timeout_ms=300_000)
    e = Event.make(ORDER_FAILED, 0, {"client_order_id": "ks-1"}, venue="okx", account="a", reason="REJECTED")
    put(d, e, 0)
    assert len(d.flush_due(10_000)) == 1
    for t in range(70_000, 8_000_000, 60_000):
        assert d.flush_due(t) == []
    assert d.groups == {}  # the empty group was deleted


def test_a_fault_no_longer_reported_is_resolved_once_then_never_repeated(tree):
    d = Dispatcher({"desk": tree}, resolve_timeout_ms=300_000)
    e = Event.make(SNAPSHOT_FAILED, 0, {"error": "TIMEOUT"}, venue="okx", account="a", reason="TIMEOUT")
    put(d, e, 0)
    assert len(d.flush_due(10_000)) == 1
    sent = [(t, n) for t in range(70_000, 8_000_000, 60_000) for n in d.flush_due(t)]
    assert [t for t, _ in sent] == [310_000]  # the first flush after resolve_timeout
    (_, n), = sent
    assert n.resolved_only and n.alerts == () and n.resolved[0].resolved_ms == 300_000
    msg = compose(n)
    assert msg.title.startswith("[RESOLVED] no snapshot from okx/a: TIMEOUT: no longer reported")
    assert msg.notify_type == "success" and "RESOLVED" in msg.body
    assert d.groups == {}


def test_a_fault_reported_every_tick_is_one_alert_not_a_page_per_tick(tree):
    d = Dispatcher({"desk": tree})
    sent = []
    for t in range(0, 600_000, 5_000):
        put(d, Event.make(SNAPSHOT_FAILED, t, {"error": "TIMEOUT"}, venue="okx", account="a", reason="TIMEOUT"), t)
        sent += d.flush_due(t)
    assert len(sent) == 1


def test_a_stage_re_entered_after_its_cooldown_is_notified_again(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 1, "trim", severity="warning"), 0)
    d.flush_due(10_000)
    put(d, transition(100_000, 1, "trim", frm=1, entry=2, severity="warning"), 100_000)
    (n,) = d.flush_due(130_000)
    assert [a.event.data["incident"] for a in n.alerts if a.fp in n.new] == ["futures-book/binanceusdm/main/L1/e2"]


def test_leaving_the_stage_ends_its_reminders(tree):
    d = Dispatcher({"desk": tree}, resolve_timeout_ms=300_000)
    put(d, transition(0, 2, "trim-more", severity="warning"), 0)
    d.flush_due(10_000)
    back = Event.make(STAGE_TRANSITION, 20_000, {"from": 2, "to": 0, "reason": "AUTO_RESET"},
                      policy="futures-book", scope="binanceusdm/main", level=0, from_level=2, venue="okx",
                      severity="info")
    put(d, back, 20_000)
    assert len(d.flush_due(70_000)) == 1  # the re-arm notice
    assert [n for t in range(130_000, 9_000_000, 60_000) for n in d.flush_due(t)] == []
    assert d.groups == {}


def test_a_released_reset_ends_the_latched_halt(tree):
    d = Dispatcher({"desk": tree}, resolve_timeout_ms=300_000)
    put(d, transition(0, 3, "flatten", severity="warning"), 0)
    d.flush_due(10_000)
    reset = Event.make(RESET, 50_000, {"released": True, "result": "RESET"}, policy="futures-book",
                       scope="binanceusdm/main", level=3)
    put(d, reset, 50_000)
    d.flush_due(70_000)
    assert [n for t in range(130_000, 9_000_000, 60_000) for n in d.flush_due(t)] == []


# --- kept across restarts ------------------------------------------------------------------------------


def restarted(d: Dispatcher, trees) -> Dispatcher:
    """A new dispatcher, as a restarted runner builds it, from what the old one saved (as JSON)."""
    import json

    again = Dispatcher(trees, d.resolve_timeout_ms)
    assert again.restore(json.loads(json.dumps(d.to_json()))) == []
    return again


def test_a_restored_dispatcher_reminds_on_time_and_does_not_page_again(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten", severity="warning"), 0)
    put(d, transition(2_000, 1, "reduce-top-risk", scope="binanceusdm/other", severity="warning"), 2_000)
    assert len(d.flush_due(10_000) + d.flush_due(12_000)) == 2
    d = restarted(d, {"desk": tree})
    assert [n for t in range(10_000, 3_610_000, 60_000) for n in d.flush_due(t)] == []
    (n,) = d.flush_due(3_610_000)  # the halt holds; the one-off reduce notice has expired
    assert n.repeat and [a.labels["stage"] for a in n.alerts] == ["flatten"]
    assert n.alerts[0].event.data["incident"] == "futures-book/binanceusdm/main/L3/e1"


def test_a_restored_halt_still_mutes_the_reduce_notice_and_a_new_alert_joins_its_group(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 1, "reduce-top-risk", severity="warning"), 0)
    put(d, transition(2_000, 3, "flatten", severity="warning"), 2_000)
    d = restarted(d, {"desk": tree})  # before the group's first flush
    (n,) = d.flush_due(10_000)
    assert [a.labels["stage"] for a in n.alerts] == ["flatten"] and n.muted == 1
    d = restarted(d, {"desk": tree})
    e = Event.make(SNAPSHOT_FAILED, 20_000, {"error": "TIMEOUT"}, policy="futures-book", scope="binanceusdm/main",
                   venue="okx", account="a", reason="TIMEOUT")
    put(d, e, 20_000)
    assert d.flush_due(69_999) == []  # the group's interval runs on from before the restart
    (n,) = d.flush_due(70_000)
    assert [a.event.kind for a in n.alerts if a.fp in n.new] == [SNAPSHOT_FAILED]


def test_groups_of_a_routes_document_that_changed_are_not_restored(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten", severity="warning"), 0)
    d.flush_due(10_000)
    changed = compile_routes(routes_doc(ROUTES.replace("repeat_interval: 1h", "repeat_interval: 2h")))
    again = Dispatcher({"desk": changed})
    assert again.restore(d.to_json()) == ["desk"]
    assert again.groups == {} and again.active == {"desk": {}}
    assert Dispatcher({}).restore(d.to_json()) == ["desk"]  # the document is gone


# --- inhibition ---------------------------------------------------------------------------------------


def test_a_halt_mutes_the_reduce_notice_of_the_same_scope(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 1, "reduce-top-risk", severity="warning"), 0)
    put(d, transition(2_000, 3, "flatten", severity="warning"), 2_000)
    put(d, transition(3_000, 1, "reduce-top-risk", scope="binanceusdm/other", severity="warning"), 3_000)
    sent = {n.group_key: n for t in (10_000, 13_000) for n in d.flush_due(t)}
    main = next(n for k, n in sent.items() if 'scope="binanceusdm/main"' in k)
    other = next(n for k, n in sent.items() if 'scope="binanceusdm/other"' in k)
    assert [a.labels["stage"] for a in main.alerts] == ["flatten"] and main.muted == 1
    assert [a.labels["stage"] for a in other.alerts] == ["reduce-top-risk"] and other.muted == 0
    assert d.inhibited == 1


def test_a_halt_released_by_a_reset_mutes_nothing_any_more(tree):
    d = Dispatcher({"desk": tree})
    put(d, transition(0, 3, "flatten", severity="warning"), 0)
    d.flush_due(10_000)
    put(d, Event.make(RESET, 20_000, {"released": True}, policy="futures-book", scope="binanceusdm/main",
                      level=3), 20_000)
    put(d, transition(30_000, 1, "reduce-top-risk", frm=0, entry=2, severity="warning"), 30_000)
    (n,) = [n for n in d.flush_due(70_000) if n.receiver == "default"]
    assert "reduce-top-risk" in [a.labels.get("stage") for a in n.alerts if a.fp in n.new] and n.muted == 0


@pytest.mark.parametrize("target, sources, muted", [
    ({"stage": "reduce-top-risk", "scope": "a"}, [{"stage": "flatten", "scope": "a"}], True),
    ({"stage": "reduce-top-risk", "scope": "a"}, [{"stage": "flatten", "scope": "b"}], False),
    ({"stage": "reduce-top-risk"}, [{"stage": "flatten"}], True),  # equal label missing on both sides
    ({"stage": "reduce-top-risk", "scope": "a"}, [{"stage": "flatten"}], False),
    ({"stage": "reduce-top-risk", "scope": "a"}, [{"stage": "reduce-top-risk", "scope": "a"}], False),
    ({"stage": "flatten", "scope": "a"}, [{"stage": "flatten", "scope": "a"}], False),  # not a target
])
def test_inhibit_rules_compare_the_equal_labels(tree, target, sources, muted):
    assert (tree.inhibited_by(target, sources) is not None) is muted


def test_an_alert_matching_both_sides_is_not_muted_by_its_own_kind():
    doc = routes_doc(ROUTES.replace("source_match: {stage: flatten}", "source_match: {severity: critical}")
                           .replace("target_match: {stage: reduce-top-risk}", "target_match: {severity: critical}"))
    t = compile_routes(doc)
    a = {"severity": "critical", "scope": "x", "stage": "one"}
    b = {"severity": "critical", "scope": "x", "stage": "two"}
    assert t.inhibited_by(a, [a, b]) is None


# --- which document, which severity ----------------------------------------------------------------------


def graph_with_policy():
    from tests.conftest import POLICIES

    text = (POLICIES / "futures-book.yaml").read_text() + "\n---\n" + (POLICIES / "routes.yaml").read_text()
    res = compile_documents(load_text(text, "p.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph, trees_of(res.docs)


def test_a_stage_notify_action_chooses_the_document_and_the_severity():
    graph, trees = graph_with_policy()
    e = transition(0, 1, "reduce-top-risk", severity="critical")
    (p,) = placements(e.labels, graph, trees)
    assert p.tree == "desk" and p.labels["severity"] == "warning" and "notify action" in p.why
    (kept,) = placements(e.labels, graph, trees, keep_severity=True)
    assert kept.labels["severity"] == "critical"


def test_an_explicit_severity_is_kept_when_asked_and_a_missing_one_comes_from_the_stage():
    graph, trees = graph_with_policy()
    asked = {"policy": "futures-book", "level": "1", "scope": "s"}
    (p,) = placements(asked, graph, trees, keep_severity=True)
    assert p.labels["severity"] == "warning"  # no event label, but a level: a stage transition
    (p,) = placements({**asked, "severity": "info"}, graph, trees, keep_severity=True)
    assert p.labels["severity"] == "info"


def test_events_without_a_policy_go_to_every_document_and_a_re_arm_is_info():
    graph, trees = graph_with_policy()
    e = Event.make(SNAPSHOT_FAILED, 0, {}, venue="okx", account="a")
    assert [p.tree for p in placements(e.labels, graph, {**trees, "other": trees["desk"]})] == ["desk", "other"]
    back = Event.make(STAGE_TRANSITION, 0, {}, policy="futures-book", scope="s", level=0, from_level=2)
    (p,) = placements(back.labels, graph, trees)
    assert p.labels["severity"] == "info" and "spec.notify" in p.why


def test_a_reload_keeps_the_groups_of_unchanged_documents_only(tree):
    other = compile_routes(routes_doc(ROUTES.replace("name: desk", "name: other")))
    d = Dispatcher({"desk": tree, "other": other})
    e = transition(0, 3, "flatten", severity="warning")
    put(d, e, 0)
    d.insert(e, Placement("other", dict(e.labels), "t"), 0)
    changed = compile_routes(routes_doc(ROUTES.replace("name: desk", "name: other").replace("group_wait: 10s",
                                                                                          "group_wait: 20s")))
    d.retree({"desk": compile_routes(routes_doc()), "other": changed})
    assert {g.tree for g in d.groups.values()} == {"desk"} and d.active["other"] == {}
    assert len(d.flush_due(10_000)) == 1


# --- messages --------------------------------------------------------------------------------------------


def test_the_message_says_what_happened_the_mode_and_links_the_runbook(tree):
    d = Dispatcher({"desk": tree})
    e = Event.make(STAGE_TRANSITION, 1_772_456_400_000, {
        "from": 2, "to": 3, "reason": "ESCALATED: stage=2->3 triggers=hard", "incident": "fb/binanceusdm/main/L3/e1",
        "dry_run": True, "signals": [{"name": "dd_15m", "value": 0.1042, "reason": None}], "triggers": ["hard"],
        "orders": 4, "graph_digest": "sha256:abc", "revision": "r1"},
        policy="fb", scope="binanceusdm/main", stage="flatten", level=3, from_level=2, venue="binanceusdm",
        severity="critical", desk="futures")
    d.insert(e, Placement("desk", dict(e.labels), "t"), 0, {"signal_types": {"dd_15m": "ratio"}})
    notes = d.flush_due(30_000)
    msg = compose(notes[0], "https://ks.example.com/")
    assert msg.title.startswith("[CRITICAL] [DRY RUN] fb binanceusdm/main: entered stage 3 flatten (from 2)")
    assert "dd_15m=10.42%" in msg.body and "triggers firing: hard" in msg.body and "desk=futures" in msg.body
    assert "ksctl runbook render --incident fb/binanceusdm/main/L3/e1" in msg.body
    # the console's link: the page reads the runbook with the token typed into it
    assert "https://ks.example.com/#runbook=fb%2Fbinanceusdm%2Fmain%2FL3%2Fe1" in msg.body
    assert "/v1/runbooks/" not in msg.body
    assert "mode: DRY RUN" in msg.body and msg.notify_type == "failure"


# --- receivers and secrets ---------------------------------------------------------------------------------


def receiver(*targets):
    return Receiver.model_validate({"name": "pager", "apprise": list(targets)})


def test_a_missing_env_secret_is_an_error_naming_the_reference():
    with pytest.raises(ReceiverError) as e:
        resolve_receiver(receiver({"env": "KS_TEST_PAGER"}), environ={})
    assert str(e.value) == 'receiver "pager": {env: KS_TEST_PAGER} is not set'


def test_a_bad_secret_is_reported_without_its_value(tmp_path):
    secret = "not-a-url-but-a-token-7f3a9c"
    with pytest.raises(ReceiverError) as e:
        resolve_receiver(receiver({"env": "KS_TEST_PAGER"}), environ={"KS_TEST_PAGER": secret})
    assert "{env: KS_TEST_PAGER}" in str(e.value) and secret not in str(e.value)


@pytest.mark.parametrize("content, problem", [
    (None, "does not exist"),
    ("# only a comment\n\n", "is empty"),
    ("urls: []\n", "not an apprise YAML configuration"),
])
def test_file_secrets_that_do_not_resolve(tmp_path, content, problem):
    path = tmp_path / ("pager.yaml" if content and content.startswith("urls") else "pager-url")
    if content is not None:
        path.write_text(content)
    with pytest.raises(ReceiverError) as e:
        resolve_receiver(receiver({"file": str(path)}))
    assert f"{{file: {path}}}" in str(e.value) and problem in str(e.value)


def test_every_unresolved_receiver_is_reported_in_one_error():
    doc = routes_doc(ROUTES.replace('["json://127.0.0.1:9/pager"]', "[{env: KS_TEST_A}]")
                     .replace('["json://127.0.0.1:9/spot"]', "[{file: /nonexistent/ks-spot}]"))
    with pytest.raises(ReceiverError) as e:
        resolve_receivers([doc], environ={})
    assert len(e.value.problems) == 2
    assert "{env: KS_TEST_A}" in e.value.problems[0] and "{file: /nonexistent/ks-spot}" in e.value.problems[1]


def test_secrets_resolve_from_env_file_and_apprise_yaml(tmp_path):
    token = "tok-5be1"
    (tmp_path / "pager-url").write_text(f"# the pager\njson://127.0.0.1:9/{token}\n")
    (tmp_path / "apprise.yaml").write_text(f"urls:\n  - json://127.0.0.1:9/{token}-a\n  - json://127.0.0.1:9/b\n")
    r = resolve_receiver(receiver({"env": "KS_TEST_PAGER"}, {"file": str(tmp_path / "pager-url")},
                                  {"file": str(tmp_path / "apprise.yaml")}, "json://127.0.0.1:9/plain"),
                         environ={"KS_TEST_PAGER": f"json://127.0.0.1:9/{token}-env"}, timeout_s=2.0)
    assert len(r.apprise) == 5
    assert all(p.socket_read_timeout <= 3.0 and p.socket_connect_timeout <= 3.0 for p in r.apprise)
    shown = repr(r) + " ".join(r.targets)
    assert token not in shown and "json://127.0.0.1:9/…" in r.targets


def test_redacted_urls_keep_scheme_host_and_port_only():
    assert redact_url("json://user:pw@hooks.example.com:8443/T000/B000/XXXX?x=1") == "json://hooks.example.com:8443/…"
    assert redact_url("json://127.0.0.1:9099") == "json://127.0.0.1:9099"


def test_an_unresolved_receiver_does_not_stop_the_sink_but_is_listed():
    doc = routes_doc(ROUTES.replace('["json://127.0.0.1:9/pager"]', "[{env: KS_TEST_A}]"))
    sink = NotifySink.from_documents([doc], environ={}, strict=False)
    assert sink.problems == ['receiver "pager" of routes desk: {env: KS_TEST_A} is not set']
    assert ("desk", "pager") not in sink.receivers and ("desk", "default") in sink.receivers
    with pytest.raises(ReceiverError):
        NotifySink.from_documents([doc], environ={})


# --- the queue -----------------------------------------------------------------------------------------------


class _Runner:
    graph = None
    dry_run = True
    store = None


def test_a_full_queue_drops_the_oldest_non_critical_event_and_counts_it(tree):
    sink = NotifySink({"desk": tree}, {}, options=NotifyOptions(queue_size=3))
    warn = [Event.make(SNAPSHOT_FAILED, i, {}, venue="okx", account=str(i)) for i in range(2)]
    crit = transition(5, 3, "flatten")
    sink.on_event(warn[0], _Runner())
    sink.on_event(crit, _Runner())
    sink.on_event(warn[1], _Runner())
    sink.on_event(transition(6, 3, "flatten", scope="b"), _Runner())  # full: warn[0] goes
    assert [i.event.ts_ms for i in sink._events] == [5, 1, 6]
    assert sink.dropped == {("events", "other"): 1}
    assert 'killswitch_notifications_dropped_total{queue="events",severity="other"} 1.0' in sink.metrics_text()
    sink.on_event(Event.make(SNAPSHOT_FAILED, 7, {}, venue="okx", account="x"), _Runner())  # warn[1] goes
    sink.on_event(transition(8, 3, "flatten", scope="c"), _Runner())  # the snapshot failure just queued goes
    assert all(i.critical for i in sink._events) and sink._events[0].event is crit
    sink.on_event(transition(9, 3, "flatten", scope="d"), _Runner())  # all critical: the oldest goes
    assert [i.event.labels["scope"] for i in sink._events] == ["b", "c", "d"]
    assert sink.dropped == {("events", "other"): 3, ("events", "critical"): 1}


def _with_pattern(pattern: str) -> str:
    text = ROUTES.replace('match_re: {venue: "binance.*"}', f"match_re: {{venue: '{pattern}'}}", 1)
    assert text != ROUTES
    return text


@pytest.mark.parametrize("pattern", [
    "(" * 500 + "binance.*" + ")" * 500,  # was refused past 32 levels: Python's re recursed on each
    "(a)" * 500 + "|binance.*",
    r"\(" * 500 + "|binance.*",
    "[(]" * 500 + "|binance.*",
])
def test_a_match_re_nested_deeply_compiles_and_matches(pattern):
    """RE2 neither recurses on a group nor backtracks: nesting is no longer bounded, the length is."""
    tree = compile_routes(routes_doc(_with_pattern(pattern)))
    assert [r.receiver for r in tree.match({"venue": "binanceusdm"})] == ["binance-desk"]
    assert [r.receiver for r in tree.match({"venue": "okx"})] == ["default"]


def test_a_match_re_over_the_length_bound_is_refused_at_the_character_past_it():
    pattern = "binance|" * 600  # 4,800 characters
    [err] = compile_documents(load_text(_with_pattern(pattern), "routes.yaml")).errors
    # the value starts at 15:27 (after "      - match_re: {venue: "), its text one character later
    assert (err.code, err.pos.line, err.pos.col) == ("KS114", 15, 28 + 4096)
    assert "is 4,800 characters long, over the limit of 4,096" in err.message
    assert "route.routes[1].match_re.venue" in err.message


@pytest.mark.parametrize("pattern", [
    "(" + ".*" * 24 + ")*zz",  # Python's re: hours on any label; each .* more tripled it
    "(a|aa)*b", "(a*)*b", "(x+x+)+y", "(.*a){20}",
])
def test_a_pathological_pattern_matches_in_linear_time(pattern):
    """Patterns that make a backtracking engine take exponential time: the router matches a
    4,000-character label with them at once (a guard on CPU time, not a performance figure)."""
    import time

    tree = compile_routes(routes_doc(_with_pattern(pattern)))
    t0 = time.thread_time()
    for label in ("a" * 4_000, "x" * 4_000, "critical"):
        tree.match({"venue": label})
    assert time.thread_time() - t0 < 1.0
