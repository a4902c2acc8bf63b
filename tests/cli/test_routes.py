"""`ksctl routes test`: where a notification would go, inhibition, receiver checks, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import POLICIES
from tests.integration.notify.rig import ReceiverServer
from tests.procs import free_port

CRITICAL_FLATTEN = ["--label", "policy=futures-book", "--label", "stage=flatten", "--label", "level=3",
                    "--label", "severity=critical", "--label", "scope=binanceusdm/main", "--label", "venue=binanceusdm"]


def run(*args, env=None):
    return CliRunner().invoke(cli, ["routes", "test", *args], catch_exceptions=False, env=env)


def routes_file(tmp_path, pager_target: str, extra_receiver: str = "") -> str:
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: ops}}
        spec:
          route:
            receiver: chat
            group_by: [scope]
            routes:
              - {{match: {{severity: critical}}, receiver: pager, group_by: ['...']}}
          inhibit_rules:
            - {{source_match: {{stage: flatten}}, target_match: {{stage: reduce-top-risk}}, equal: [scope]}}
          receivers:
            - {{name: chat, apprise: ["json://127.0.0.1:9/chat"]}}
            - {{name: pager, apprise: [{pager_target}]}}
            {extra_receiver}
        """))
    return str(path)


def test_the_example_routes_send_a_critical_binance_flatten_to_pager_and_desk_chat():
    r = run("--routes", str(POLICIES), *CRITICAL_FLATTEN)
    assert r.exit_code == 0, r.output
    assert 'routes "desk" (chosen by: stage "flatten" notify action)' in r.output
    assert "→ pager      via route → routes[0] {severity=\"critical\"}  (continue)" in r.output
    assert "→ desk-chat  via route → routes[1] {venue=~\"binance.*\"}" in r.output
    assert 'group desk:{}/{severity="critical"}/0:{policy="futures-book",scope="binanceusdm/main"}' in r.output
    assert "targets {file: /var/run/secrets/killswitch/pager-url}" in r.output
    assert "fallback receiver (gets failed pages): audit-webhook" in r.output
    assert "inhibited: not checked" in r.output


def test_json_output_is_versioned_and_names_route_paths_and_timers():
    r = run("--routes", str(POLICIES), *CRITICAL_FLATTEN, "-o", "json")
    body = json.loads(r.output)
    assert body["format_version"] == 1 and body["verify"] == []
    (doc,) = body["documents"]
    assert [m["receiver"] for m in doc["matches"]] == ["pager", "desk-chat"]
    pager = doc["matches"][0]
    assert [s["route"] for s in pager["path"]] == ["route", "route.routes[0]"]
    # the critical route's own timers (a page within five seconds), the root's repeat
    assert (pager["group_wait"], pager["group_interval"], pager["repeat_interval"]) == ("0s", "1s", "1h")
    assert pager["group_by"] == ["policy", "scope"] and pager["continue"] is True
    assert pager["send_resolved"] is True  # the default
    assert pager["mute_time_intervals"] == [] and pager["active_time_intervals"] == []


def test_a_route_s_time_intervals_and_send_resolved_are_shown(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent("""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {name: desk}
        spec:
          route:
            receiver: pager
            routes:
              - {match: {severity: warning}, receiver: chat, mute_time_intervals: [lunch],
                 active_time_intervals: [desk-hours]}
          time_intervals:
            - {name: lunch, time_intervals: [{times: [{start_time: "12:00", end_time: "13:00"}]}]}
            - {name: desk-hours, time_intervals: [{weekdays: ["monday:friday"]}]}
          receivers:
            - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
            - {name: chat, apprise: ["json://127.0.0.1:9/chat"], send_resolved: false}
        """))
    r = run("--routes", str(path), "--label", "severity=warning")
    assert r.exit_code == 0, r.output
    assert "resolved notices no" in r.output
    assert "muted during [lunch] · active only during [desk-hours]" in r.output


def test_an_active_halt_mutes_the_reduce_notice_of_the_same_scope_only(tmp_path):
    path = routes_file(tmp_path, '"json://127.0.0.1:9/pager"')
    base = ["--routes", path, "--label", "stage=reduce-top-risk", "--label", "scope=a", "--label", "severity=warning"]
    muted = run(*base, "--active", "stage=flatten,scope=a")
    assert "inhibited: YES, muted by inhibit_rules[0]" in muted.output and "while active: stage=flatten scope=a" \
        in muted.output
    other = run(*base, "--active", "stage=flatten,scope=b")
    assert "inhibited: no (1 active label set(s) given)" in other.output
    assert "→ chat  via route" in other.output and 'group ops:{}:{scope="a"}' in other.output


def test_group_by_all_labels_shows_every_label_in_the_key(tmp_path):
    r = run("--routes", routes_file(tmp_path, '"json://127.0.0.1:9/pager"'), "--label", "severity=critical",
            "--label", "scope=a", "-o", "json")
    (m,) = json.loads(r.output)["documents"][0]["matches"]
    assert m["receiver"] == "pager" and m["group_by"] == ["..."]
    assert m["group_key"] == 'ops:{}/{severity="critical"}/0:{scope="a",severity="critical"}'


