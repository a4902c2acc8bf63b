"""``ksctl report --since DATE``: the closure report, from an audit trail written the way the
runner, the reset endpoint and the notification sink write it; and what its first line may say
about the audit chain: "intact and anchored" only with the key; "consistent, UNANCHORED:
truncation and wipes cannot be detected" (never "intact") for a trail written without one and
checked against its exported head; "consistent, UNVERIFIED" (exit 4) for one checked against
neither key nor anchor; "NOT VERIFIABLE without the key" for an anchored trail read without it;
and "TAMPERED" — with what was read from unproven rows marked — after a forgery, a cut, a
stripped anchor or a missing head."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.cli.report import parse_when
from killswitch.state import AuditKey, RunbookRecord, open_store
from killswitch.state.store import IntentRow, audit_hash, canonical_json

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
MIN = 60_000
L1 = "futures-book/binanceusdm/main/L1/e1"
L3 = "futures-book/binanceusdm/main/L3/e2"
DIGEST = "sha256:" + "ab" * 32
KEY = "report-audit-key-" + "9" * 32


def transition(store, ts, frm, to, decision, reason):
    store.audit("stage_transition", ts, {"policy": "futures-book", "scope": "binanceusdm/main", "from": frm, "to": to,
                                         "reason": reason, "decision_id": decision, "graph_digest": DIGEST,
                                         "revision": "c0ffee", "dry_run": False})


def receipt(store, ts, kind, receiver, incidents, final=True, result="ok"):
    store.audit(kind, ts, {"receiver": receiver, "routes": "desk", "group_key": "g",
                           "title": f"[killswitch LIVE] {', '.join(incidents)} entered",
                           "event_kinds": ["stage_transition"], "incidents": incidents, "severity": "critical",
                           "attempt": 1, "attempts": 3,
                           "result": result, "final": final, "elapsed_ms": 12, "mode": "live"})


def reset(store, ts, approver, level, reason, result):
    store.audit("reset_approval", ts, {"policy": "futures-book", "scope": "binanceusdm/main", "level": level,
                                       "approver": approver, "reason": reason, "result": result})
    if result.startswith(("APPROVAL_RECORDED", "MANUAL_RESET")):
        store.record_approval("futures-book|binanceusdm/main|e2", level, approver, reason, ts)


def write_trail(url: str, key: AuditKey | None = None) -> str:
    store = open_store(url, audit_key=key)
    fence = store.acquire_lease("runner", 10 * MIN, T0)
    transition(store, T0 - 60 * MIN, 0, 1, "futures-book/binanceusdm/main/L1/e0", "ESCALATED: stage=0->1 (before)")
    transition(store, T0, 0, 1, L1, "ESCALATED: stage=0->1 triggers=soft")
    receipt(store, T0 + 1_000, "notification_delivered", "desk-chat", [L1])
    for i, (symbol, status, code) in enumerate((("BTC/USDT:USDT", "filled", None), ("SOL/USDT:USDT", "rejected",
                                                                                  "RATE_LIMITED"))):
        cid = f"ks-l3-{i}"
        store.journal_intents(fence, [IntentRow(cid, L3, "binanceusdm", "main", symbol, "sell", None, 1.0, True,
                                                json.dumps({"client_order_id": cid}), entry_price=53_000.0,
                                                contract_size=1.0)],  # the long it closed, as the snapshot showed it
                              ts_ms=T0 + 5 * MIN)
        store.journal_result(fence, cid, status, 1.0 if status == "filled" else 0.0,
                             52_611.594000000005 if status == "filled" else None, code, None,
                             ts_ms=T0 + 5 * MIN + 100, fees=((21.04, "USDT"),) if status == "filled" else None)
    transition(store, T0 + 5 * MIN, 1, 3, L3, "ESCALATED: stage=1->3 triggers=hard")
    receipt(store, T0 + 5 * MIN + 1_000, "notification_failed", "pager", [L3], final=False, result="timeout")
    receipt(store, T0 + 5 * MIN + 9_000, "notification_failed", "pager", [L3], final=True, result="refused")
    receipt(store, T0 + 5 * MIN + 9_500, "notification_delivered", "audit-webhook", [L3])
    store.audit("notification_dropped", T0 + 6 * MIN, {"dropped": 2, "by_queue": {"groups/warning": 2}})
    store.audit("sink_failed", T0 + 6 * MIN, {"sink": "telemetry", "error": "TimeoutError"})
    # as the runner does it: every attempt audited, then an approval recorded (never a refused one)
    reset(store, T0 + 30 * MIN, "alice", 3, "flat, reconciled", "APPROVAL_RECORDED: 1/2 approvers=alice")
    reset(store, T0 + 35 * MIN, "bob", 3, "PnL booked <b>", "MANUAL_RESET: stage=3 approvers=alice,bob")
    store.save_runbook(RunbookRecord(L3, "futures-book", "binanceusdm/main", 3, T0 + 5 * MIN, DIGEST, "c0ffee",
                                     "flatten.md.j2", "# md", "<h1>html</h1>",
                                     json.dumps({"stage": {"name": "flatten", "level": 3}})))
    store.close()
    return url


@pytest.fixture
def state(tmp_path):
    return write_trail(f"sqlite://{tmp_path / 'state.db'}")


@pytest.fixture
def keyed_state(tmp_path):
    return write_trail(f"sqlite://{tmp_path / 'state.db'}", AuditKey(KEY))


def sql(url: str, *statements: tuple) -> None:
    import sqlite3

    conn = sqlite3.connect(url[len("sqlite://"):])
    for st in statements:
        conn.execute(*st)
    conn.commit()
    conn.close()


def forge_approval_after_head(url: str) -> None:
    """A reset approval by mallory appended behind the store's back, hashed right, head untouched."""
    import sqlite3

    conn = sqlite3.connect(url[len("sqlite://"):])
    seq, prev = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    p = {"policy": "futures-book", "scope": "binanceusdm/main", "level": 3, "approver": "mallory",
         "reason": "looks fine", "result": "MANUAL_RESET: stage=3 approvers=mallory"}
    ts = T0 + 40 * MIN
    conn.execute("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
                 (seq + 1, "reset_approval", ts, canonical_json(p), prev,
                  audit_hash(prev, seq + 1, "reset_approval", ts, p)))
    conn.commit()
    conn.close()


