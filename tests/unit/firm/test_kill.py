"""The firm-wide kill on one shard, by a real runner on the simulated exchange (the firm's
store's calls in memory): the kill locks halted under the firm hold, cancels the resting
entry order and leaves the reduce-only one, names the account whose keys are out of reach and
reports it done; an operator's unlock cannot lift it, and one of ``global`` sent to a shard is
refused up front naming the release (issue 81), never written for every shard to refuse in its
log; a directive taken up twice (the runner
stopped between the lock's audit row and its save, the directive never marked applied) acts
once — one audit row, one hold; a shard that was down when the kill was written takes it up
when it starts, and so does a shard running for the first time; the release lifts the hold.
And the pure parts: the preview's text with a shard not heard, the progress and its times."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from killswitch.firm.directives import KILL, KILL_RELEASE, Directive, locks_in_force
from killswitch.firm.kill import KILL_HOLD, KillReport, kill_preview, kill_progress
from killswitch.firmlink.apply import DirectiveApplier
from killswitch.policy.accounts_doc import Account
from killswitch.process.bootstrap import shard_ports
from killswitch.render.firm_kill import preview_text, progress_text
from tests.unit.firm.test_firm import T0, FakeFirm

OTHER = "binanceusdm/b1"


class KillFirm(FakeFirm):
    """:class:`FakeFirm` with the kill's tables."""

    def __init__(self, directives, written_before: int = 0):
        super().__init__(directives, written_before)
        self.reports: dict[tuple[int, str], KillReport] = {}

    def report_kill(self, schema, fence, reports):
        for r in reports:
            old = self.reports.get((r.directive_id, r.account))
            if old is not None:  # the first time each step was reached is kept (as the table's COALESCE)
                r = KillReport(r.directive_id, r.shard, r.account, old.locked_ms or r.locked_ms,
                               old.resting_ms or r.resting_ms, old.revoked_ms or r.revoked_ms, r.resting, r.revoke,
                               old.out_of_reach or r.out_of_reach, old.released_ms or r.released_ms, r.ts_ms)
            self.reports[(r.directive_id, r.account)] = r
        return len(reports)

    def kill_reports(self, did, shard=None):
        return [r for (d, _), r in sorted(self.reports.items()) if d == did and (shard is None or r.shard == shard)]

    def kills(self):
        kills = [d for d in self.directives if d.kind == KILL]
        if not kills:
            return None, None
        kill = kills[-1]
        return kill, next((d for d in self.directives if d.kind == KILL_RELEASE and d.id > kill.id), None)


def _kill(did: int = 1, accounts=None) -> Directive:
    from tests.unit.runner.operator.rig import ACCOUNT

    return Directive(KILL, "global", {"accounts": accounts or [ACCOUNT, OTHER], "reason": "runaway bots",
                                      "source": "operator"}, None, "alice", did, T0)


def _applier(w, firm, echoed):
    return DirectiveApplier(shard_ports(w.parts), firm, "desk-a", "ks_shard_desk_a", w.clock, echoed.append,
                            echoed.append)


def _firm_lock_rows(w, did: int) -> int:
    import json
    import sqlite3

    db = sqlite3.connect(w.db)
    try:
        rows = db.execute("SELECT payload FROM audit_log WHERE kind = 'firm_lock'").fetchall()
    finally:
        db.close()
    return sum(1 for (p,) in rows if json.loads(p).get("directive") == did)