def test_verify_receivers_delivers_a_test_notification(tmp_path):
    with ReceiverServer() as srv:
        path = routes_file(tmp_path, f'"{srv.url("pager")}"')
        r = run("--routes", path, "--verify-receivers", "pager")
    assert r.exit_code == 0, r.output
    assert 'verify receiver "pager" of routes "ops": delivered' in r.output
    assert f"to json://127.0.0.1:{srv.port}/…" in r.output
    (got,) = srv.got["pager"]
    assert got["title"] == "[TEST] killswitch: test notification to pager"


def test_verify_receivers_fails_with_exit_1_and_never_prints_the_secret(tmp_path):
    token = "tok-3f9a1c77"
    closed = free_port()
    path = routes_file(tmp_path, "{env: KS_TEST_PAGER_URL}")
    r = run("--routes", path, "--verify-receivers", "pager", "--timeout", "2s",
            env={"KS_TEST_PAGER_URL": f"json://127.0.0.1:{closed}/{token}"})
    assert r.exit_code == 1, r.output
    assert 'verify receiver "pager" of routes "ops": FAILED: connection refused in ' in r.output
    assert "{env: KS_TEST_PAGER_URL}" in r.output and token not in r.output and str(closed) not in r.output
    as_json = run("--routes", path, "--verify-receivers", "pager", "-o", "json",
                  env={"KS_TEST_PAGER_URL": f"json://127.0.0.1:{closed}/{token}"})
    assert as_json.exit_code == 1 and token not in as_json.output
    (check,) = json.loads(as_json.output)["verify"]
    assert check["result"] == "failed" and check["cause"] == "connection refused"


def test_verify_receivers_names_the_cause_401_and_timeout_without_the_token(tmp_path):
    """The cause comes from what apprise reports (a refused answer's status code, its own
    deadline), in fixed words: the receiver's URL and its token are never quoted."""
    token = "tok-77e1c0de"
    with ReceiverServer() as srv:
        refused = run("--routes", routes_file(tmp_path, "{env: KS_TEST_PAGER_URL}"), "--verify-receivers", "pager",
                      "--timeout", "1s", env={"KS_TEST_PAGER_URL": f"{srv.url('unauthorized')}?token={token}"})
        hung = run("--routes", routes_file(tmp_path, "{env: KS_TEST_PAGER_URL}"), "--verify-receivers", "pager",
                   "--timeout", "1s", "-o", "json", env={"KS_TEST_PAGER_URL": f"{srv.url('hang')}?token={token}"})
    assert refused.exit_code == 1, refused.output
    assert 'verify receiver "pager" of routes "ops": FAILED: HTTP 401 in ' in refused.output
    assert hung.exit_code == 1, hung.output
    (check,) = json.loads(hung.output)["verify"]
    assert check["cause"] == "timeout after 1s" and check["result"] == "timeout"
    for out in (refused.output, hung.output):
        assert token not in out and f":{srv.port}" not in out


def test_an_unresolved_secret_is_named_by_its_reference(tmp_path):
    path = routes_file(tmp_path, "{env: KS_TEST_UNSET_PAGER}")
    r = run("--routes", path, "--verify-receivers", "pager", env={"KS_TEST_UNSET_PAGER": None})
    assert r.exit_code == 1
    assert "NOT RESOLVED" in r.output and 'receiver "pager" of routes ops: {env: KS_TEST_UNSET_PAGER} is not set' \
        in r.output
    as_json = run("--routes", path, "--verify-receivers", "pager", "-o", "json", env={"KS_TEST_UNSET_PAGER": None})
    cause = json.loads(as_json.output)["verify"][0]["cause"]
    assert cause == "secret not resolved: {env: KS_TEST_UNSET_PAGER} is not set"


def test_usage_errors_exit_2(tmp_path):
    assert run("--routes", str(POLICIES)).exit_code == 2  # neither labels nor receivers to verify
    assert run("--routes", str(POLICIES), "--label", "novalue").exit_code == 2
    r = run("--routes", str(POLICIES), "--verify-receivers", "nobody")
    assert r.exit_code == 2 and 'no receiver named "nobody";' in r.output
    r = run("--routes", str(POLICIES), "--verify-receivers", "audit-webhok")
    assert r.exit_code == 2 and 'no receiver named "audit-webhok" (did you mean "audit-webhook"?)' in r.output


def test_validate_never_imports_apprise():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom killswitch.cli.main import cli\n"
            f"r = CliRunner().invoke(cli, ['validate', {str(POLICIES)!r}])\n"
            "print(r.exit_code, 'apprise' in sys.modules, 'killswitch.notify.sink' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["0", "False", "False"], out.stdout + out.stderr
