"""The firm board's pure core (killswitch/firm/board.py) and the console's firm strip model
(killswitch/face/console/firm_strip.py): every shard heard or not and why — a board or facts
older than the firm's stale bound, no leader, a new leader not yet published, nothing published —
its incidents ordered, its lock, its console's URL (the Accounts document's first, the runner's
own second, a note when neither, never a URL that is not http(s)); the firm-wide breaker; a shard
not heard never shown calm, on the page and in the tab's title."""

from __future__ import annotations

import pytest

from killswitch.face.console.firm_strip import firm_alert, firm_strip, strip_of
from killswitch.firm.board import (
    FIRM_EVALUATING,
    FIRM_NOBODY,
    FIRM_VIEW_STALE,
    SHARD_LEADER_CHANGED,
    SHARD_LIVE,
    SHARD_NEVER_PUBLISHED,
    SHARD_NO_LEADER,
    SHARD_STALE,
    Board,
    FirmInputs,
    bound_ms,
    firm_board,
    web_url,
)
from killswitch.firm.facts import ShardLease
from killswitch.render.firm import board_text

NOW = 1_772_456_400_000
ASSIGN = {"desk-a": ["a1"], "desk-b": ["b1", "b2"]}
STALE_MS = 1_500  # a firm-wide policy every 1 s


def _incident(policy: str, level: int, since: int, acked: tuple[str, ...] = ()) -> dict:
    return {"id": f"{policy}/x/L{level}/e1", "policy": policy, "scope": "binanceusdm/a1", "level": level,
            "stage": "halt" if level == 1 else "flatten", "since_ms": since, "acked_by": list(acked),
            "manual": True, "approvals": 0, "needed": 2}


def _inputs(*, b_published: int = NOW - 200, b_fence: int = 7, b_lease_expires: int = NOW + 2_000,
            b_facts: int = NOW - 200, view_saved: int | None = NOW - 300, firm_holder: str | None = "a-0",
            a_console: str | None = None) -> FirmInputs:
    boards = [Board("desk-a", "a-0", 3, NOW - 100, 1.0,
                    (_incident("desk-guard", 1, NOW - 60_000, ("alice",)), _incident("desk-flat", 2, NOW - 5_000)),
                    0, {"mode": "halted", "scope": "binanceusdm/a1", "policy": "desk-guard", "holds": 2}, a_console),
              Board("desk-b", "b-0", b_fence, b_published, 1.0)]
    leases = {"desk-a": ShardLease("desk-a", "a-0", NOW + 2_000, 3),
              "desk-b": ShardLease("desk-b", "b-0" if b_lease_expires > NOW else None, b_lease_expires, 7)}
    view = {"holder": "a-0", "policies": [{"policy": "firm-breaker", "scope": "global", "stage": 0, "armed": True,
                                           "coverage": "ARMED", "blind_accounts": []}]}
    return FirmInputs(boards=boards, leases=leases, facts=[("desk-a", 3, NOW - 100), ("desk-b", 7, b_facts)],
                      runners=[("desk-a", "a-0", True, NOW - 100), ("desk-a", "a-1", False, NOW - 400)],
                      firm_holder=firm_holder, firm_token=4, view=view, view_saved_ms=view_saved)


def _row(doc: dict, shard: str) -> dict:
    return next(r for r in doc["shards"] if r["shard"] == shard)


