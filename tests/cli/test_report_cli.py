"""``ksctl report --since DATE``: the closure report, from an audit trail written the way the
runner, the reset endpoint and the notification sink write it."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.cli.report import parse_when
from killswitch.state import RunbookRecord, open_store

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
MIN = 60_000
L1 = "futures-book/binanceusdm/main/L1/e1"
L3 = "futures-book/binanceusdm/main/L3/e2"
DIGEST = "sha256:" + "ab" * 32


def transition(store, ts, frm, to, decision, reason):
    store.audit("stage_transition", ts, {"policy": "futures-book", "scope": "binanceusdm/main", "from": frm, "to": to,
                                         "reason": reason, "decision_id": decision, "graph_digest": DIGEST,
                                         "revision": "c0ffee", "dry_run": False})


def receipt(store, ts, kind, receiver, incidents, final=True, result="ok"):
    store.audit(kind, ts, {"receiver": receiver, "routes": "desk", "group_key": "g", "event_kinds": ["stage_transition"],
                           "incidents": incidents, "severity": "critical", "attempt": 1, "attempts": 3,
                           "result": result, "final": final, "elapsed_ms": 12, "mode": "live"})


@pytest.fixture
def state(tmp_path):
    url = f"sqlite://{tmp_path / 'state.db'}"
    store = open_store(url)
    fence = store.acquire_lease("runner", 10 * MIN, T0)
    transition(store, T0 - 60 * MIN, 0, 1, "futures-book/binanceusdm/main/L1/e0", "ESCALATED: stage=0->1 (before)")
    transition(store, T0, 0, 1, L1, "ESCALATED: stage=0->1 triggers=soft")
    receipt(store, T0 + 1_000, "notification_delivered", "desk-chat", [L1])
    for i, (symbol, status, code) in enumerate((("BTC/USDT:USDT", "filled", None), ("SOL/USDT:USDT", "rejected",
                                                                                  "RATE_LIMITED"))):
        cid = f"ks-l3-{i}"
        store.journal_intent(fence, cid, L3, "binanceusdm", "main", symbol, "sell", None, 1.0, True,
                             json.dumps({"client_order_id": cid}), ts_ms=T0 + 5 * MIN)
        store.journal_result(fence, cid, status, 1.0 if status == "filled" else 0.0, None, code, None,
                             ts_ms=T0 + 5 * MIN + 100)
    transition(store, T0 + 5 * MIN, 1, 3, L3, "ESCALATED: stage=1->3 triggers=hard")
    receipt(store, T0 + 5 * MIN + 1_000, "notification_failed", "pager", [L3], final=False, result="timeout")
    receipt(store, T0 + 5 * MIN + 9_000, "notification_failed", "pager", [L3], final=True, result="refused")
    receipt(store, T0 + 5 * MIN + 9_500, "notification_delivered", "audit-webhook", [L3])
    store.audit("notification_dropped", T0 + 6 * MIN, {"dropped": 2, "by_queue": {"groups/warning": 2}})
    store.audit("sink_failed", T0 + 6 * MIN, {"sink": "telemetry", "error": "TimeoutError"})
    store.audit("reset_approval", T0 + 30 * MIN, {"policy": "futures-book", "scope": "binanceusdm/main", "level": 3,
                                                  "approver": "alice", "reason": "flat, reconciled",
                                                  "result": "APPROVAL_RECORDED: 1/2 approvers=alice"})
    store.audit("reset_approval", T0 + 35 * MIN, {"policy": "futures-book", "scope": "binanceusdm/main", "level": 3,
                                                  "approver": "bob", "reason": "PnL booked <b>",
                                                  "result": "MANUAL_RESET: stage=3 approvers=alice,bob"})
    store.save_runbook(RunbookRecord(L3, "futures-book", "binanceusdm/main", 3, T0 + 5 * MIN, DIGEST, "c0ffee",
                                     "flatten.md.j2", "# md", "<h1>html</h1>",
                                     json.dumps({"stage": {"name": "flatten", "level": 3}})))
    store.close()
    return url


def run(*args):
    return CliRunner().invoke(cli, ["report", *args])


def test_report_accounts_for_each_incident_its_orders_approvers_and_pages(state):
    out = run("--since", "2026-03-02T12:30Z", "--until", "2026-03-02T14:00Z", "--state", state, "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["audit"]["intact"] is True and doc["period"]["since"] == "2026-03-02T12:30:00Z"
    first, flatten = doc["incidents"]  # the entry an hour before --since is not in the period
    assert (first["incident"], first["ended"]["how"], first["ended"]["to"]) == (L1, "escalated", 3)
    assert first["notifications"] == {"delivered": ["desk-chat"], "failed": []}
    assert flatten["stage"] == "flatten" and flatten["runbook"]["template"] == "flatten.md.j2"
    assert flatten["runbook"]["path"] == "/v1/runbooks/futures-book%2Fbinanceusdm%2Fmain%2FL3%2Fe2"
    assert flatten["orders"] == {"total": 2, "filled": 1, "failed": 1, "open": 0, "planned_dry_run": 0}
    assert [a["approver"] for a in flatten["approvals"]] == ["alice", "bob"]
    assert flatten["ended"]["how"] == "reset" and flatten["ended"]["reason"].startswith("MANUAL_RESET")
    assert flatten["notifications"] == {"delivered": ["audit-webhook"], "failed": ["pager"]}  # the retry is not a failure
    s = doc["summary"]
    assert (s["incidents"], s["active"], s["transitions"], s["orders"], s["orders_failed"]) == (2, 0, 2, 2, 1)
    assert (s["notifications_delivered"], s["notifications_failed"], s["notifications_dropped"]) == (2, 1, 2)
    assert doc["other_events"] == {"sink_failed": 1}


def test_markdown_and_html_say_the_same_for_a_person(state, tmp_path):
    out = run("--since", "2026-03-02", "--until", "2026-03-03", "--state", state)
    assert out.exit_code == 0
    md = out.stdout
    assert md.startswith("# Kill-switch closure report: 2026-03-02T00:00:00Z to 2026-03-03T00:00:00Z")
    assert "> Audit chain **intact**" in md
    assert f"### `{L3}`" in md and "- ended: reset at 2026-03-02T13:35:00Z" in md
    assert "reset approval 2026-03-02T13:35:00Z by **bob**: PnL booked <b>" in md
    assert "**failed** for pager" in md
    assert re.search(r"\| `ks-l3-1` \| .* \| rejected `RATE_LIMITED` \|", md)
    page = tmp_path / "report.html"
    out = run("--since", "2026-03-02", "--until", "2026-03-03", "--state", state, "--format", "html", "--out", str(page))
    assert out.exit_code == 0
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "<table>" in html
    assert "PnL booked &lt;b&gt;" in html and "<b>" not in html


def test_a_tampered_audit_chain_is_the_first_thing_the_report_says(state):
    import sqlite3

    conn = sqlite3.connect(state[len("sqlite://"):])
    conn.execute("UPDATE audit_log SET payload = replace(payload, 'bob', 'mallory') WHERE kind = 'reset_approval'")
    conn.commit()
    conn.close()
    out = run("--since", "2026-03-02", "--state", state)
    assert out.exit_code == 1
    lines = out.stdout.splitlines()
    assert lines[2].startswith("> **AUDIT CHAIN TAMPERED**: the first row that does not check is row")
    assert "AUDIT CHAIN TAMPERED" in out.stderr


def test_dates_and_durations_and_what_is_refused(state):
    now = T0 + 24 * 3_600_000
    assert parse_when("2026-03-02", "--since") == T0 - 13 * 3_600_000
    assert parse_when("2026-03-02T13:00", "--since") == parse_when("2026-03-02T14:00+01:00", "--since") == T0
    assert parse_when("7d", "--since", now) == now - 7 * 86_400_000
    bad = run("--since", "last tuesday", "--state", state)
    assert bad.exit_code == 2 and "--since" in bad.output
    empty = run("--since", "2026-03-03", "--until", "2026-03-02", "--state", state)
    assert empty.exit_code == 2 and "period is empty" in empty.output
    out = run("--since", "2026-03-03", "--until", "2026-03-04", "--state", state)
    assert out.exit_code == 0 and "No stage was entered in the period." in out.stdout
