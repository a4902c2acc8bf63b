"""Silences that cannot miss or outlive: every value resolved against what the runner knows (did
you mean), a preview of what a silence would hold back now, a silence made from an incident that
matches it alone and ends with it, extensions and edits audited, a reset that lists (and on
request expires) what was made for its incident, and a silence on a scope with no open incident
flagged — against a live runner halted by a crash."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.face.api.api import make_app
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.face.console.silences_model import silence_row
from killswitch.render.silences import silence_line
from killswitch.render.times import iso
from killswitch.runner.lock.lock import iso_ms
from killswitch.silences import silencing
from tests.integration.runner.rig import api_served, drive, parts_of, setup, started

SCOPE = "simulated/sim-main"
INCIDENT = "crash-ladder/simulated/sim-main/L3/e3"
ALICE = "incident-silence-alice"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator", "approver"], "sha256": token_digest(ALICE)}]})


class Pages:
    """A sink holding pages in force, as the notification sink's groups do."""

    name = "pages"

    def __init__(self, pages):
        self.pages = pages
        self.events: list = []

    def on_tick(self, report, ctx) -> None:
        pass

    def on_event(self, event, ctx) -> None:
        self.events.append(event)

    async def aclose(self) -> None:
        pass

    def pages_in_force(self):
        return list(self.pages)


STAGE_PAGE = {"event": "stage_transition", "policy": "crash-ladder", "scope": SCOPE, "severity": "critical",
              "level": "3", "incident": INCIDENT, "venue": "simulated", "account": SCOPE}
OUTAGE_PAGE = {"event": "snapshot_failed", "scope": SCOPE, "severity": "warning", "venue": "simulated",
               "account": SCOPE, "reason": "EXCHANGE_DOWN"}


def _preview(desk, *args):
    return asyncio.run(desk.silence_preview(*args))


def halted(tmp_path, pages=()):
    runner, _, clock, store, _, desk = setup(tmp_path, sinks=[Pages(pages)])
    asyncio.run(started(runner, clock))
    assert desk.status().scopes[0].stage == 3
    return runner, clock, store, desk


def test_each_value_is_resolved_against_what_the_runner_knows_with_close_matches(tmp_path):
    runner, _, store, desk = halted(tmp_path)

    def add(*matchers):
        return asyncio.run(desk.silence_add(list(matchers), 3600, "on it", actor="alice"))

    got = add("venue=simulatd")
    assert got.reason.startswith("UNKNOWN_VENUE: 'simulatd' is not a venue of this runner; did you mean "
                                 "'simulated'?"), got.reason
    got = add("account=sim-main")  # the page's account is the key, venue/account
    assert got.reason.startswith("UNKNOWN_ACCOUNT: 'sim-main'") and "'simulated/sim-main'" in got.reason
    # a scope this runner knows, but not one of the policy's: it would silence nothing of it
    got = add("policy=crash-ladder", "scope=simulated")
    assert got.reason.startswith("UNKNOWN_SCOPE: 'simulated' is not a scope of policy crash-ladder; did you mean "
                                 "'simulated/sim-main'?"), got.reason
    got = add("incident=crash-ladder/simulated/sim-main/L3/e9")
    assert got.reason.startswith("UNKNOWN_INCIDENT") and INCIDENT in got.reason
    assert not any(r.done for r in (got,)) and desk.silences() == ()
    refused = [r.payload["refused"].split(":")[0] for r in store.audit_rows(kinds=["silence_added"])]
    assert refused == ["UNKNOWN_VENUE", "UNKNOWN_ACCOUNT", "UNKNOWN_SCOPE", "UNKNOWN_INCIDENT"]
    assert add("venue=simulated").done  # the venue's pages: known