def test_two_heard_shards_with_their_incidents_highest_first_their_lock_and_the_breaker():
    doc = firm_board(ASSIGN, _inputs(), NOW, asked="desk-a", firm_stale_ms=STALE_MS,
                     consoles={"desk-a": "https://desk-a.ks.example/"})
    a, b = _row(doc, "desk-a"), _row(doc, "desk-b")
    assert (a["state"], a["reachable"], a["this"], b["state"], b["this"]) == (SHARD_LIVE, True, True, SHARD_LIVE, False)
    assert [i["policy"] for i in a["incidents"]] == ["desk-flat", "desk-guard"] and a["level"] == 2
    assert a["lock"]["mode"] == "halted" and a["standby"] == ["a-1"] and a["leader"] == "a-0"
    assert a["heard_age_s"] == 0.1 and b["facts_age_s"] == 0.2
    assert a["console_url"] == "https://desk-a.ks.example/" and a["console_note"] is None
    assert b["console_url"] is None and "spec.shards[].console" in b["console_note"]
    assert doc["firm"]["state"] == FIRM_EVALUATING and doc["firm"]["policies"][0]["stage"] == 0
    assert doc["summary"]["line"] == ("2 shards: all heard; 2 open incidents; locked: desk-a; firm breaker stage 0")


def test_a_shard_whose_board_is_older_than_the_stale_bound_is_not_heard_and_never_calm():
    doc = firm_board(ASSIGN, _inputs(b_published=NOW - 12_300, b_facts=NOW - 12_300), NOW, asked="desk-a",
                     firm_stale_ms=STALE_MS)
    b = _row(doc, "desk-b")
    assert (b["state"], b["reachable"]) == (SHARD_STALE, False)
    assert b["why"] == "shard desk-b was last heard 12.3s ago (bound 1.5s)"
    assert doc["summary"]["unreachable"] == ["desk-b"]
    assert doc["summary"]["line"].startswith("2 shards: 1 UNREACHABLE (desk-b); 2 open incidents known")
    # the same board 1.4 s old is heard: the bound, not any age, decides
    assert _row(firm_board(ASSIGN, _inputs(b_published=NOW - 1_400, b_facts=NOW - 1_400), NOW, asked="desk-a",
                           firm_stale_ms=STALE_MS), "desk-b")["reachable"]


def test_shards_come_worst_first_not_heard_then_the_highest_stage_then_by_name():
    names = lambda doc: [r["shard"] for r in doc["shards"]]  # noqa: E731
    four = {**ASSIGN, "desk-c": ["c1"], "aaa": ["z1"]}  # desk-c and aaa never published
    assert names(firm_board(four, _inputs(), NOW, asked="desk-a", firm_stale_ms=STALE_MS)) == [
        "aaa", "desk-c", "desk-a", "desk-b"]  # not heard by name, then desk-a's stage 2 above desk-b, calm
    stale_b = _inputs(b_published=NOW - 12_300, b_facts=NOW - 12_300)
    assert names(firm_board(ASSIGN, stale_b, NOW, asked="desk-a", firm_stale_ms=STALE_MS)) == ["desk-b", "desk-a"]


def test_fresh_board_but_facts_older_than_the_bound_is_stale_too():
    b = _row(firm_board(ASSIGN, _inputs(b_facts=NOW - 4_000), NOW, asked="desk-a", firm_stale_ms=STALE_MS), "desk-b")
    assert (b["state"], b["why"]) == (SHARD_STALE, "shard desk-b's facts are 4.0s old (bound 1.5s)")


@pytest.mark.parametrize("kw, state, says", [
    ({"b_lease_expires": NOW - 2_500}, SHARD_NO_LEADER, "nobody holds shard desk-b's lease (it lapsed 2.5s ago)"),
    ({"b_fence": 6}, SHARD_LEADER_CHANGED, "its new leader b-0 (token 7) has not published yet"),
])
def test_no_leader_or_a_new_leader_not_yet_published_is_not_heard(kw, state, says):
    b = _row(firm_board(ASSIGN, _inputs(**kw), NOW, asked="desk-a", firm_stale_ms=STALE_MS), "desk-b")
    assert (b["state"], b["reachable"]) == (state, False) and says in b["why"]