def test_a_kill_locks_halted_cancels_the_entries_names_the_keys_out_of_reach_and_reports_done(tmp_path):
    from tests.unit.runner.operator.rig import ACCOUNT, make, open_client_ids, resting_order

    w = make(tmp_path)
    firm = KillFirm([_kill()])
    echoed: list[str] = []
    applier = _applier(w, firm, echoed)
    seen = {}

    async def go():
        await w.runner.start()
        await w.runner.tick()
        resting_order(w, "bot-a-1")
        w.engine.place_order("sim-main", "ETHUSDT", "SELL", "LIMIT", 0.01, 9_000.0, time_in_force="GTC",
                             client_order_id="bot-a-tp", reduce_only=True)
        seen["applied"] = await applier.apply_new()
        seen["unlock"] = await w.desk.unlock_scope("global", "try")

    asyncio.run(asyncio.wait_for(go(), 30))
    assert seen["applied"] == 1
    holds = [(h.scope, h.policy, h.mode, h.manual) for h in w.parts.book.lock_book.holds]
    assert holds == [("global", KILL_HOLD, "halted", True)]
    assert not seen["unlock"].done  # an operator's unlock of one shard cannot lift the firm's kill
    # and says so: the kill's release ends it, not a reset of a "stage None" of a policy firm:kill
    assert seen["unlock"].reason.startswith("KILL_IN_FORCE: global is halted by firm-wide kill 1 (firm:kill); "
                                            "ksctl unlock does not end a firm kill: ksctl kill --firm --release"), \
        seen["unlock"].reason
    assert "bot-a-1" not in open_client_ids(w) and "bot-a-tp" in open_client_ids(w)
    [r] = firm.kill_reports(1)
    assert r.account == ACCOUNT and r.shard == "desk-a"  # the other shard's account is not this shard's
    assert r.states() == ["locked", "nothing resting", "out of reach"] and r.done
    assert r.revoke.startswith("OUT_OF_REACH")
    assert firm.outcomes[1].startswith(f"KILLED: 1 account(s) locked halted (global); {ACCOUNT}: locked, "
                                       "nothing resting, out of reach")
    assert _firm_lock_rows(w, 1) == 1
    w.store.close()


def test_a_kill_taken_up_again_after_a_stop_between_its_audit_row_and_its_save_acts_once(tmp_path):
    from tests.unit.runner.operator.rig import make

    w = make(tmp_path)
    firm = KillFirm([_kill()])
    applier = _applier(w, firm, [])
    persist = w.parts.commands.persist
    real_save = persist.save

    async def crash(*a, **k):
        raise RuntimeError("the runner stopped here")

    async def go():
        await w.runner.start()
        persist.save = crash
        try:
            await applier.apply_new()
        except RuntimeError:
            pass

    asyncio.run(asyncio.wait_for(go(), 30))
    assert firm.claims == {1: "claimed"} and _firm_lock_rows(w, 1) == 1  # the row, and no save after it
    persist.save = real_save
    w.store.close()
    # the runner starts again over the same store: the lock was never saved; the claim is unfinished
    w2 = make(tmp_path)
    assert not w2.parts.book.lock_book.holds
    applier2 = _applier(w2, firm, [])

    async def again():
        await w2.runner.start()
        return await applier2.apply_new(), await applier2.apply_new()

    assert asyncio.run(asyncio.wait_for(again(), 30)) == (1, 0)
    holds = [(h.scope, h.policy) for h in w2.parts.book.lock_book.holds]
    assert holds == [("global", KILL_HOLD)]
    assert _firm_lock_rows(w2, 1) == 1  # audited once
    assert firm.claims == {1: "applied"}
    w2.store.close()


def test_a_shard_down_when_the_kill_was_written_takes_it_up_when_it_starts(tmp_path):
    from tests.unit.runner.operator.rig import make

    # the shard ran before (its watermark is 0); the kill (1) was written while it was down
    w = make(tmp_path)
    firm = KillFirm([_kill()], written_before=0)
    applier = _applier(w, firm, [])

    async def go():
        await w.runner.start()
        await applier.start()
        return await applier.apply_new()

    assert asyncio.run(asyncio.wait_for(go(), 30)) == 1
    assert [h.policy for h in w.parts.book.lock_book.holds] == [KILL_HOLD]
    assert firm.kill_reports(1)[0].done
    w.store.close()


