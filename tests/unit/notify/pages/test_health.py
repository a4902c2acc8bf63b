"""Why a page failed (notify/causes.py) and whether pages reach anyone (notify/health.py): the
cause in fixed words from what apprise logged, never its text; each receiver's latest round;
one PAGES_FAILING line per page that reached nobody and one PAGES_RECOVERED when a receiver
named in it delivers again; the gauges and the status fields."""

from __future__ import annotations

import json

import pytest
from prometheus_client.utils import floatToGoString

from killswitch.metrics import parse_families, render_collected
from killswitch.notify.causes import cause_of, cause_of_result, join_causes
from killswitch.notify.health import PageHealth

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
SECRET = "tok-5ec4e7"


@pytest.mark.parametrize("status, lines, cause", [
    ("FAILURE", ["A Connection error occurred sending JSON notification to 127.0.0.1.",
                 "Socket Exception: HTTPConnectionPool(host='127.0.0.1', port=9099): Max retries exceeded with url: "
                 f"/hook?token={SECRET} (Caused by NewConnectionError(\"...: [Errno 111] Connection refused\"))"],
     "connection refused"),
    ("FAILURE", ["A Connection error occurred sending JSON notification to hooks.example.invalid.",
                 "Socket Exception: ... NameResolutionError(... [Errno -2] Name or service not known)"],
     "DNS lookup failed"),
    ("FAILURE", ["Failed to send JSON POST notification: Verification Failed., error=401."], "HTTP 401"),
    ("FAILURE", ["Failed to send Slack notification: Internal server error., error=500."], "HTTP 500"),
    ("FAILURE", ["Socket Exception: HTTPSConnectionPool(...): SSLError(CERTIFICATE_VERIFY_FAILED)"], "TLS error"),
    ("FAILURE", ["Socket Exception: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"],
     "connection reset"),
    ("FAILURE", ["Socket Exception: HTTPConnectionPool(...): Read timed out. (read timeout=11.0)"],
     "timeout after 10s"),
    ("TIMEOUT", ["Service 'JSON' did not finish within 10.000s."], "timeout after 10s"),
    ("NOMATCH", [], "no service matched"),
    ("FAILURE", ["A Connection error occurred sending JSON notification to 127.0.0.1."], "connection error"),
    ("FAILURE", [], "failed (apprise gave no reason)"),
])
def test_the_cause_is_named_in_fixed_words_never_quoting_what_apprise_logged(status, lines, cause):
    got = cause_of(status, lines, 10.0)
    assert got == cause
    assert SECRET not in got and "127.0.0.1" not in got and "example" not in got


def test_results_without_a_report_and_several_services():
    assert cause_of_result("timeout", 2.5) == "timeout after 2.5s"
    assert cause_of_result("unresolved", problems=['receiver "pager" of routes desk: {env: KS_PAGER} is not set']) \
        == "secret not resolved: {env: KS_PAGER} is not set"
    assert cause_of_result("error:OSError") == "internal error (OSError)"
    assert cause_of_result("unknown") == "no such receiver"
    assert join_causes(["HTTP 401", "connection refused", "HTTP 401"]) == "HTTP 401; connection refused"


def test_a_page_that_reaches_nobody_names_each_receiver_and_a_recovery_is_said_once():
    h = PageHealth()
    h.know({("desk", "desk-chat"), ("desk", "fallback"), ("desk", "pager")})
    h.round_failed("desk", "desk-chat", "secret not resolved: {env: KS_CHAT} is not set", T0)
    h.round_failed("desk", "fallback", "connection refused", T0 + 1_000)
    line = h.lost([("desk", "desk-chat"), ("desk", "fallback")], "critical page (stage_transition)", T0 + 1_000)
    assert line == ("PAGES_FAILING: a critical page (stage_transition) reached no receiver: desk/desk-chat: secret "
                    "not resolved: {env: KS_CHAT} is not set; desk/fallback: connection refused; pages failing since "
                    "2026-03-02T13:00:00Z; see ksctl status and the notification_failed receipts")
    h.round_failed("desk", "fallback", "connection refused", T0 + 60_000)
    fields = h.status_fields()
    assert fields["pages_failing_since_ms"] == T0
    assert fields["pages_failing"] == [
        {"document": "desk", "receiver": "desk-chat", "cause": "secret not resolved: {env: KS_CHAT} is not set",
         "since_ms": T0, "failures": 1, "fallback": None, "fallback_ms": None},
        {"document": "desk", "receiver": "fallback", "cause": "connection refused", "since_ms": T0 + 1_000,
         "failures": 2, "fallback": None, "fallback_ms": None}]
    assert h.round_delivered("desk", "pager", T0 + 61_000) is None  # not named in a PAGES_FAILING line
    h.round_failed("desk", "desk-chat", "secret not resolved: {env: KS_CHAT} is not set", T0 + 62_000)
    back = h.round_delivered("desk", "fallback", T0 + 121_000)
    # the receiver still failing, as status and the PAGES_FAILING line say it (killswitch/facts/pages.py)
    assert back == ("PAGES_RECOVERED: desk/fallback delivers again after 2 failed round(s) since "
                    "2026-03-02T13:00:01Z (2m00s); still failing: desk/desk-chat: secret not resolved: {env: KS_CHAT} "
                    "is not set (2 failed rounds)")
    assert h.round_delivered("desk", "fallback", T0 + 122_000) is None  # once
    assert h.status_fields()["pages_failing_since_ms"] == T0  # desk-chat still fails
    h.round_delivered("desk", "desk-chat", T0 + 123_000)
    assert h.status_fields() == {"pages_failing": [], "pages_failing_since_ms": None}