def test_a_shard_that_never_published_is_not_heard():
    inputs = _inputs()
    inputs.boards = [x for x in inputs.boards if x.shard != "desk-b"]
    b = _row(firm_board(ASSIGN, inputs, NOW, asked="desk-a", firm_stale_ms=STALE_MS), "desk-b")
    assert (b["state"], b["heard_ms"], b["incidents"]) == (SHARD_NEVER_PUBLISHED, None, [])


def test_without_firm_wide_policies_the_bound_is_the_shards_own_pace():
    assert bound_ms(None, Board("desk-b", "b-0", 1, NOW, 5.0)) == 7_500 and bound_ms(2_000, None) == 2_000
    inputs = _inputs(b_published=NOW - 5_000, b_facts=NOW - 5_000)
    b = _row(firm_board(ASSIGN, inputs, NOW, asked="desk-a", firm_stale_ms=None), "desk-b")
    assert (b["state"], b["bound_s"]) == (SHARD_STALE, 1.5)  # its 1 s pace
    inputs.boards = [x if x.shard != "desk-b" else Board("desk-b", "b-0", 7, NOW - 5_000, 5.0) for x in inputs.boards]
    b = _row(firm_board(ASSIGN, inputs, NOW, asked="desk-a", firm_stale_ms=None), "desk-b")
    assert (b["state"], b["bound_s"]) == (SHARD_LIVE, 7.5)  # its 5 s pace


def test_the_console_url_is_the_documents_then_the_runners_own_and_only_http():
    doc = firm_board(ASSIGN, _inputs(a_console="http://10.0.0.5:8080/"), NOW, asked="desk-b", firm_stale_ms=STALE_MS)
    assert _row(doc, "desk-a")["console_url"] == "http://10.0.0.5:8080/"
    doc = firm_board(ASSIGN, _inputs(a_console="http://10.0.0.5:8080/"), NOW, asked="desk-b", firm_stale_ms=STALE_MS,
                     consoles={"desk-a": "https://desk-a.example/"})
    assert _row(doc, "desk-a")["console_url"] == "https://desk-a.example/"
    for bad in ("javascript:alert(1)", "https://user:pw@desk-a.example/", "ftp://x/", "https://", "http://a b/"):
        assert web_url(bad) is None, bad
    doc = firm_board(ASSIGN, _inputs(a_console="javascript:alert(1)"), NOW, asked="desk-b", firm_stale_ms=STALE_MS)
    assert _row(doc, "desk-a")["console_url"] is None and _row(doc, "desk-a")["console_note"]


@pytest.mark.parametrize("kw, state, says", [
    ({"firm_holder": None}, FIRM_NOBODY, "no runner holds the firm lease"),
    ({"view_saved": NOW - 9_000}, FIRM_VIEW_STALE, "a-0 holds the firm lease but has not evaluated for 9.0s"),
    ({"view_saved": None}, FIRM_VIEW_STALE, "saved no evaluation yet"),
])
def test_the_breaker_unheld_or_not_evaluating_says_so(kw, state, says):
    doc = firm_board(ASSIGN, _inputs(**kw), NOW, asked="desk-a", firm_stale_ms=STALE_MS)
    assert doc["firm"]["state"] == state and says in doc["firm"]["why"]
    assert f"firm breaker {state}" in doc["summary"]["line"]


def _when(ms):
    return None if ms is None else {"ms": ms, "iso": "x", "clock": "12:00:00", "ago": f"{(NOW - ms) // 1000}s ago"}