def test_a_shard_running_for_the_first_time_during_a_kill_starts_killed_and_the_release_lifts_it(tmp_path):
    from tests.unit.runner.operator.rig import ACCOUNT, make

    w = make(tmp_path)
    # written before it was a shard, by a writer that did not know its account
    firm = KillFirm([_kill(accounts=[OTHER])], written_before=1)
    echoed: list[str] = []
    applier = _applier(w, firm, echoed)

    async def go():
        await w.runner.start()
        await applier.start()
        first = await applier.apply_new()
        firm.directives.append(Directive(KILL_RELEASE, "global", {"kill": 1, "accounts": [OTHER],
                                                                  "approvers": ["bob", "carol"], "reason": "fixed"},
                                         None, "carol", 2, T0 + 1))
        seen["killed"] = [h.policy for h in w.parts.book.lock_book.holds]
        return first, await applier.apply_new()

    seen: dict = {}
    assert asyncio.run(asyncio.wait_for(go(), 30)) == (1, 1)
    assert seen["killed"] == [KILL_HOLD]
    assert not w.parts.book.lock_book.holds  # released
    assert any("in force at the shard's first run" in e for e in echoed), echoed
    assert firm.outcomes[2].startswith("RELEASED: global: UNLOCKED (firm:kill)")
    assert firm.kill_reports(1)[0].account == ACCOUNT
    w.store.close()


class RoutedFirm(KillFirm):
    """:class:`KillFirm` taking an operator's firm-wide directive (recorded, never applied)."""

    def __init__(self, directives):
        super().__init__(directives)
        self.sent: list[Directive] = []

    def send_directive(self, shard, schema, fence, d, now):
        self.sent.append(d)
        return 100 + len(self.sent)


def test_an_unlock_of_global_during_a_firm_kill_is_refused_up_front_naming_the_release(tmp_path):
    from killswitch.firmlink.firm import FirmLink
    from tests.unit.runner.operator.rig import audit_kinds, make

    w = make(tmp_path)
    firm = RoutedFirm([_kill()])
    declared = [Account.model_validate({"name": "sim-main", "venue": "simulated", "market_type": "futures"}),
                DECLARED[1]]
    start = SimpleNamespace(name="desk-a", schema="ks_shard_desk_a", declared=declared,
                            assignment={"desk-a": ["sim-main"], "desk-b": ["b1"]})
    w.parts.firm.fill(FirmLink(shard_ports(w.parts), firm, start, "postgresql://firm", "a-0", 3_000, print, print),
                      None)

    async def go():
        await w.runner.start()
        refused = await w.desk.unlock_scope("global", "bots fixed", actor="bob")
        firm.directives.append(Directive(KILL_RELEASE, "global", {"kill": 1, "accounts": [], "approvers": ["b", "c"]},
                                         None, "c", 2, T0 + 1))
        return refused, await w.desk.unlock_scope("global", "bots fixed", actor="bob")

    refused, released = asyncio.run(asyncio.wait_for(go(), 30))
    assert not refused.done, refused
    assert refused.reason == ("KILL_IN_FORCE: global is halted by firm-wide kill 1 by alice (firm:kill); ksctl unlock "
                              "does not end a firm kill: ksctl kill --firm --release --reason R ends it once 2 "
                              "distinct approvers (each with their own token) approved; nothing was unlocked")
    assert "manual_unlock" in audit_kinds(w)  # the refusal audited, with its author
    # released: an unlock of global is the operator's firm-wide directive again, written once
    assert released.done and [d.kind for d in firm.sent] == ["unlock"], (released, firm.sent)
    w.store.close()


def test_a_kill_is_in_force_until_its_release():
    kill = _kill()
    assert locks_in_force([kill], T0) == [kill]
    release = Directive(KILL_RELEASE, "global", {"kill": 1}, None, "bob", 2, T0)
    assert locks_in_force([kill, release], T0) == []


REVOKE = {"master_credentials": {"api_key": {"env": "M"}, "secret": {"env": "MS"}}, "sub_account": "a1",
          "api_keys": ["bot-key"]}
DECLARED = [Account.model_validate({"name": n, "venue": "binanceusdm", "market_type": "futures",
                                    "credentials": {"api_key": {"env": "K"}, "secret": {"env": "S"}},
                                    **({"revoke": REVOKE} if n == "a1" else {})})
            for n in ("a1", "b1")]