def test_a_mistyped_severity_is_refused_before_it_silences_nothing(tmp_path):
    # the walk's slip (issue 65, walk 8 M1): "silence critical pages" typed severity=critcal
    runner, _, store, desk = halted(tmp_path, [(STAGE_PAGE, "pager")])
    p = _preview(desk, ["severity=critcal"])
    assert not p.ok and p.reason.startswith("UNKNOWN_SEVERITY: 'critcal' is not a severity a page carries; did you "
                                            "mean 'critical'?"), p.reason
    got = asyncio.run(desk.silence_add(["severity=critcal"], 3600, "on it", actor="alice"))
    assert not got.done and got.reason.startswith("UNKNOWN_SEVERITY") and desk.silences() == ()
    assert store.audit_rows(kinds=["silence_added"])[-1].payload["refused"].startswith("UNKNOWN_SEVERITY")
    got = asyncio.run(desk.silence_add(["severity=critical"], 3600, "on it", actor="alice", every_scope=True))
    assert got.done and "affects 1 open incident, 1 page; it spans EVERY scope" in got.reason, got.reason


def test_a_strategy_or_symbol_typo_is_refused_and_a_known_one_that_holds_nothing_says_so(tmp_path):
    runner, _, store, desk = halted(tmp_path)
    assert asyncio.run(desk.dms_arm("momentum-bot", 60, actor="alice")).done  # a strategy the runner watches
    p = _preview(desk, ["strategy=momentum-bt"])
    assert not p.ok and p.reason.startswith("UNKNOWN_STRATEGY: 'momentum-bt' is not a strategy this runner knows; "
                                            "did you mean 'momentum-bot'?"), p.reason
    p = _preview(desk, ["symbol=ETH/USDT:USD"])
    assert not p.ok and p.reason.startswith("UNKNOWN_SYMBOL: 'ETH/USDT:USD'") and "'ETH/USDT:USDT'" in p.reason
    got = asyncio.run(desk.silence_add(["strategy=momentum-bt"], 600, "bot restarting", actor="alice"))
    assert not got.done and desk.silences() == ()
    assert store.audit_rows(kinds=["silence_added"])[-1].payload["refused"].startswith("UNKNOWN_STRATEGY")
    # the empty match: known names that hold back nothing now say so before they are made
    p = _preview(desk, ["strategy=momentum-bot"])
    assert p.ok and p.summary == "affects 0 open incidents, 0 pages"
    p = _preview(desk, ["symbol=SOL/USDT:USDT"])
    assert p.ok and p.summary == "affects 0 open incidents, 0 pages"
    made = asyncio.run(desk.silence_add(["strategy=momentum-bot"], 600, "bot restarting", actor="alice"))
    later = "every page it matches from now on, a new incident's stage entry too"
    assert made.done and made.reason.endswith(f"; affects 0 open incidents, 0 pages; holds back: {later} (it "
                                              "matches no open incident now)"), made.reason
    # silence list and status flag it IDLE, and say the same of what it holds back (walk 8 of issue 65)
    [shown] = [x for x in desk.silences() if x.id == made.silence.id]
    assert shown.idle is not None and shown.idle.endswith(f": it holds back {later} (ksctl silence expire "
                                                          f"{made.silence.id})"), shown.idle


def test_a_preview_says_what_a_silence_would_hold_back_now(tmp_path):
    runner, _, _, desk = halted(tmp_path, pages=[(STAGE_PAGE, "pager"), (STAGE_PAGE, "desk-chat"),
                                           (OUTAGE_PAGE, "desk-chat")])
    p = _preview(desk, ["policy=crash-ladder", f"scope={SCOPE}"])
    assert p.ok and p.incidents == (INCIDENT,) and p.summary == "affects 1 open incident, 2 pages"
    assert p.already == ()  # no other silence holds its pages back
    assert sorted(h.receiver for h in p.pages) == ["desk-chat", "pager"]
    p = _preview(desk, [f"scope={SCOPE}", "receiver=pager"])
    assert p.summary == "affects 1 open incident, 1 page"
    p = _preview(desk, ["severity=info"])
    assert p.summary.startswith("affects 0 open incidents, 0 pages; it spans EVERY scope") and p.every_scope
    p = _preview(desk, ["venue=simulatd"])
    assert not p.ok and p.reason.startswith("UNKNOWN_VENUE")
    added = asyncio.run(desk.silence_add([f"scope={SCOPE}"], 600, "x", actor="alice"))
    assert added.reason.endswith("; affects 1 open incident, 3 pages; holds back: the pages of the 1 open incident "
                                 "it matches now, and the pages it matches that are not stage entries; pages "
                                 "through: a NEW incident's stage entry (another policy, an entry after a reset, "
                                 "an escalation; a cooldown re-run of a stage it holds is held)"), added.reason


