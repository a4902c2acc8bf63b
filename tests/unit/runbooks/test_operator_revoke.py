"""An incident's runbook names a revoke and a restore of the bots' keys that an operator made on
its accounts while it was open: who revoked, when, which keys, and the restore's approvals
(walk 8 of issue 65, L11). Those on other accounts, or after the incident ended, are not its."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from killswitch.runbooks.render import render_runbook
from killswitch.runbooks.sample import SAMPLE_TIME_MS, sample_incident
from killswitch.runbooks.story import incident_story
from killswitch.runbooks.templates import Templates
from killswitch.sources import read_sources
from tests.conftest import POLICIES, ROOT
from tests.unit.engine_helpers import compile_graph

T = SAMPLE_TIME_MS
SEC = 1_000


@pytest.fixture(scope="module")
def incident() -> dict:
    graph = compile_graph(read_sources([str(POLICIES)]).files)
    return sample_incident(graph.policy("futures-book"), 3, digest="sha256:" + "5e" * 32, revision=None)


def _row(seq: int, kind: str, ts_ms: int, **payload) -> SimpleNamespace:
    return SimpleNamespace(seq=seq, kind=kind, ts_ms=ts_ms, payload=payload)


def _rows(data: dict) -> list:
    policy, scope, acc = data["policy"]["name"], data["scope"], data["scope"]
    op = "operator|" + acc
    return [
        _row(1, "stage_transition", T, policy=policy, scope=scope, **{"from": 2, "to": 3}, reason="ESCALATED",
             decision_id=data["incident"]),
        _row(2, "trading_revoke_requested", T + 10 * SEC, scope=acc, accounts=[acc], reason="bot-a ignores the halt",
             approvals=2, by="alice"),
        _row(3, "trading_revoked", T + 15 * SEC, account=acc, keys={"bot-a-key": "revoked"}, read_back=True,
             holds=[op]),
        _row(4, "trading_restore_approval", T + 20 * SEC, scope=acc, reason="bot-a fixed", approver="alice",
             holder=op),
        _row(5, "trading_restore_approval", T + 30 * SEC, scope=acc, reason="agreed", approver="bob", holder=op),
        _row(6, "trading_restored", T + 34 * SEC, account=acc, keys={"bot-a-key": "allowed"}, read_back=True,
             holds=[]),
        # another account's revoke, while the incident was open: not this incident's
        _row(7, "trading_revoked", T + 40 * SEC, account="okx/other", keys={"x": "revoked"},
             holds=["operator|okx/other"]),
        _row(8, "reset_approval", T + 120 * SEC, policy=policy, scope=scope, level=3, approver="alice",
             result="APPROVAL_RECORDED: 1/2"),
        _row(9, "reset_approval", T + 130 * SEC, policy=policy, scope=scope, level=3, approver="bob",
             result="MANUAL_RESET: stage=3 approvers=alice,bob"),
        # after the incident ended: not its
        _row(10, "trading_revoked", T + 300 * SEC, account=acc, keys={"bot-a-key": "revoked"}, holds=[op]),
    ]


def test_the_story_has_the_operators_revoke_and_restore_on_its_account(incident):
    story = incident_story(incident, _rows(incident), [], {}, T + 600 * SEC)
    trading = story["halt_breaks"]["trading"]
    acc = incident["scope"]
    assert [(t["event"], t["account"], t["at"]) for t in trading] == [
        ("revoked", acc, "2026-03-02T13:00:15Z"), ("restored", acc, "2026-03-02T13:00:34Z")]
    assert trading[0]["why"] == f"operator on {acc}, alice: bot-a ignores the halt"
    assert trading[1]["why"] == f"restore of the operator's revoke on {acc} approved by alice: bot-a fixed, bob: agreed"


@pytest.mark.parametrize("templates", [None, "runbooks"], ids=["builtin", "runbooks-dir"])
def test_the_runbook_names_the_revoke_and_the_restore_under_what_broke_the_halt(incident, templates):
    data = {**incident, "story": incident_story(incident, _rows(incident), [], {}, T + 600 * SEC)}
    rb = render_runbook(data, Templates.load(ROOT / templates) if templates else None)
    broke = rb.markdown.split("### What broke the halt", 1)[1].split("## 5.", 1)[0]
    acc = incident["scope"]
    assert (f"- 2026-03-02T13:00:15Z bots' keys **revoked** on {acc} (bot-a-key), read back: yes "
            f"(operator on {acc}, alice: bot-a ignores the halt)") in broke
    assert (f"- 2026-03-02T13:00:34Z bots' keys **restored** on {acc} (bot-a-key), read back: yes "
            f"(restore of the operator's revoke on {acc} approved by alice: bot-a fixed, bob: agreed)") in broke
    assert "okx/other" not in broke and "13:05:00Z" not in broke