def run(*args):
    return CliRunner().invoke(cli, ["report", *args])


def head_anchor(url: str) -> tuple[str, str]:
    """``--anchor SEQ:HASH`` of the trail's head as it is now (the runner exports it to its log)."""
    store = open_store(url, migrate=False)
    try:
        head = store.audit_head()
    finally:
        store.close()
    return "--anchor", f"{head.seq}:{head.hash}"


def test_report_accounts_for_each_incident_its_orders_approvers_and_pages(state):
    bare = run("--since", "2026-03-02T12:30Z", "--until", "2026-03-02T14:00Z", "--state", state, "-o", "json")
    assert bare.exit_code == 4, bare.output  # neither key nor anchor: consistent, unverified
    audit = json.loads(bare.stdout)["audit"]
    assert (audit["verdict"], audit["passed"], audit["intact"], audit["consistent"], audit["anchored"]) == \
        ("consistent_unverified", False, False, True, False)
    assert "AUDIT CHAIN UNVERIFIED" in bare.stderr
    out = run("--since", "2026-03-02T12:30Z", "--until", "2026-03-02T14:00Z", "--state", state, "-o", "json",
              *head_anchor(state))
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["period"]["since"] == "2026-03-02T12:30:00Z" and doc["format_version"] == 4
    audit = doc["audit"]
    assert (audit["verdict"], audit["passed"], audit["intact"], audit["consistent"], audit["anchored"]) == \
        ("consistent_unanchored", True, False, True, False)
    assert "nothing in the chain shows an audit key; the exported anchors hold rows 1..11" in audit["anchoring"]
    first, flatten = doc["incidents"]  # the entry an hour before --since is not in the period
    assert (first["incident"], first["ended"]["how"], first["ended"]["to"]) == (L1, "escalated", 3)
    assert first["notifications"] == {"delivered": ["desk-chat"], "failed": [], "silenced": [], "handed": {}}
    assert flatten["stage"] == "flatten" and flatten["runbook"]["template"] == "flatten.md.j2"
    assert flatten["runbook"]["path"] == "/v1/runbooks/futures-book%2Fbinanceusdm%2Fmain%2FL3%2Fe2"
    assert {k: v for k, v in flatten["orders"].items() if k != "refused"} == {
        "total": 2, "filled": 1, "failed": 1, "open": 0, "planned_dry_run": 0}
    assert [a["approver"] for a in flatten["approvals"]] == ["alice", "bob"]
    assert flatten["ended"]["how"] == "reset" and flatten["ended"]["reason"].startswith("MANUAL_RESET")
    # the retry is not a failure
    assert flatten["notifications"] == {"delivered": ["audit-webhook"], "failed": ["pager"], "silenced": [],
                                        "handed": {}}
    s = doc["summary"]
    assert (s["incidents"], s["active"], s["transitions"], s["orders"], s["orders_failed"]) == (2, 0, 2, 2, 1)
    assert (s["notifications_delivered"], s["notifications_failed"], s["notifications_dropped"]) == (2, 1, 2)
    assert doc["other_events"] == {"sink_failed": 1}


