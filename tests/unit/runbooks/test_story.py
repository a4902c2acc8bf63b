"""The runbook tells the incident's truth after its entry (issue 65): how it ended (reset, by
whom; removed by a reload), where its pages went and which a silence held back, its own lock
violations and revoke (:mod:`killswitch.runbooks.story`), and, of a flatten whose closes the
venue refused, each refused leg by name with the ``ksctl close-accept`` that accepts it."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from killswitch.facts.rejected import accept_command
from killswitch.facts.violations import violation_text
from killswitch.runbooks.incident import order_summary, residual_doc
from killswitch.runbooks.render import render_runbook
from killswitch.runbooks.sample import SAMPLE_TIME_MS, sample_incident
from killswitch.runbooks.story import incident_story
from killswitch.runbooks.templates import Templates
from killswitch.sources import read_sources
from tests.conftest import POLICIES, ROOT
from tests.unit.engine_helpers import compile_graph

T = SAMPLE_TIME_MS
MIN = 60_000


@pytest.fixture(scope="module")
def flatten_incident() -> dict:
    graph = compile_graph(read_sources([str(POLICIES)]).files)
    return sample_incident(graph.policy("futures-book"), 3, digest="sha256:" + "5e" * 32, revision=None)


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(ROOT / "runbooks")


def _row(seq: int, row_kind: str, ts_ms: int, **payload) -> SimpleNamespace:
    return SimpleNamespace(seq=seq, kind=row_kind, ts_ms=ts_ms, payload=payload)


def _trail(incident: str, policy: str, scope: str) -> list:
    account = scope
    return [
        _row(1, "stage_transition", T, policy=policy, scope=scope, **{"from": 2, "to": 3}, reason="ESCALATED",
             decision_id=incident),
        _row(2, "trading_revoked", T + 1_000, account=account, holds=[f"{policy}|{scope}"], keys={"trade": "k1"},
             read_back=True),
        _row(3, "notification_delivered", T + 2_000, receiver="desk-chat", incidents=[incident], final=True),
        _row(4, "notification_failed", T + 2_000, receiver="pager", incidents=[incident], final=True),
        _row(5, "notification_silenced", T + 3 * MIN, receiver="desk-chat", incidents=[incident],
             silences=["ed63b161733f"], event_kinds=["stage_transition"]),
        _row(6, "lock_violation", T + 4 * MIN, kind="LOCK_VIOLATION", scope=scope, mode="halted", account=account,
             symbol="BTC/USDT:USDT", side="buy", amount=0.5, notional=30_000.0, client_order_id="bot-a-7",
             order_id="8812", strategy="bot-a", action="cancel"),
        _row(7, "violation_cancel_result", T + 4 * MIN + 500, account=account, outcomes={"8812": "canceled"}),
        _row(8, "lock_violation", T + 4 * MIN, kind="LOCK_VIOLATION", scope="okx/other", account="okx/other",
             symbol="ETH/USDT:USDT", side="buy", amount=1.0, client_order_id="other-1", action="cancel"),
        _row(9, "policy_reloaded", T + 5 * MIN, removed=[{"policy": policy, "scope": scope, "stage": 3,
                                                          "dropped": False}]),
        _row(10, "reset_approval", T + 6 * MIN, policy=policy, scope=scope, level=3, approver="alice",
             result="APPROVAL_RECORDED: 1/2"),
        _row(11, "reset_approval", T + 7 * MIN, policy=policy, scope=scope, level=3, approver="bob",
             result="MANUAL_RESET: stage=3 approvers=alice,bob"),
        _row(12, "notification_delivered", T + 9 * MIN, receiver="after-the-end", incidents=[incident], final=True),
    ]


def _story(data: dict) -> dict:
    silence = SimpleNamespace(id="ed63b161733f", author="alice", comment="on it", ends_ms=T + 2 * 60 * MIN,
                              expired_by=None)
    return incident_story(data, _trail(data["incident"], data["policy"]["name"], data["scope"]), [silence], {},
                          T + 10 * MIN)


def test_the_story_says_how_it_ended_where_its_pages_went_and_what_broke_its_halt(flatten_incident):
    story = _story(flatten_incident)
    assert story["ended"]["how"] == "reset" and story["ended"]["by"] == ["alice", "bob"]
    assert story["ended"]["text"] == "reset by alice, bob at 2026-03-02T13:07:00Z"
    assert story["removed"] == {"at": "2026-03-02T13:05:00Z", "by": "reload"}
    pages = story["pages"]
    assert pages["delivered"] == ["desk-chat"] and pages["failed"] == ["pager"] and pages["silenced"] == ["desk-chat"]
    [s] = pages["silences"]
    assert (s["id"], s["by"], s["comment"], s["ends"], s["over"]) == (
        "ed63b161733f", "alice", "on it", "2026-03-02T15:00:00Z", False)
    [v] = story["halt_breaks"]["violations"]  # its own, not the other scope's
    assert (v["client_order_id"], v["outcome"], v["strategy"]) == ("bot-a-7", "canceled", "bot-a")
    [t] = story["halt_breaks"]["trading"]
    assert t["event"] == "revoked" and t["account"] == flatten_incident["scope"]


def _render(data: dict, templates: Templates) -> str:
    rb = render_runbook(data, templates)
    assert rb.template == "flatten.md.j2" and not rb.problems, rb.problems
    return rb.markdown


def test_an_ended_incident_says_so_and_no_longer_that_the_stage_holds(flatten_incident, templates):
    held = _render(flatten_incident, templates)
    assert "**LATCHED**" in held and "until the stage is reset" in held and "ENDED" not in held
    md = _render({**flatten_incident, "story": _story(flatten_incident)}, templates)
    head = md.split("| | |")[0]
    assert "> **ENDED**: reset by alice, bob at 2026-03-02T13:07:00Z." in head
    assert "> **REMOVED BY RELOAD** at 2026-03-02T13:05:00Z (kept until reset)" in head
    assert "**LATCHED**" not in md and "until the stage is reset" not in md
    assert "was **HALTED** by this incident from 2026-03-02T13:00:00Z until it ended (reset by alice, bob" in md
    assert "3. **Bots were locked out** (halted)" in md
    assert "This stage is **latched**" in held and "This stage is **latched**" not in md
    assert "This incident has ended (reset by alice, bob at 2026-03-02T13:07:00Z)" in md
    assert "4. Do **not** reset" in held and "4. Do **not** reset" not in md


def test_a_silence_that_held_back_its_pages_is_a_banner_under_the_title(flatten_incident, templates):
    md = _render({**flatten_incident, "story": _story(flatten_incident)}, templates)
    head = md.split("| | |")[0]
    assert ("> **PAGES SILENCED** by ed63b161733f (alice: on it), ends 2026-03-02T15:00:00Z: it held back this "
            "incident's pages to desk-chat") in head


def test_a_silence_made_after_the_entry_page_says_which_page_it_held_and_that_the_first_went_out(
        flatten_incident, templates):
    """Not only "it held back this incident's pages to desk-chat": the page it held (a later one,
    with its time) and that the incident's first page had gone out before it."""
    said = ("desk-chat's stage_transition page at 2026-03-02T13:03:00Z; this incident's first page had gone out "
            "at 2026-03-02T13:00:02Z (to desk-chat), before the silence held any")
    [s] = _story(flatten_incident)["pages"]["silences"]
    assert s["held_text"] == said and [h["receiver"] for h in s["held"]] == ["desk-chat"]
    md = _render({**flatten_incident, "story": _story(flatten_incident)}, templates)
    assert f"it held back this incident's pages to desk-chat: {said} (`ksctl silence list`)" in md.split("| | |")[0]
    builtin = render_runbook({**flatten_incident, "story": _story(flatten_incident)}, None).markdown
    assert f"it held back this incident's pages to desk-chat: {said} (`ksctl silence list`)" in builtin
    from killswitch.render.runbook import fallback_markdown  # the plain runbook, the last resort

    assert f"ends 2026-03-02T15:00:00Z: it held back {said}" in fallback_markdown(
        {**flatten_incident, "story": _story(flatten_incident)})