def test_a_silence_made_from_an_incident_matches_it_alone_and_ends_with_it(tmp_path):
    runner, clock, store, desk = halted(tmp_path)
    parts = parts_of(runner)
    made = asyncio.run(desk.silence_add([], 7200, "flatten done", actor="alice", incident=INCIDENT))
    assert made.done, made.reason
    s = made.silence
    assert s.incident == INCIDENT and s.ends_with_incident and f'incident="{INCIDENT}"' in s.matchers
    in_force = desk.silencing.in_force()
    now = clock()
    assert silencing(STAGE_PAGE, in_force, now) == (s.id,)
    assert silencing(OUTAGE_PAGE, in_force, now) == ()  # a later, different page on the same scope pages
    reset_ms = clock()
    reset = asyncio.run(desk.reset("crash-ladder", SCOPE, "alice", "reviewed", confirm_relatch=True))
    assert reset.done, reset.reason
    [listed] = reset.silences
    assert listed.id == s.id and listed.state == "expired" and listed.expired_by == "incident ended"
    assert listed.ends_ms == reset_ms  # its real end, not the planned one two hours away
    assert desk.silencing.in_force() == ()
    # the sink holds back the incident's closing pages alone (its re-arm, its reset, its resolution)
    [closing] = parts.fanout.context.silences()
    re_arm = {**STAGE_PAGE, "level": "0", "from_level": "3", "severity": "critical"}
    later = {**STAGE_PAGE, "incident": "crash-ladder/simulated/sim-main/L3/e4"}
    assert silencing(re_arm, [closing], clock()) == (s.id,)
    assert silencing(later, [closing], clock()) == () and silencing(OUTAGE_PAGE, [closing], clock()) == ()
    [told] = [e for sink in parts.fanout.sinks if isinstance(sink, Pages) for e in sink.events if e.kind == "reset"]
    assert told.labels["incident"] == INCIDENT  # the reset's page names the incident: held back with it
    assert silencing({**told.labels, "receiver": "pager"}, [closing], clock()) == (s.id,)
    clock.advance(90_000)
    [shown] = desk.silences()
    assert shown.state == "expired" and shown.expired_by == "incident ended" and shown.ends_ms == reset_ms
    # walk 10 of issue 65 (M1): the list, the console and the store name the real end
    assert f"ended with its incident {INCIDENT} 1m30s ago ({iso(reset_ms)})" in silence_line(shown)
    row = silence_row(shown, clock())
    assert row["left"] == "ended with its incident 1m 30s ago" and "in " not in str(row["ends"]), row
    [stored] = [x for x in store.silences() if x.id == s.id]
    assert stored.expired_by == "incident ended" and stored.ended_ms == reset_ms
    again = asyncio.run(desk.silence_expire(s.id, actor="alice"))
    assert not again.done and again.reason.startswith(f"SILENCE_EXPIRED: {s.id} already ended") \
        and f"with its incident {INCIDENT}" in again.reason


def test_an_extended_silence_outlives_its_incident_and_the_reset_names_it(tmp_path):
    runner, clock, store, desk = halted(tmp_path)
    made = asyncio.run(desk.silence_add([], 3600, "flatten done", actor="alice", incident=INCIDENT))
    sid = made.silence.id
    longer = asyncio.run(desk.silence_change(sid, 4 * 3600, None, actor="bob"))
    assert longer.done and longer.silence.ends_with_incident is False
    assert longer.silence.ends_ms == clock() + 4 * 3_600_000
    assert longer.reason.startswith(f"SILENCE_CHANGED: {sid} ") and f"(no longer ends with {INCIDENT})" in longer.reason
    edited = asyncio.run(desk.silence_change(sid, None, "bob: handed to bob", actor="bob"))
    assert edited.done and edited.silence.comment == "handed to bob"
    rows = [r.payload for r in store.audit_rows(kinds=["silence_changed"])]
    assert [(r["by"], r["comment"]["after"]) for r in rows] == [("bob", "flatten done"), ("bob", "handed to bob")]
    assert rows[0]["ends_with_incident"] == {"before": True, "after": False}
    assert not asyncio.run(desk.silence_change("nope", 60, None, actor="bob")).done
    reset = asyncio.run(desk.reset("crash-ladder", SCOPE, "alice", "reviewed", confirm_relatch=True))
    [listed] = reset.silences
    assert listed.id == sid and listed.state == "active"
    # on a scope with no open incident now: flagged in the list and the status
    [shown] = desk.silences()
    assert shown.idle is not None and shown.idle.startswith(f'IDLE: no open incident matches incident="{INCIDENT}"')
    assert desk.status().silences_idle == (shown.idle,)