def test_an_order_shows_the_venues_fee_and_the_pnl_it_realized_and_an_older_one_says_not_known(state):
    """Issue 81: the closure report showed what filled and at what price, not the fee nor the PnL."""
    args = ("--since", "2026-03-02T12:30Z", "--until", "2026-03-02T14:00Z", "--state", state, *head_anchor(state))
    doc = json.loads(run(*args, "-o", "json").stdout)
    filled, refused = doc["orders"]
    assert (filled["fees"], filled["realized_pnl"]) == ([[21.04, "USDT"]], pytest.approx(52_611.594 - 53_000.0))
    assert (refused["fees"], refused["realized_pnl"]) == (None, None)
    assert "| 1 | 52,611.594 | 52,611.59 | 21.04 USDT | -388.41 USDT |" in run(*args).stdout
    sql(state, ("UPDATE order_result SET fees = NULL, realized_pnl = NULL",))  # as a row journaled before them
    assert "| 1 | 52,611.594 | 52,611.59 | not known | not known |" in run(*args).stdout
    sql(state, ("UPDATE order_result SET fees = '[]' WHERE status = 'filled'",))  # a venue that reports no fee
    assert "| 52,611.59 | not reported | not known |" in run(*args).stdout


def test_markdown_and_html_say_the_same_for_a_person(state, tmp_path):
    anchor = head_anchor(state)
    out = run("--since", "2026-03-02", "--until", "2026-03-03", "--state", state, *anchor)
    assert out.exit_code == 0
    md = out.stdout
    assert md.startswith("# Kill-switch closure report: 2026-03-02T00:00:00Z to 2026-03-03T00:00:00Z")
    assert md.splitlines()[2].startswith("> Audit chain **consistent, UNANCHORED: truncation and wipes cannot be "
                                         "detected** (verified at ")
    assert "but rows cut off or rewritten after row 11 cannot be detected" in md
    assert "intact" not in md and "*unverified*" not in md
    assert f"### `{L3}`" in md and "- ended: reset at 2026-03-02T13:35:00Z" in md
    assert "reset approval 2026-03-02T13:35:00Z by **bob**: PnL booked <b>" in md
    assert "**failed** for pager" in md
    assert re.search(r"\| `ks-l3-1` \| .* \| rejected `RATE_LIMITED` \|", md)
    page = tmp_path / "report.html"
    out = run("--since", "2026-03-02", "--until", "2026-03-03", "--state", state, "-o", "html",
              "--out", str(page), *anchor)
    assert out.exit_code == 0 and out.stdout == "" and out.stderr.startswith(f"ksctl report: wrote {page} (")
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
    out = run("--since", "2026-03-03", "--until", "2026-03-04", "--state", state, *head_anchor(state))
    assert out.exit_code == 0 and "No stage was entered in the period." in out.stdout


# --- what the first line may say about the audit chain ----------------------------------------------


def test_with_the_key_the_report_says_intact_and_anchored_and_what_was_checked(keyed_state):
    out = CliRunner(env={"KS_AUDIT_KEY": KEY}).invoke(cli, ["report", "--since", "2026-03-02", "--state",
                                                             keyed_state])
    assert out.exit_code == 0, out.output
    first = out.stdout.splitlines()[2]
    assert first.startswith("> Audit chain **intact and anchored** (verified at ")
    assert f"anchored by HMAC from row 1, key id {AuditKey(KEY).key_id}" in first
    assert "12 row(s), seq 1..12 and the head (seq 12) checked" in first  # row 1: the key's adoption
    assert KEY not in out.output and out.stderr == ""


def test_without_the_key_an_anchored_chain_is_not_verifiable_and_exits_1(keyed_state):
    out = run("--since", "2026-03-02", "--state", keyed_state, "-o", "json")
    assert out.exit_code == 1
    audit = json.loads(out.stdout)["audit"]
    assert (audit["verdict"], audit["passed"], audit["intact"], audit["anchored"]) == \
        ("not_verifiable_without_key", False, False, False)
    assert "NOT checked: no audit key was given" in audit["anchoring"]
    out = run("--since", "2026-03-02", "--state", keyed_state)
    assert out.exit_code == 1 and out.stdout.splitlines()[2].startswith(
        "> Audit chain **NOT VERIFIABLE without the key** (verified at ")
    assert "intact" not in out.stdout
    assert out.stderr.startswith("ksctl report: AUDIT CHAIN NOT VERIFIABLE without the key: anchored by HMAC")