def test_the_strip_shows_a_stale_shard_first_as_not_heard_and_the_tab_says_so_when_this_book_is_calm():
    doc = firm_board(ASSIGN, _inputs(b_published=NOW - 12_300, b_facts=NOW - 12_300), NOW, asked="desk-a",
                     firm_stale_ms=STALE_MS)
    strip = firm_strip(doc, _when)
    b = next(r for r in strip["shards"] if r["shard"] == "desk-b")
    assert (b["words"], b["tone"], b["known"]) == ("NOT HEARD (stale)", "down", 0) and strip["down"] == ["desk-b"]
    calm = {"state": "ok", "level": 0, "title": "", "entries": []}
    assert firm_alert(calm, strip)["title"] == "SHARD desk-b NOT HEARD"
    staged = {"state": "stage", "level": 1, "title": "STAGE 1", "entries": []}
    assert firm_alert(staged, strip) is staged  # this runner's own stage speaks first
    heard = firm_strip(firm_board(ASSIGN, _inputs(), NOW, asked="desk-b", firm_stale_ms=STALE_MS), _when)
    assert firm_alert(calm, heard)["title"] == "FIRM STAGE 2"  # desk-a's stage 2, seen from desk-b
    assert strip_of({"error": "FIRM_NOT_SHARDED"}, _when) is None
    unread = strip_of({"error": "FIRM_STATE_UNREACHABLE", "reason": "FIRM_STATE_UNREACHABLE: down"}, _when)
    assert unread is not None and unread["error"] and firm_alert(calm, unread)["title"] == "FIRM UNREAD"


def test_board_text_names_the_shard_not_heard_and_why():
    doc = firm_board(ASSIGN, _inputs(b_published=NOW - 12_300, b_facts=NOW - 12_300), NOW, asked="desk-a",
                     firm_stale_ms=STALE_MS)
    text = board_text(doc)
    assert "desk-b         NOT HEARD" in text
    assert "SHARD_STALE: shard desk-b was last heard 12.3s ago (bound 1.5s)" in text
    assert "desk-flat stage 2 flatten on binanceusdm/a1, not acknowledged" in text
    assert "desk-guard stage 1 halt on binanceusdm/a1, acknowledged by alice" in text
    assert "firm breaker: FIRM_EVALUATING (held by a-0)" in text


def _accounts(console: str) -> str:
    return ("apiVersion: killswitch/v1\nkind: Accounts\nmetadata: {name: firm}\nspec:\n  shards:\n"
            f"    - {{name: desk-a, accounts: {{match_labels: {{desk: a}}}}, console: \"{console}\"}}\n"
            "    - {name: desk-b, accounts: {match_labels: {desk: b}}}\n  accounts:\n"
            "    - {name: a1, venue: binanceusdm, market_type: futures, labels: {desk: a},\n"
            "       credentials: {api_key: {env: K}, secret: {env: S}}}\n"
            "    - {name: b1, venue: binanceusdm, market_type: futures, labels: {desk: b},\n"
            "       credentials: {api_key: {env: K}, secret: {env: S}}}\n")


def test_a_shards_console_url_in_the_accounts_document_reaches_the_shards_start_and_credentials_are_refused():
    from killswitch.policy.accounts_doc import Accounts
    from killswitch.policy.load import load_text
    from killswitch.process.shard import shard_start

    got = load_text(_accounts("https://ks-desk-a.example/"), "accounts.yaml")
    assert not got.diagnostics, [d.message for d in got.diagnostics]
    spec = next(d.model for d in got.docs if isinstance(d.model, Accounts)).spec
    assert shard_start("desk-b", spec, "postgresql://firm").consoles == {"desk-a": "https://ks-desk-a.example/"}
    for bad in ("https://alice:secret@ks-desk-a.example/", "javascript:alert(1)", "ks-desk-a.example"):
        refused = load_text(_accounts(bad), "accounts.yaml")
        [diag] = refused.diagnostics
        assert diag.message.startswith("shards[0].console: a console URL ") and "secret" not in diag.message, bad
    [diag] = load_text(_accounts("https://a:secret@x.example/"), "a.yaml").diagnostics
    assert "carries no credentials" in diag.message


def test_every_shard_not_heard_has_one_name_with_why_after_it():
    from killswitch.face.console.firm_strip import STATE_WORDS

    assert all(w.startswith("NOT HEARD") for state, w in STATE_WORDS.items() if state != "SHARD_LIVE")
