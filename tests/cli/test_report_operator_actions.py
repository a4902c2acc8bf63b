"""``ksctl report``'s operator actions: a table of who locked, unlocked, closed, silenced,
acknowledged and changed the dead man's switch, with their reason or comment, time, outcome
and how long each held — derived from the rows after it in the audit chain and the journal,
never typed into the report."""

from __future__ import annotations

import json

from click.testing import CliRunner

from killswitch.cli.common import EXIT_UNVERIFIED
from killswitch.cli.main import cli
from killswitch.state import open_store
from killswitch.state.store import IntentRow

from .test_report_cli import L3, MIN, T0, write_trail

SCOPE, CLOSE_ID = "binanceusdm/main", f"manual/binanceusdm/main/m{T0 + 25 * MIN}"


def with_operator_actions(url: str) -> str:
    """The report test's trail, then what people did, audited as the runner audits it (``by``)."""
    write_trail(url)
    store = open_store(url)
    fence = store.acquire_lease("runner", 10 * MIN, T0)
    store.audit("manual_lock", T0 + MIN, {"scope": SCOPE, "mode": "halted", "ttl_s": 3600.0,
                                          "reason": "looks wrong", "by": "alice"})
    store.audit("dms_armed", T0 + 2 * MIN, {"source": "bot-a", "timeout_s": 300.0, "lock_released": False,
                                            "by": "carol"})
    store.audit("silence_added", T0 + 5 * MIN + 30_000, {
        "id": "3f2a9c1b7d40", "matchers": ['policy="futures-book"'], "duration_s": 7200.0,
        "comment": "alice has it", "by": "alice", "starts_ms": T0 + 5 * MIN + 30_000,
        "ends_ms": T0 + 125 * MIN + 30_000})
    store.audit("incident_acknowledged", T0 + 6 * MIN, {"incident": L3, "comment": "on it", "by": "alice"})
    store.audit("manual_unlock", T0 + 15 * MIN, {"scope": SCOPE, "reason": "too early", "by": "bob",
                                                 "refused": "POLICY_LOCK: held by stage 3"})
    store.audit("manual_unlock", T0 + 20 * MIN, {"scope": SCOPE, "reason": "checked", "by": "bob",
                                                 "lifted": ["operator"]})
    store.audit("manual_close_requested", T0 + 25 * MIN, {"scope": SCOPE, "reason": "drill", "id": CLOSE_ID,
                                                          "orders": 1, "by": "alice"})
    store.journal_intents(fence, [IntentRow("ks-m-0", CLOSE_ID, "binanceusdm", "main", "ETH/USDT:USDT", "sell", None,
                                            1.0, True, json.dumps({"client_order_id": "ks-m-0"}))],
                          ts_ms=T0 + 25 * MIN + 100)
    store.journal_result(fence, "ks-m-0", "filled", 1.0, None, None, None, ts_ms=T0 + 26 * MIN + 5_000)
    store.audit("silence_expired", T0 + 40 * MIN, {"id": "3f2a9c1b7d40", "matchers": ['policy="futures-book"'],
                                                   "author": "alice", "comment": "alice has it", "by": "bob"})
    store.audit("dms_armed", T0 + 45 * MIN, {"source": "bot-b", "timeout_s": 60.0, "by": "carol"})
    store.audit("dms_disarmed", T0 + 50 * MIN, {"source": "bot-a", "by": "carol"})
    store.audit("notification_silenced", T0 + 10 * MIN, {  # the sink's record of a page held back
        "receiver": "pager", "routes": "desk", "group_key": "desk:{}", "event_kinds": ["stage_transition"],
        "incidents": [L3], "severity": "critical", "silences": ["3f2a9c1b7d40"], "alerts": 1, "resolved": 0,
        "result": "silenced"})
    store.close()
    return url


def report(url: str, *extra: str):
    return CliRunner().invoke(cli, ["report", "--since", "2026-03-02T12:30Z", "--until", "2026-03-02T14:00Z",
                                    "--state", url, *extra])