ASSIGNMENT = {"desk-a": ["a1"], "desk-b": ["b1"]}
BOARD = {"shards": [{"shard": "desk-a", "reachable": True, "why": "", "resting": {"binanceusdm/a1": 3}},
                    {"shard": "desk-b", "reachable": False,
                     "why": "shard desk-b was last heard 9.0s ago (bound 1.5s)"}]}


def test_the_preview_says_what_each_shard_does_and_which_accounts_a_shard_not_heard_leaves_not_reached():
    p = kill_preview(ASSIGNMENT, BOARD, DECLARED)
    assert p["allowed"] and p["unheard"] == ["desk-b"]
    assert preview_text(p) == "\n".join([
        "PREVIEW: firm-wide kill of 2 account(s) on 2 shard(s); 1 NOT HEARD (desk-b)",
        "  shard desk-a (1 account(s)): locks halted global; cancels 3 resting non-reduce-only order(s) as it last "
        "said; revokes the keys of 1 account(s)",
        "  shard desk-b (1 account(s)) NOT HEARD: locks halted global; cancels its resting non-reduce-only orders "
        "(none said yet); revokes the keys of 0 account(s); OUT OF REACH (no revoke: block): binanceusdm/b1",
        "    shard desk-b is NOT HEARD (shard desk-b was last heard 9.0s ago (bound 1.5s)): it carries the kill out "
        "when it is heard again; until then these accounts are NOT REACHED: binanceusdm/b1",
        "  released only by 2 distinct approvers: ksctl kill --firm --release"])
    refused = kill_preview(ASSIGNMENT, BOARD, DECLARED, in_force={"id": 7, "actor": "alice"})
    assert not refused["allowed"] and refused["reason"].startswith("KILL_IN_FORCE: kill 7 by alice is in force")


def test_the_preview_says_how_old_a_shards_count_is_once_older_than_its_interval():
    """A shard's count is of the snapshots it read before it published (``resting_ms``): said
    "as it last said" within the shard's interval, and with its age past it (issue 81's low
    finding, "a preview's count 70 s stale")."""
    def line(read_ago_ms: int) -> str:
        board = {"now_ms": T0, "shards": [{**BOARD["shards"][0], "resting_ms": T0 - read_ago_ms, "interval_s": 1.0},
                                          BOARD["shards"][1]]}
        return kill_preview(ASSIGNMENT, board, DECLARED)["lines"][0]

    assert "cancels 3 resting non-reduce-only order(s) as it last said;" in line(1_000)
    assert "cancels 3 resting non-reduce-only order(s) as it last said (as read 70 s ago);" in line(70_000)
    assert "(as read 3m10s ago);" in line(190_000)


def test_the_progress_gives_the_three_times_once_every_account_reached_them_and_names_the_shard_not_reached():
    kill = {"id": 1, "created_ms": T0, "actor": "alice", "reason": "drill"}
    a1 = KillReport(1, "desk-a", "binanceusdm/a1", T0 + 200, T0 + 400, T0 + 900, "nothing resting", "revoked")
    doc = kill_progress(kill, [a1], ASSIGNMENT, DECLARED, BOARD)
    s = doc["summary"]
    assert (s["locked"], s["accounts"], s["all_locked_ms"], s["not_reached"]) == (1, 2, None, ["desk-b"])
    text = progress_text(doc)
    assert "NOT REACHED (the shard has not taken it up; it does when heard): desk-b" in text
    assert "    binanceusdm/b1: NOT REACHED" in text and "release: 0/2 approvals" in text
    b1 = KillReport(1, "desk-b", "binanceusdm/b1", T0 + 300, T0 + 350, None, "nothing resting", "OUT_OF_REACH",
                    out_of_reach=True)
    s = kill_progress(kill, [a1, b1], ASSIGNMENT, DECLARED, BOARD)["summary"]
    assert (s["all_locked_ms"], s["nothing_resting_ms"], s["all_revoked_ms"]) == (300, 400, 900)
    assert s["out_of_reach"] == ["binanceusdm/b1"]