def test_the_checklist_says_where_the_pages_went_and_which_failed(flatten_incident, templates):
    before = _render(flatten_incident, templates)
    assert "- [ ] notifications delivered" in before  # nothing known of its pages yet: where to look
    md = _render({**flatten_incident, "story": _story(flatten_incident)}, templates)
    assert ("- [ ] notifications: this incident's pages went to desk-chat; **failed for pager**; held back by a "
            "silence for desk-chat (`ksctl report --since 2026-03-02") in md
    assert "tell the desk yourself" not in md and "after-the-end" not in md


def test_what_broke_the_halt_names_the_incidents_own_violations_and_revoke(flatten_incident, templates):
    md = _render({**flatten_incident, "story": _story(flatten_incident)}, templates)
    section = md.split("### What broke the halt")[1].split("## 5.")[0]
    assert "Lock violations on `binanceusdm/main` while this incident was open (1), as audited:" in section
    # each in the line ksctl status lists it in (killswitch/facts/violations.py)
    assert ("cancel binanceusdm/main BTC/USDT:USDT buy 0.5 (notional 30,000.00) strategy bot-a order bot-a-7"
            in section and ": canceled\n" in section), section
    assert "bots' keys **revoked** on binanceusdm/main (trade), read back: yes" in section
    assert "other-1" not in md