def test_the_gauges_show_every_receiver_and_the_time_pages_began_failing():
    h = PageHealth()
    h.know({("desk", "pager"), ("desk", "fallback")})
    fams = parse_families(render_collected(h.collect_metrics))
    assert fams["killswitch_notification_receiver_failing"]["samples"] == [
        'killswitch_notification_receiver_failing{document="desk",receiver="fallback"} 0.0',
        'killswitch_notification_receiver_failing{document="desk",receiver="pager"} 0.0']
    assert fams["killswitch_notifications_failing_since_seconds"]["samples"] == []  # absent: pages get through
    h.round_failed("desk", "pager", "HTTP 401", T0)
    fams = parse_families(render_collected(h.collect_metrics))
    assert 'killswitch_notification_receiver_failing{document="desk",receiver="pager"} 1.0' in \
        fams["killswitch_notification_receiver_failing"]["samples"]
    assert fams["killswitch_notifications_failing_since_seconds"]["samples"] == [
        f"killswitch_notifications_failing_since_seconds {floatToGoString(T0 // 1000)}"]
    assert fams["killswitch_notifications_failing_since_seconds"]["type"] == "gauge"
    h.know({("desk", "fallback")})  # a reload dropped the pager: its failure with it
    assert h.status_fields()["pages_failing"] == []
    fams = parse_families(render_collected(h.collect_metrics))
    assert fams["killswitch_notifications_failing_since_seconds"]["samples"] == []


def test_a_receiver_whose_secret_does_not_resolve_fails_from_the_start_until_a_reload_resolves_it():
    h = PageHealth()
    h.know({("desk", "pager"), ("desk", "chat")})
    h.unreachable({("desk", "pager"): "secret not resolved: {env: KS_PAGER} is not set"}, T0)
    assert h.status_fields() == {"pages_failing": [
        {"document": "desk", "receiver": "pager", "cause": "secret not resolved: {env: KS_PAGER} is not set",
         "since_ms": T0, "failures": 0, "fallback": None, "fallback_ms": None}], "pages_failing_since_ms": T0}
    assert 'killswitch_notification_receiver_failing{document="desk",receiver="pager"} 1.0' in \
        render_collected(h.collect_metrics)
    h.round_failed("desk", "pager", "secret not resolved: {env: KS_PAGER} is not set", T0 + 5_000)
    h.unreachable({("desk", "pager"): "secret not resolved: {env: KS_PAGER} is not set"}, T0 + 9_000)  # a reload
    assert [(r["since_ms"], r["failures"]) for r in h.status_fields()["pages_failing"]] == [(T0, 1)]
    h.round_failed("desk", "chat", "HTTP 401", T0 + 10_000)
    h.unreachable({}, T0 + 20_000)  # a reload that resolves the pager's secret: the next round tells
    assert [(r["receiver"], r["since_ms"]) for r in h.status_fields()["pages_failing"]] == [("chat", T0 + 10_000)]
    assert h.status_fields()["pages_failing_since_ms"] == T0  # the run of failures began with the pager