def test_the_last_reset_approvals_preview_names_the_silences_that_outlive_the_incident(tmp_path):
    """The preview of a reset (what the console's approval shows) names each silence holding
    back the incident's pages or the reset's own: one made from the incident ends with it, any
    other outlives it and is named with how to expire it; one that holds back neither is not said."""
    runner, clock, store, desk = halted(tmp_path)
    tied = asyncio.run(desk.silence_add([], 3600, "flatten done", actor="alice", incident=INCIDENT)).silence.id
    wide = asyncio.run(desk.silence_add(['policy="crash-ladder"', f'scope="{SCOPE}"'], 7200, "on it",
                                        actor="alice")).silence.id
    other = asyncio.run(desk.silence_add(['event="snapshot_failed"'], 3600, "venue flaky", actor="alice",
                                         every_scope=True)).silence.id
    p = desk.preview_reset("crash-ladder", SCOPE, "alice")
    assert p.allowed, p.reason
    said = [e for e in p.effects if e.startswith("silence ")]
    assert len(said) == 2 and not any(other in e for e in said), p.effects
    [ends] = [e for e in said if tied in e]
    assert ends.endswith("made from the incident, it ends with it"), ends
    [outlives] = [e for e in said if wide in e]
    assert "holds back the incident's pages and this reset's page; it OUTLIVES the incident (until " in outlives, \
        outlives
    assert outlives.endswith(f"ksctl silence expire --silence {wide}"), outlives