def test_each_violation_is_a_bullet_of_its_own(flatten_incident, templates):
    """Two violations: two bullets, not ``… cancel, canceled- 2026-… `LOCK_VIOLATION` …`` run together."""
    data = {**flatten_incident, "story": _story(flatten_incident)}
    [v] = data["story"]["halt_breaks"]["violations"]
    second = {**v, "text": violation_text({
        "ts_ms": T + 3 * MIN, "action": "revert", "account": v["account"], "symbol": v["symbol"], "side": "buy",
        "amount": 0.3, "client_order_id": "x-rogue-1", "strategy": "unknown", "mode": "halted", "scope": v["scope"],
        "revert_client_order_id": "ks-1", "outcome": "revert filled 0.3"})}
    data["story"] = {**data["story"], "halt_breaks": {**data["story"]["halt_breaks"], "violations": [v, second]}}
    section = _render(data, templates).split("### What broke the halt")[1].split("## 5.")[0]
    bullets = [line for line in section.splitlines() if line.startswith("- ") and " under halted " in line]
    assert len(bullets) == 2, section
    assert bullets[0].endswith(": canceled")
    assert bullets[1].endswith("order x-rogue-1 under halted binanceusdm/main: the runner's own revert sell ks-1: "
                               "revert filled 0.3"), bullets[1]


def _refused(data: dict) -> dict:
    """Five legs, each refused twice by the venue (CLOSE_REJECTED: not sent again)."""
    out = copy.deepcopy(data)
    template = out["actions"]["orders"][0]
    legs = [("BTC/USDT:USDT", "LONG", "sell"), ("BTC/USDT:USDT", "SHORT", "buy"), ("ETH/USDT:USDT", "LONG", "sell"),
            ("SOL/USDT:USDT", "SHORT", "buy"), ("XRP/USDT:USDT", "LONG", "sell")]
    out["actions"]["orders"] = [
        {**template, "client_order_id": f"ks-{i}-{n}", "symbol": sym, "position_side": ps, "side": side,
         "status": "rejected", "filled": 0.0, "code": "EXCHANGE_REJECTED",
         "detail": "-2022 ReduceOnly Order is rejected."}
        for i, (sym, ps, side) in enumerate(legs) for n in (1, 2)]
    out["actions"]["summary"] = order_summary(out["actions"]["orders"])
    out["residuals"] = [residual_doc("binanceusdm/hedge", sym, "long" if ps == "LONG" else "short", ps, 1.0,
                                     "CLOSE_REJECTED", "-2022 ReduceOnly Order is rejected.", T)
                        for sym, ps, _ in legs]
    return out