def test_a_forged_approval_after_the_head_makes_the_report_say_tampered_and_mark_it(state):
    forge_approval_after_head(state)
    out = run("--since", "2026-03-02", "--state", state)
    assert out.exit_code == 1
    lines = out.stdout.splitlines()
    assert lines[2].startswith("> **AUDIT CHAIN TAMPERED**: the first row that does not check is row 12 "
                               "(ROWS_PAST_HEAD: row 12 past the head (seq 11)")
    assert "1 of the period's 12 rows are from row 12 on and are marked *unverified*" in lines[2]
    assert "intact" not in lines[2]
    forged = [x for x in lines if "mallory" in x]
    assert forged and all("*unverified*" in x for x in forged), forged
    assert not [x for x in lines if "by **bob**" in x and "*unverified*" in x], "rows before it stay verified"
    assert "AUDIT CHAIN TAMPERED: first bad row 12: ROWS_PAST_HEAD" in out.stderr
    doc = json.loads(run("--since", "2026-03-02", "--state", state, "-o", "json").stdout)
    assert [r["verified"] for r in doc["resets"]] == [True, True, False]


def test_a_cut_tail_with_its_head_rewritten_is_caught_with_the_key_or_an_anchor(keyed_state, tmp_path):
    store = open_store(keyed_state, migrate=False)
    head = store.audit_head()
    store.close()
    log = tmp_path / "runner.log"
    log.write_text(f"ksctl run: mode DRY RUN\n{head.line()} at=2026-03-02T14:00:00Z anchored=hmac:{head.key_id}\n")
    sql(keyed_state, ("DELETE FROM audit_log WHERE seq >= 10",),
        ("UPDATE audit_head SET seq = 9, hash = (SELECT hash FROM audit_log WHERE seq = 9)",))
    keyed = CliRunner(env={"KS_AUDIT_KEY": KEY}).invoke(cli, ["report", "--since", "2026-03-02", "--state",
                                                               keyed_state])
    assert keyed.exit_code == 1 and "row 10 (HEAD_MAC_INVALID" in keyed.stdout.splitlines()[2]
    anchored = run("--since", "2026-03-02", "--state", keyed_state, "--anchors-from", str(log))
    assert anchored.exit_code == 1 and "row 10 (ANCHOR_ROW_MISSING: row 12 of the exported anchor" in \
        anchored.stdout.splitlines()[2]


def test_a_missing_head_is_reported_not_a_crash(state):
    sql(state, ("DELETE FROM audit_head",))
    out = run("--since", "2026-03-02", "--state", state)
    assert out.exit_code == 1, out.output
    assert "row 12 (HEAD_MISSING: the audit_head row is missing" in out.stdout.splitlines()[2]


@pytest.mark.parametrize("attack", ["truncated", "wiped"])
def test_an_unkeyed_trail_cut_or_wiped_is_never_reported_intact(state, attack):
    from killswitch.state.store import GENESIS_HASH

    if attack == "truncated":  # the last reset approval cut off, the head moved back
        sql(state, ("DELETE FROM audit_log WHERE seq >= 11",),
            ("UPDATE audit_head SET seq = 10, hash = (SELECT hash FROM audit_log WHERE seq = 10)",))
    else:
        sql(state, ("DELETE FROM audit_log",), ("UPDATE audit_head SET seq = 0, hash = ?", (GENESIS_HASH,)))
    out = run("--since", "2026-03-02", "--state", state)
    assert out.exit_code == 4, out.output  # nothing in the store shows it: the report says what it cannot tell
    assert out.stdout.splitlines()[2].startswith("> Audit chain **consistent, UNVERIFIED: neither the audit key nor "
                                                 "an exported anchor was given; a wiped or wholly rewritten chain "
                                                 "reads the same** (verified at ")
    assert "intact" not in out.stdout and "AUDIT CHAIN UNVERIFIED" in out.stderr


def test_a_trail_stripped_of_its_anchor_is_reported_tampered_with_or_without_anchors(keyed_state, tmp_path):
    store = open_store(keyed_state, migrate=False)
    head = store.audit_head()
    store.close()
    log = tmp_path / "runner.log"
    log.write_text(f"{head.line()} at=2026-03-02T14:00:00Z anchored=hmac:{head.key_id}\n")
    sql(keyed_state, ("UPDATE audit_log SET mac = NULL",),
        ("UPDATE audit_head SET mac = NULL, key_id = NULL, anchored_from = NULL",))
    for extra in ((), ("--anchors-from", str(log))):
        out = run("--since", "2026-03-02", "--state", keyed_state, *extra)
        assert out.exit_code == 1, out.output
        assert out.stdout.splitlines()[2].startswith("> **AUDIT CHAIN TAMPERED**: the first row that does not check "
                                                     "is row 1 (ANCHOR_STRIPPED: the head carries no anchor")
        assert "AUDIT CHAIN TAMPERED: first bad row 1: ANCHOR_STRIPPED" in out.stderr
    assert f"{log}:1)" in out.stdout