def test_the_failing_receivers_are_taken_up_by_the_next_runner_with_their_since():
    h = PageHealth()
    h.know({("desk", "pager"), ("desk", "chat"), ("desk", "fallback")})
    h.round_failed("desk", "pager", "connection refused", T0)
    h.round_failed("desk", "pager", "connection refused", T0 + 30_000)
    h.unreachable({("desk", "chat"): "secret not resolved: {env: KS_CHAT} is not set"}, T0 + 40_000)
    h.lost([("desk", "pager")], "critical page (stage_transition)", T0 + 30_000)
    saved = json.loads(json.dumps(h.to_json()))

    nxt = PageHealth()  # restarted: the pager's secret resolves, the chat's now does too
    nxt.know({("desk", "pager"), ("desk", "chat"), ("desk", "fallback")})
    nxt.restore(saved)
    assert nxt.status_fields() == {"pages_failing": [
        {"document": "desk", "receiver": "pager", "cause": "connection refused", "since_ms": T0, "failures": 2,
         "fallback": None, "fallback_ms": None}],
        "pages_failing_since_ms": T0}

    other = PageHealth()  # taken over by a runner that still cannot read the chat's secret, started later
    other.know({("desk", "pager"), ("desk", "chat")})
    other.unreachable({("desk", "chat"): "secret not resolved: {env: KS_CHAT} is empty"}, T0 + 90_000)
    other.restore(saved)
    rows = {r["receiver"]: (r["cause"], r["since_ms"]) for r in other.status_fields()["pages_failing"]}
    assert rows == {"pager": ("connection refused", T0),
                    "chat": ("secret not resolved: {env: KS_CHAT} is empty", T0 + 40_000)}
    back = other.round_delivered("desk", "pager", T0 + 100_000)
    assert back is not None and back.startswith("PAGES_RECOVERED: desk/pager delivers again after 2 failed round(s)")
    assert [r["receiver"] for r in other.status_fields()["pages_failing"]] == ["chat"]

    gone = PageHealth()  # a reload since dropped the pager: nothing of it is taken up
    gone.know({("desk", "fallback")})
    gone.restore(saved)
    assert gone.status_fields() == {"pages_failing": [], "pages_failing_since_ms": None}
    PageHealth().restore(None)  # nothing saved (a first start, an older state)


def test_what_apprise_logs_reaches_no_handler_with_the_url_or_the_payload():
    """Capturing apprise's DEBUG lines (to tell a refused connection from an unknown name) must
    not hand a handler of its logger — a host's, a test harness's — the URL's token or the page."""
    import io
    import logging

    from killswitch.notify.message import Message
    from killswitch.notify.receivers import resolve_receiver
    from killswitch.policy.routes_doc import Receiver
    from tests.procs import free_port

    rcv = resolve_receiver(Receiver.model_validate(
        {"name": "pager", "apprise": [f"json://127.0.0.1:{free_port()}/hook/{SECRET}?token={SECRET}"]}))
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setLevel(1)
    logging.getLogger("apprise").addHandler(handler)
    try:
        res = rcv.send(Message("a title", "the page's body", "failure"), 2.0)
    finally:
        logging.getLogger("apprise").removeHandler(handler)
    assert (res.result, res.cause) == ("failed", "connection refused")
    seen = out.getvalue()
    assert "Connection refused" in seen  # the socket error passed, its URL cut
    assert SECRET not in seen and "/hook" not in seen and "the page's body" not in seen


def test_a_failing_receiver_says_whether_the_fallback_delivered_its_pages():
    h = PageHealth()
    h.know({("desk", "pager"), ("desk", "audit")})
    h.round_failed("desk", "pager", "connection refused", T0)
    assert h.status_fields()["pages_failing"][0]["fallback"] is None  # none has delivered its page yet
    h.fallback_delivered("desk", "pager", "audit", T0 + 2_000)
    h.fallback_delivered("desk", "audit", "audit", T0 + 2_000)  # a receiver not failing: nothing to say
    assert [(r["receiver"], r["fallback"], r["fallback_ms"]) for r in h.status_fields()["pages_failing"]] == [
        ("pager", "audit", T0 + 2_000)]
    saved = json.loads(json.dumps(h.to_json()))
    nxt = PageHealth()  # kept across a restart, with the receiver's failure
    nxt.know({("desk", "pager"), ("desk", "audit")})
    nxt.restore(saved)
    assert nxt.status_fields()["pages_failing"][0]["fallback"] == "audit"
    h.round_failed("desk", "audit", "HTTP 500", T0 + 60_000)  # the next page reached nobody
    h.lost([("desk", "pager"), ("desk", "audit")], "critical page (stage_transition)", T0 + 60_000)
    assert [(r["receiver"], r["fallback"]) for r in h.status_fields()["pages_failing"]] == [
        ("audit", None), ("pager", None)]