def test_the_consoles_firm_strip_shows_the_kill_in_force_with_its_progress_and_the_kill_action():
    from killswitch.face.console.firm_strip import firm_strip, kill_of
    from killswitch.face.console.http import ASSETS, environment
    from killswitch.firm.board import firm_board
    from tests.unit.firm.test_board import ASSIGN, NOW, STALE_MS, _inputs, _when

    strip = firm_strip(firm_board(ASSIGN, _inputs(), NOW, asked="desk-a", firm_stale_ms=STALE_MS), _when)
    kill = {"id": 1, "created_ms": T0, "actor": "alice", "reason": "drill"}
    a1 = KillReport(1, "desk-a", "binanceusdm/a1", T0 + 200, T0 + 400, T0 + 900, "nothing resting", "revoked")
    env = environment()
    def ticking(ms, form, text):  # (view.html.j2's macro)
        return text

    html = env.get_template("_firm_strip.html.j2").render(
        firm_strip=strip, firm_kill=kill_of(kill_progress(kill, [a1], ASSIGNMENT, DECLARED, BOARD)), ticking=ticking)
    assert 'class="firm-kill kill-on"' in html and "FIRM KILL 1 by alice: drill — IN FORCE" in html
    assert "NOT REACHED (the shard has not taken it up; it does when heard): desk-b" in html
    assert "data-kill-open" in html and "data-kill-release" in html
    calm = env.get_template("_firm_strip.html.j2").render(firm_strip=strip, firm_kill=kill_of({"kill": None}),
                                                          ticking=ticking)
    assert "FIRM KILL" not in calm and "data-kill-open" in calm  # the action is there before any kill
    assert "data-kill-release" not in calm  # and no release of a kill not in force
    dialog = env.get_template("_kill_dialog.html.j2").render()
    assert 'id="kill-preview"' in dialog and "type <code>KILL</code>" in dialog and 'id="kill-approve"' in dialog
    assert ASSETS["kill.js"] == "text/javascript"


def test_the_closure_report_of_a_shard_lists_the_kill_by_its_directive_and_its_release(tmp_path):
    from killswitch.runbooks.operator_actions import operator_actions
    from tests.unit.runner.operator.rig import make

    w = make(tmp_path)
    firm = KillFirm([_kill()], written_before=0)
    applier = _applier(w, firm, [])

    async def go():
        await w.runner.start()
        await applier.start()
        await applier.apply_new()
        w.clock.advance(60_000)
        firm.directives.append(Directive(KILL_RELEASE, "global", {"kill": 1, "approvers": ["bob", "carol"],
                                                                  "reason": "fixed"}, None, "carol", 2, T0 + 1))
        await applier.apply_new()

    asyncio.run(asyncio.wait_for(go(), 30))
    acts = operator_actions(w.store.audit_rows(), w.clock() + 1, lambda seq: True, {}, {})
    kill = next(a for a in acts if a["action"] == "firm kill")
    assert (kill["target"], kill["by"], kill["ended"]) == ("directive 1: global", "alice", "released by bob, carol")
    assert kill["reason"].startswith("FIRM_KILL 1: runaway bots (by alice)") and kill["duration_ms"] == 60_000
    assert any(a["action"] == "firm kill released" and a["target"].startswith("directive 1 released by directive 2")
               for a in acts)
    w.store.close()


def test_the_previews_id_is_the_shards_accounts_and_not_whether_each_is_heard():
    from killswitch.firm.kill import kill_preview_id

    heard = {"shards": [{**s, "reachable": True} for s in BOARD["shards"]]}
    one = kill_preview_id(kill_preview(ASSIGNMENT, BOARD, DECLARED))
    assert one == kill_preview_id(kill_preview(ASSIGNMENT, heard, DECLARED))  # desk-b heard again meanwhile
    assert one != kill_preview_id(kill_preview({"desk-a": ["a1", "b1"]}, BOARD, DECLARED))