def test_an_audit_key_that_cannot_be_used_is_a_usage_error_that_never_shows_it(state, tmp_path):
    short = tmp_path / "key"
    short.write_text("sh0rt-s3cret\n")
    out = run("--since", "2026-03-02", "--state", state, "--audit-key-file", str(short))
    assert out.exit_code == 2 and "AUDIT_KEY_TOO_SHORT" in out.output and "sh0rt-s3cret" not in out.output
    out = run("--since", "2026-03-02", "--state", state, "--audit-key-file", str(tmp_path / "missing"))
    assert out.exit_code == 2 and "AUDIT_KEY_UNREADABLE: SECRET_FILE_MISSING: --audit-key-file" in out.output
    out = run("--since", "2026-03-02", "--state", state, "--anchor", "12:abc")
    assert out.exit_code == 2 and "BAD_ANCHOR" in out.output


def test_approvals_come_from_what_was_recorded_and_one_without_its_audit_row_is_marked(state):
    """A refused attempt is audited and not counted; an approval slipped into the approvals table
    behind the runner's back (no audit row) is listed, counted and marked as unproven."""
    store = open_store(state, migrate=False)
    store.audit("reset_approval", T0 + 36 * MIN, {"policy": "futures-book", "scope": "binanceusdm/main",
                                                  "level": 0, "approver": "carol", "reason": "again?",
                                                  "result": "NOT_ENGAGED: nothing to reset"})
    store.close()
    sql(state, ("INSERT INTO approval (scope_key, level, approver, reason, ts_ms) VALUES (?, ?, ?, ?, ?)",
                ("futures-book|binanceusdm/main|e2", 3, "mallory", "trust me", T0 + 34 * MIN)))
    doc = json.loads(run("--since", "2026-03-02", "--state", state, "-o", "json").stdout)
    assert (doc["summary"]["reset_approvals"], doc["summary"]["reset_attempts"]) == (3, 3)
    assert [(a["approver"], a["audited"], a["verified"]) for a in doc["approvals"]] == [
        ("alice", True, True), ("mallory", False, False), ("bob", True, True)]
    [flatten] = [i for i in doc["incidents"] if i["incident"] == L3]
    assert [a["approver"] for a in flatten["approvals"]] == ["alice", "mallory", "bob"]
    md = run("--since", "2026-03-02", "--state", state).stdout
    assert "| reset approvals | 3 recorded (3 reset attempt(s) audited) |" in md
    [line] = [x for x in md.splitlines() if x.startswith("- reset approval") and "mallory" in x]
    assert "*unverified: no audit row*" in line
    assert not [x for x in md.splitlines() if "carol" in x and x.startswith("- reset approval")]


def test_a_dry_run_incident_counts_every_planned_order_of_its_audit_rows_tables_and_single_rows(state):
    """A dry run's planned orders are audited as tables of intents (an earlier version wrote one
    intent a row): the report counts each intent under its incident (its re-plans included)."""
    from killswitch.orders import PLANNED_KIND, PLANNED_ONE_KIND, OrderIntent, planned_payloads

    def intent(decision: str, cid: str) -> OrderIntent:
        return OrderIntent(decision, cid, "binanceusdm", "main", "BTC/USDT:USDT", "sell", None, 1.0, True, 1.0, 1.0,
                           1, 1, T0, "close_all", "CLOSE_ALL")

    store = open_store(state)
    store.audit(PLANNED_ONE_KIND, T0 + 1, dict(vars(intent(L1, "ks-old"))))
    table = planned_payloads([intent(L1, "ks-a"), intent(L3, "ks-b"), intent(L1 + "/r1", "ks-c"),
                              intent("other-policy/x/L1/e1", "ks-d")])
    store.audit_many([(PLANNED_KIND, T0 + 5 * MIN + 2, doc) for doc in table])
    store.close()
    out = run("--since", "2026-03-02T12:30Z", "--until", "2026-03-02T14:00Z", "--state", state, "-o", "json",
              *head_anchor(state))
    assert out.exit_code == 0, out.output
    first, flatten = json.loads(out.stdout)["incidents"]
    assert first["orders"]["planned_dry_run"] == 3 and flatten["orders"]["planned_dry_run"] == 1