def test_the_cli_previews_adds_extends_edits_and_resets_with_expire_silences(tmp_path):
    runner, _, clock, store, _, desk = setup(tmp_path)
    with api_served(lambda: make_app(desk, tokens=PEOPLE), lambda: started(runner, clock)) as url:
        alice = CliRunner(env={"KS_API_TOKEN": ALICE})
        r = alice.invoke(cli, ["silence", "add", "--api", url, "--match", "policy=crash-ladder", "--duration", "1h",
                               "--reason", "x", "--dry-run"])
        assert r.exit_code == 0 and r.output == (f'policy="crash-ladder": affects 1 open incident, 0 pages\n'
                                                 "  in the last day its matchers match 0 pages (of 0 recorded in "
                                                 "the audit trail's notification receipts)\n"
                                                 f"  incident {INCIDENT}\n"), r.output
        assert desk.silences() == ()  # a dry run adds nothing
        r = alice.invoke(cli, ["silence", "add", "--api", url, "--match", "venue=simulatd", "--duration", "1h",
                               "--reason", "x", "--dry-run"])
        assert r.exit_code == 1 and "did you mean 'simulated'?" in r.output, r.output
        r = alice.invoke(cli, ["silence", "add", "--api", url, "--match", "symbol=BTC/USDT", "--duration", "1h",
                               "--reason", "x"])
        assert r.exit_code == 1 and "UNKNOWN_SYMBOL: 'BTC/USDT'" in r.output \
            and "did you mean 'BTC/USDT:USDT'" in r.output, r.output
        assert desk.silences() == ()
        r = alice.invoke(cli, ["silence", "add", "--api", url, "--incident", INCIDENT, "--duration", "1h",
                               "--reason", "alice: flatten done"])
        assert r.exit_code == 0, r.output
        sid = re.search(r"SILENCED: ([0-9a-f]{12}) ", r.output).group(1)
        assert f"or when {INCIDENT} ends by alice" in r.output
        # walk 10 of issue 65 (L2): the same incident silenced again is refused, naming the one in force
        r = alice.invoke(cli, ["silence", "add", "--api", url, "--incident", INCIDENT, "--duration", "2h",
                               "--reason", "again"])
        assert r.exit_code == 1 and re.search(
            rf"ALREADY_SILENCED: incident {INCIDENT}'s pages are held back by silence {sid} \(alice, until \S+Z, "
            rf"or when {INCIDENT} ends\); extend it with ksctl silence extend --silence {sid} --duration D",
            r.output), r.output
        ask = urllib.request.Request(url + "/v1/silences", method="POST", data=json.dumps(
            {"incident": INCIDENT, "duration_s": 600, "comment": "again"}).encode(),
            headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(ask, timeout=10)
        assert refused.value.code == 409
        assert json.loads(refused.value.read())["reason"].startswith("ALREADY_SILENCED: ")
        assert [x.id for x in desk.silences()] == [sid]
        # a preview of another silence names the one that holds back the incident's pages already
        r = alice.invoke(cli, ["silence", "add", "--api", url, "--match", "policy=crash-ladder", "--duration", "1h",
                               "--reason", "x", "--dry-run"])
        assert r.exit_code == 0 and re.search(
            rf"\n  already held back: {INCIDENT}: its pages are already held back by silence {sid} "
            rf'\(incident="{INCIDENT}", by alice, until \S+Z, or when {INCIDENT} ends\)\n', r.output), r.output
        r = alice.invoke(cli, ["silence", "extend", "--api", url, "--silence", sid, "--duration", "3h"])
        assert r.exit_code == 0 and r.output.startswith(f"SILENCE_CHANGED: {sid} "), r.output
        r = alice.invoke(cli, ["silence", "edit", "--api", url, "--silence", sid, "--reason", "checking residuals"])
        assert r.exit_code == 0 and "comment 'checking residuals'" in r.output
        r = alice.invoke(cli, ["silence", "list", "--api", url])
        assert "comment: checking residuals" in r.output and "alice: " not in r.output.split("comment:")[1]
        reset = ["reset", "--api", url, "--policy", "crash-ladder", "--scope", SCOPE, "--reason", "reviewed"]
        r = alice.invoke(cli, reset)  # a script without --yes: the console's preview, then nothing sent (exit 2)
        assert r.exit_code == 2 and r.output.startswith(f"PREVIEW reset crash-ladder {SCOPE}: "), r.output
        assert f"\n  Lock binding {SCOPE}: halted now, " in r.output and f"\n  silence {sid} (" in r.output, r.output
        assert f"ksctl reset: nothing was sent: a reset of crash-ladder {SCOPE} needs --yes" in r.output, r.output
        [s] = desk.silences()
        assert s.state != "expired"  # nothing was sent: the incident is open, its silence in force
        r = alice.invoke(cli, reset + ["--yes", "--expire-silences"])  # the same preview, then sent
        assert r.exit_code == 0 and r.output.startswith(f"PREVIEW reset crash-ladder {SCOPE}: "), r.output
        assert f"\n  silence {sid} (" in r.output, r.output
        assert f"SILENCE of the incident: {sid}  ACTIVE" in r.output
        assert re.search(rf"SILENCE_EXPIRED: {sid} .* by alice", r.output), r.output
        [s] = desk.silences()
        assert s.state == "expired" and s.expired_by == "alice"


def test_a_reset_preview_names_every_lock_that_still_binds_after_it(tmp_path):
    """The reset lifts its own stage's lock only: an operator's halt on the scope, and a lock on
    ``global``, still bind after it, and the preview says whose they are, not only the mode."""
    runner, clock, store, desk = halted(tmp_path)
    assert asyncio.run(desk.lock_scope(SCOPE, "halted", "bot-a rogue, halting", actor="alice")).done
    assert asyncio.run(desk.lock_scope("global", "reducing", "desk-wide drill", actor="bob")).done
    p = desk.preview_reset("crash-ladder", SCOPE, "alice")
    assert p.allowed and (p.lock_before, p.lock_after) == ("halted", "halted"), p
    still = [e for e in p.effects if e.startswith("after it, ")]
    assert still == [f"after it, {SCOPE} stays halted by operator alice until ksctl unlock: bot-a rogue, halting",
                     f"after it, {SCOPE} stays reducing by operator bob until ksctl unlock (via global): "
                     "desk-wide drill"], p.effects


def test_a_preview_names_the_silence_that_already_holds_back_an_incidents_pages(tmp_path):
    """Walk 8 of issue 65: the silence dialog's preview (the API's, the CLI's) said what a new
    silence would hold back, not that another silence held those pages back already."""
    runner, _, _, desk = halted(tmp_path)
    wide = asyncio.run(desk.silence_add([f"scope={SCOPE}"], 3600, "maintenance", actor="bob")).silence
    asyncio.run(desk.silence_add(['event="snapshot_failed"'], 3600, "venue flaky", actor="alice",
                                         every_scope=True))  # not its pages
    p = _preview(desk, ["policy=crash-ladder"])
    assert p.ok and p.incidents == (INCIDENT,), p
    end = re.escape(iso_ms(wide.ends_ms))
    [said] = p.already
    assert re.fullmatch(rf'{INCIDENT}: its pages are already held back by silence {wide.id} \(scope="{SCOPE}", '
                        rf"by bob, until {end}\)", said), said


def test_an_incident_silenced_again_with_the_same_matchers_is_refused_and_audited(tmp_path):
    """Walk 10 of issue 65 (L2): a second ``silence add --incident X`` went through although its
    preview said X's pages were held back already: one more silence to expire later. Refused
    (the preview too), audited as a refusal; other matchers still make a silence of their own."""
    runner, clock, store, desk = halted(tmp_path)
    first = asyncio.run(desk.silence_add([], 3600, "on it", actor="alice", incident=INCIDENT))
    assert first.done, first.reason
    sid = first.silence.id
    again = asyncio.run(desk.silence_add([], 7200, "me too", actor="bob", incident=INCIDENT))
    assert not again.done and again.reason == (
        f"ALREADY_SILENCED: incident {INCIDENT}'s pages are held back by silence {sid} (alice, until "
        f"{iso_ms(first.silence.ends_ms)}, or when {INCIDENT} ends); extend it with ksctl silence extend "
        f"--silence {sid} --duration D"), again.reason
    p = _preview(desk, [], INCIDENT)
    assert not p.ok and p.reason == again.reason
    [row] = [r for r in store.audit_rows(kinds=["silence_added"]) if r.payload.get("refused")]
    assert row.payload["by"] == "bob" and row.payload["refused"] == again.reason
    other = asyncio.run(desk.silence_add(["receiver=pager"], 600, "pager only", actor="bob", incident=INCIDENT))
    assert other.done, other.reason
    assert sorted(s.id for s in desk.silences()) == sorted([sid, other.silence.id])


def test_the_tick_that_ends_an_incident_records_the_end_of_its_silence(tmp_path):
    """An incident that ends without an operator's reset (it stepped back to stage 0 by itself, or
    escalated): the tick that saw it end records its silence's end, so the list, the console and
    a runbook read from the store name that moment, not the planned end."""
    runner, clock, store, desk = halted(tmp_path)
    parts = parts_of(runner)
    made = asyncio.run(desk.silence_add([], 7200, "on it", actor="alice", incident=INCIDENT))
    assert made.done, made.reason
    key = f"crash-ladder|{SCOPE}"
    stage = parts.book.state.scopes[key].stage
    stage.level, stage.entered_ms = 0, None  # as a stage that reset itself leaves it
    [report] = asyncio.run(drive(runner, clock, 1))
    assert report.leader
    [stored] = [x for x in store.silences() if x.id == made.silence.id]
    assert stored.expired_by == "incident ended" and stored.ended_ms == report.now_ms
    clock.advance(60_000)
    [shown] = [x for x in desk.silences() if x.id == made.silence.id]
    assert shown.state == "expired" and shown.ends_ms == report.now_ms