def test_refused_closes_are_counted_by_leg_said_not_sent_again_with_the_command_that_accepts_each(
        flatten_incident, templates):
    data = _refused(flatten_incident)
    assert data["actions"]["summary"]["orders"] == 10 and data["actions"]["summary"]["legs_unfilled"] == 5
    md = _render(data, templates)
    steps = md.split("## 1. What fired")[0]
    assert ("2. **5 positions not closed** (section 2: 10 close orders did not fill): 5 refused by the venue and "
            "**not sent again** (`CLOSE_REJECTED`") in steps
    assert "planned again at fresh prices" not in steps  # none of them is
    cmd = "ksctl close-accept --account binanceusdm/hedge --symbol SOL/USDT:USDT --leg SHORT " \
          "--reason \"<why it is accepted>\""
    assert cmd == accept_command("binanceusdm/hedge", "SOL/USDT:USDT", "SHORT")
    assert (f"     - binanceusdm/hedge SOL/USDT:USDT SHORT: refused by the venue (-2022 ReduceOnly Order is "
            f"rejected.), not sent again; once closed at the exchange, or to leave it open: `{cmd}`") in steps
    inspect = md.split("## 6. Inspect and reset")[1].split("## 7.")[0]
    assert "# accept a close the venue refused (CLOSE_REJECTED: not sent again)" in inspect
    assert sum(1 for line in inspect.splitlines() if line.startswith("ksctl close-accept ")) == 5
    assert cmd in inspect


def test_one_leg_refused_and_one_still_tried_say_which_is_which(flatten_incident, templates):
    data = _refused(flatten_incident)
    data["residuals"] = data["residuals"][:1]  # the others are still planned again
    md = _render(data, templates)
    assert "1 refused by the venue and **not sent again**" in md
    assert "For the other 4: a close that expired past its protected price" in md


def test_the_builtin_runbook_says_it_ended_was_removed_and_silenced_too(flatten_incident):
    """A runner without a runbooks directory (the chart's default) serves the built-in runbook: the
    repository's default.md.j2; the plain one, its last resort, says the same facts."""
    from killswitch.render.runbook import fallback_markdown

    data = {**_refused(flatten_incident), "story": _story(flatten_incident)}
    rb = render_runbook(data, None)
    assert rb.template == "builtin"
    for md in (rb.markdown, fallback_markdown(data)):
        assert "> **ENDED**: reset by alice, bob at 2026-03-02T13:07:00Z." in md
        assert "> **REMOVED BY RELOAD** at 2026-03-02T13:05:00Z (kept until reset)" in md
        assert "> **PAGES SILENCED** by ed63b161733f (alice: on it), ends 2026-03-02T15:00:00Z" in md
    assert ("Trading on `binanceusdm/main` was **HALTED** by this incident from 2026-03-02T13:00:00Z until it "
            "ended") in rb.markdown
    assert "| `CLOSE_REJECTED` -2022 ReduceOnly Order is rejected. |" in rb.markdown
    assert ("ksctl close-accept --account binanceusdm/hedge --symbol SOL/USDT:USDT --leg SHORT") in rb.markdown
    plain = fallback_markdown(data)
    assert "- LOCKED halted until the incident ended (at entry, 2026-03-02T13:00:00Z):" in plain
    assert ("`CLOSE_REJECTED` -2022 ReduceOnly Order is rejected.; not sent again: `ksctl close-accept --account "
            "binanceusdm/hedge --symbol SOL/USDT:USDT --leg SHORT") in plain


def test_the_runbook_sink_reads_the_audit_trail_for_news_only_while_an_incident_is_open():
    # the read is a store call on the tick's loop: at stage 0 everywhere it is not made, bar the
    # first tick under a lease (to catch up with what a stop left)
    from types import SimpleNamespace as NS

    from killswitch.runbooks.sink import RunbookSink

    reads: list[int] = []
    store = NS(audit_rows=lambda *a, **kw: reads.append(1) or [], runbooks=lambda **kw: [])
    ctx = NS(graph=NS(digest="sha256:x"), store=store, dry_run=False)

    def tick(now: int, level: int):
        ev = NS(scopes=(NS(stage_after=level),))
        return NS(now_ms=now, leader=True, execution=NS(deposed=False), evaluation=ev)

    sink = RunbookSink(None)
    for i in range(5):
        sink.on_tick(tick(1_000 * i, 0), ctx)
    assert len(reads) == 1  # the first tick's catch-up alone
    sink.on_tick(tick(6_000, 1), ctx)
    sink.on_tick(tick(7_000, 2), ctx)
    assert len(reads) == 3  # an incident is open: each tick reads what is new


