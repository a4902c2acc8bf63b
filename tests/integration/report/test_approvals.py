"""The closure report counts approvals, not reset attempts.

A runner on the simulated flash crash, with a flatten stage that needs two approvers: a reset
asked before anything is engaged (``NOT_ENGAGED``), the halt, alice's approval, alice again
(``DUPLICATE_APPROVER``), bob's approval that releases the stage, one more attempt on the
released scope (``ALREADY_RESET``, naming when and by whom). Five attempts are audited; two approvals were recorded, and
``ksctl report`` says two.
"""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from killswitch.cli.common import EXIT_UNVERIFIED
from killswitch.cli.main import cli
from tests.integration.runner.rig import POLICY, drive, setup
from tests.unit.engine_helpers import compile_graph

SCOPE = "simulated/sim-main"
L3 = "crash-ladder/simulated/sim-main/L3/e3"


def replay_the_incident(tmp_path):
    graph = compile_graph(POLICY.replace("reset: manual,", "reset: manual, approvals: 2,"), "p.yaml")
    runner, engine, clock, store, _, desk = setup(tmp_path, policies=graph)
    answers = []

    async def go():
        await runner.start()
        await drive(runner, clock, 1)
        answers.append((await desk.reset("crash-ladder", SCOPE, "carol", "is anything on?",
                                           confirm_relatch=True)).reason)
        await drive(runner, clock, 59)  # the crash: stage 3 flatten, latched
        for who, why in (("alice", "flat, reconciled"), ("alice", "me again"), ("bob", "PnL booked")):
            answers.append((await desk.reset("crash-ladder", SCOPE, who, why, confirm_relatch=True)).reason)
        answers.append((await desk.reset("crash-ladder", SCOPE, "carol", "once more", confirm_relatch=True)).reason)

    asyncio.run(asyncio.wait_for(go(), 60))
    return store.url, answers


def test_a_reset_attempt_that_engaged_nothing_is_not_counted_as_an_approval(tmp_path):
    url, answers = replay_the_incident(tmp_path)
    assert [a.split(":")[0] for a in answers] == ["NOT_ENGAGED", "APPROVAL_RECORDED", "DUPLICATE_APPROVER",
                                                  "MANUAL_RESET", "ALREADY_RESET"], answers
    # the released scope: not "nothing engaged" (and no other instance offered) but who reset it
    assert answers[-1].startswith("ALREADY_RESET: crash-ladder simulated/sim-main was reset at 2026-03-02T"), answers
    assert " by alice, bob (stage 3); it is at stage 0 and has not entered a stage since" in answers[-1], answers

    out = CliRunner().invoke(cli, ["report", "--since", "2026-03-02", "--until", "2026-03-03", "--state", url,
                                   "-o", "json"])
    assert out.exit_code == EXIT_UNVERIFIED, out.output  # an unkeyed chain: consistent, not proven
    doc = json.loads(out.stdout)
    assert doc["summary"]["reset_approvals"] == 2
    assert doc["summary"]["reset_attempts"] == 5
    assert [(a["approver"], a["incident"], a["audited"], a["verified"]) for a in doc["approvals"]] == [
        ("alice", L3, True, True), ("bob", L3, True, True)]
    assert [r["result"].split(":")[0] for r in doc["resets"]] == [
        "NOT_ENGAGED", "APPROVAL_RECORDED", "DUPLICATE_APPROVER", "MANUAL_RESET", "ALREADY_RESET"]
    [flatten] = [i for i in doc["incidents"] if i["incident"] == L3]
    assert [a["approver"] for a in flatten["approvals"]] == ["alice", "bob"]
    assert flatten["ended"]["how"] == "reset"

    md = CliRunner().invoke(cli, ["report", "--since", "2026-03-02", "--until", "2026-03-03", "--state", url]).stdout
    assert "| reset approvals | 2 recorded (5 reset attempt(s) audited) |" in md
    assert md.count("- reset approval ") == 2, "the incident lists its two approvals, not the duplicate"