def test_the_report_tables_every_operator_action_with_author_reason_time_and_duration(tmp_path):
    url = with_operator_actions(f"sqlite://{tmp_path / 'state.db'}")
    out = report(url, "-o", "json")
    assert out.exit_code == EXIT_UNVERIFIED, out.output  # an unkeyed chain: consistent, not proven
    doc = json.loads(out.stdout)
    rows = [(a["at"][11:19], a["action"], a["target"], a["by"], a["outcome"], a["duration_ms"], a["ended"])
            for a in doc["operator_actions"]]
    assert rows == [
        ("13:01:00", "lock", SCOPE, "alice", "done", 19 * MIN, "unlocked by bob"),  # before its 1h ttl
        ("13:02:00", "dms arm", "bot-a", "carol", "done", 48 * MIN, "disarmed by carol"),
        ("13:05:30", "silence", '3f2a9c1b7d40: policy="futures-book"', "alice", "done", 34 * MIN + 30_000,
         "expired by bob"),
        ("13:06:00", "ack", L3, "alice", "done", 29 * MIN, "the incident ended"),  # bob's reset at 13:35
        ("13:15:00", "unlock", SCOPE, "bob", "refused: POLICY_LOCK", None, None),
        ("13:20:00", "unlock", SCOPE, "bob", "done", None, None),
        ("13:25:00", "close", SCOPE, "alice", "done", 65_000, "its orders settled"),
        ("13:40:00", "silence expired", '3f2a9c1b7d40: policy="futures-book"', "bob", "done", None, None),
        ("13:45:00", "dms arm", "bot-b", "carol", "done", 15 * MIN, "in force at the period's end"),
        ("13:50:00", "dms disarm", "bot-a", "carol", "done", None, None),
    ]
    assert doc["summary"]["operator_actions"] == 10
    # a page the silence held back: in the notifications, and on its incident
    assert doc["summary"]["notifications_silenced"] == 1
    assert [i["notifications"]["silenced"] for i in doc["incidents"] if i["incident"] == L3] == [["pager"]]
    # a silence that ends after the period is not over in it
    short = json.loads(CliRunner().invoke(cli, ["report", "--since", "2026-03-02T12:30Z", "--until",
                                                "2026-03-02T13:30Z", "--state", url, "-o", "json"]).stdout)
    [silence] = [a for a in short["operator_actions"] if a["action"] == "silence"]
    assert (silence["duration_ms"], silence["ended"]) == (24 * MIN + 30_000, "in force at the period's end")
    assert "manual_lock" not in doc["other_events"] and doc["other_events"] == {"sink_failed": 1}
    md = report(url).output
    assert ("| 2026-03-02T13:10:00Z | silenced (by 3f2a9c1b7d40) | pager | stage_transition | - | silenced | - | - | "
            + L3 + " |") in md
    assert "; silenced for pager" in md and "2 dropped, 1 silenced |" in md
    assert "| operator actions | 10 (table below) |" in md
    assert ("| 2026-03-02T13:01:00Z | lock | binanceusdm/main | alice | halted, ttl 3600s: looks wrong | done | "
            "19m (unlocked by bob) |") in md
    assert ("| 2026-03-02T13:05:30Z | silence | 3f2a9c1b7d40: policy=\"futures-book\" | alice | alice has it | done | "
            "34m30s (expired by bob) |") in md
    assert "| bob | too early | refused: POLICY_LOCK | - |" in md
    # the manual close's order names its close, as ksctl history does, not "-"
    assert f"| `ks-m-0` | {CLOSE_ID} | binanceusdm/main |" in md, md
    assert "| carol | timeout 60.0s | done | 15m so far (in force at the period's end) |" in md