@pytest.mark.parametrize("template", ["flatten.md.j2", "default.md.j2", None])
def test_an_ended_incident_offers_no_reset(flatten_incident, templates, template):
    """An ended incident's runbook keeps its commands to inspect, not its reset (walk 7's L1)."""
    reset = flatten_incident["commands"]["reset"]
    data = {**flatten_incident, "template": template or "flatten.md.j2"}
    held = render_runbook(data, templates if template else None).markdown
    assert reset in held
    md = render_runbook({**data, "story": _story(flatten_incident)}, templates if template else None).markdown
    assert reset not in md, md
    assert "# no reset: this incident has ended (reset by alice, bob at 2026-03-02T13:07:00Z)" in md
    if template == "default.md.j2":
        assert "before any reset" in held and "before any reset" not in md
        assert "This incident has ended (reset by alice, bob at 2026-03-02T13:07:00Z): nothing is left to reset" in md


def _tied_story(data: dict, silence) -> dict:
    return incident_story(data, _trail(data["incident"], data["policy"]["name"], data["scope"]), [silence], {},
                          T + 10 * MIN)


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "from-the-story"])
def test_a_silence_that_ended_with_its_incident_is_named_with_its_real_end(flatten_incident, templates, recorded):
    """Walk 10 of issue 65 (M1): made from the incident for 2 h, it ended with the incident's reset
    at 13:07; the runbook said it "ends" at its planned end, 2 h away. Its real end, whether the
    runner recorded it (``expired_by`` "incident ended" at ``updated_ms``) or only the story
    knows when the incident ended."""
    from killswitch.policy.matchers import LabelMatcher
    from killswitch.render.runbook import fallback_markdown
    from killswitch.silences import Silence

    incident = flatten_incident["incident"]
    s = Silence("ed63b161733f", (LabelMatcher.make("incident", "=", incident),), T + MIN, T + 2 * 60 * MIN,
                "alice", "on it", T + MIN, T + MIN, incident=incident, tied=True, incidents=(incident,))
    if recorded:
        s = s.ended_with(T + 7 * MIN)
    story = _tied_story(flatten_incident, s)
    [doc] = story["pages"]["silences"]
    assert (doc["ends"], doc["over"], doc["expired_by"]) == ("2026-03-02T13:07:00Z", True, "incident ended")
    said = ("> **PAGES WERE SILENCED** by ed63b161733f (alice: on it), until 2026-03-02T13:07:00Z, ended with the "
            "incident: it held back")
    data = {**flatten_incident, "story": story}
    assert said in _render(data, templates).split("| | |")[0]
    assert said in render_runbook(data, None).markdown
    assert said in fallback_markdown(data)
    assert "15:00:00Z" not in fallback_markdown(data)  # its planned end is not promised


def test_the_stage_actions_are_said_once_and_an_ended_incidents_ack_in_the_past(flatten_incident, templates):
    """Walk 12 of issue 65: L3 (section 2 said the stage's lock twice: `Stage actions: …` then a list
    item with the same words) and L7 (an ended incident's runbook said the person "has" it)."""
    ack = {"by": "alice", "at": "2026-03-02T13:01:00Z", "comment": "checking the book"}
    held = _render({**flatten_incident, "acknowledged": ack}, templates)
    done = held.split("## 2. What was done")[1].split("## 3.")[0]
    assert done.count("lock_trading mode=halted") == 1, done
    assert "Stage actions: " in done and "`lock_trading mode=halted`" in done.split("Stage actions: ")[1]
    assert ("> **ACKNOWLEDGED** by alice at 2026-03-02T13:01:00Z: checking the book (`ksctl ack`): this person has "
            "the incident.") in held
    ended = _render({**flatten_incident, "acknowledged": ack, "story": _story(flatten_incident)}, templates)
    assert ("> **ACKNOWLEDGED** by alice at 2026-03-02T13:01:00Z: checking the book (`ksctl ack`): this person had "
            "the incident.") in ended and "has the incident" not in ended