def test_a_revoke_its_restore_approvals_and_a_silence_extension_are_operator_actions(tmp_path):
    url = f"sqlite://{tmp_path / 'state.db'}"
    write_trail(url)
    store = open_store(url)
    store.acquire_lease("runner", 10 * MIN, T0)
    # a silence made from L3 (bob's reset ends it at 13:35), and one extended and untied from it
    store.audit("silence_added", T0 + 7 * MIN, {
        "id": "a1", "matchers": [f'incident="{L3}"'], "duration_s": 7200.0, "comment": "on it", "by": "alice",
        "incident": L3, "starts_ms": T0 + 7 * MIN, "ends_ms": T0 + 127 * MIN})
    store.audit("silence_added", T0 + 8 * MIN, {
        "id": "b2", "matchers": [f'incident="{L3}"'], "duration_s": 600.0, "comment": "b", "by": "bob",
        "incident": L3, "starts_ms": T0 + 8 * MIN, "ends_ms": T0 + 18 * MIN})
    store.audit("silence_changed", T0 + 9 * MIN, {
        "id": "b2", "matchers": [f'incident="{L3}"'], "by": "bob",
        "ends_ms": {"before": T0 + 18 * MIN, "after": T0 + 49 * MIN}, "comment": {"before": "b", "after": "b"},
        "ends_with_incident": {"before": True, "after": False}})
    store.audit("trading_revoke_requested", T0 + 10 * MIN, {"scope": SCOPE, "accounts": [SCOPE],
                                                            "reason": "bot ignores the halt", "approvals": 2,
                                                            "by": "alice"})
    store.audit("trading_restore_approval", T0 + 30 * MIN, {"scope": SCOPE, "reason": "fixed", "approver": "carol",
                                                            "holder": f"operator|{SCOPE}"})
    store.audit("trading_restore_approval", T0 + 31 * MIN, {"scope": SCOPE, "reason": "again", "approver": "carol",
                                                            "holder": f"operator|{SCOPE}",
                                                            "refused": "DUPLICATE_APPROVER: carol already approved"})
    store.audit("trading_restore_approval", T0 + 32 * MIN, {"scope": SCOPE, "reason": "ok", "approver": "dave",
                                                            "holder": f"operator|{SCOPE}"})
    store.close()
    doc = json.loads(report(url, "-o", "json").stdout)
    rows = [(a["at"][11:19], a["action"], a["by"], a["reason"], a["duration_ms"], a["ended"])
            for a in doc["operator_actions"]]
    assert rows == [
        ("13:07:00", "silence", "alice", "on it", 28 * MIN, f"ended with its incident {L3}"),
        ("13:08:00", "silence", "bob", "b", 41 * MIN, "ran its course"),  # extended, untied: not the incident's end
        ("13:09:00", "silence changed", "bob", "until 2026-03-02T13:49:00Z (was 2026-03-02T13:18:00Z); "
                                               "no longer ends with its incident", None, None),
        # held until the second distinct approver's approval lifted it (walk 9 of issue 65: it had none)
        ("13:10:00", "revoke", "alice", f"bot ignores the halt (accounts {SCOPE}); its restore needs 2 approver(s)",
         22 * MIN, "restored with the approval of carol, dave"),
        ("13:30:00", "restore approval", "carol", "fixed", None, None),
        ("13:31:00", "restore approval", "carol", "again", None, None),
        ("13:32:00", "restore approval", "dave", "ok", None, None),
    ], rows
    md = report(url).output
    assert "| 22m (restored with the approval of carol, dave) |" in md, md


def test_each_acknowledgement_lasts_until_the_incident_ended_when_another_person_acknowledges_too(tmp_path):
    """Both alice and bob have the incident once bob acknowledges it too: alice's
    acknowledgement is not ended by his (it is not a hand-over), each holds until bob's reset."""
    url = f"sqlite://{tmp_path / 'state.db'}"
    write_trail(url)
    store = open_store(url)
    store.acquire_lease("runner", 10 * MIN, T0)
    store.audit("incident_acknowledged", T0 + 6 * MIN, {"incident": L3, "comment": "checking the book", "by": "alice"})
    store.audit("incident_acknowledged", T0 + 7 * MIN, {"incident": L3, "comment": "bob too", "by": "bob"})
    store.close()
    doc = json.loads(report(url, "-o", "json").stdout)
    rows = [(a["at"][11:19], a["by"], a["duration_ms"], a["ended"]) for a in doc["operator_actions"]]
    assert rows == [("13:06:00", "alice", 29 * MIN, "the incident ended"),  # bob's reset at 13:35
                    ("13:07:00", "bob", 28 * MIN, "the incident ended")], rows
    md = report(url).output
    assert "| alice | checking the book | done | 29m (the incident ended) |" in md, md
    assert "handed to" not in md
