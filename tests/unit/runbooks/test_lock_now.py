"""An open incident's runbook says the lock that binds now (walk 11's H1 and M1, issue 65): the
runbook sink renders the *Trading lock* section again from the lock book as it is when a hold on
the scope comes or goes, names the stage's own lock and every other hold that binds the scope
(the reset preview's words), and says as of when; once the incident ended, the stored lock says
"at entry"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from killswitch.runbooks.lock_view import lock_view
from killswitch.runbooks.render import render_runbook
from killswitch.runbooks.sample import SAMPLE_TIME_MS, sample_incident
from killswitch.runbooks.sink import RunbookSink, record_of
from killswitch.runbooks.story import incident_story
from killswitch.runner.book.revoke_state import OPERATOR, Hold, RevokeBook, revokes_in_force
from killswitch.runner.lock.lock import LockBook, iso_ms
from killswitch.runner.operator.commands import lift_unlocked, operator_lock
from killswitch.sources import read_sources
from tests.conftest import POLICIES
from tests.unit.engine_helpers import compile_graph

T = SAMPLE_TIME_MS
POLICY = "exchange-faults"  # stage B: the incident whose runbook is read
OTHER = "quick-watch"  # stage A: another policy's halt on the same scope, reset during B


@pytest.fixture(scope="module")
def incident() -> dict:
    graph = compile_graph(read_sources([str(POLICIES)]).files)
    return sample_incident(graph.policy(POLICY), 1, digest="sha256:" + "5e" * 32, revision=None)


def _section4(md: str) -> str:
    return md.split("## 4. Trading lock")[1].split("### What broke the halt")[0]


class _Ctx:
    """What the runbook sink reads of the runner: the lock book now, the stage, the store."""

    def __init__(self, book: LockBook, data: dict, revokes: RevokeBook = RevokeBook()):
        self.book, self.revokes, self.saved, self.audits = book, revokes, [], []
        self.lock_reads = 0
        self.graph = SimpleNamespace(digest="g")
        self.dry_run = False
        self.record = record_of(data, render_runbook(data, None))
        self.store = SimpleNamespace(runbook=lambda incident: SimpleNamespace(data=self.record.data))

    def stage(self, policy, scope):
        return SimpleNamespace(level=1, entries=1)

    def lock_key(self, now_ms):
        return self.book, self.revokes, len(self.book.in_force(now_ms))

    def lock_doc(self, scope, now_ms):
        self.lock_reads += 1
        return {**self.book.scope_doc(scope, now_ms), "overrides": [], "as_of": iso_ms(now_ms),
                "revokes": revokes_in_force(self.revokes, scope)}

    def save_runbook(self, record):
        self.saved.append(record)
        self.record = record

    def audit(self, kind, ts, payload):
        self.audits.append((kind, payload))


def _walk(scope: str) -> list[LockBook]:
    """alice's halt, stage A's manual halt, stage B's manual halt; then alice unlocks, A is reset."""
    b0 = operator_lock(LockBook(), scope, "halted", "bot-a rogue", T - 90_000, None, actor="alice")
    b1 = b0.apply(scope, "halted", now_ms=T - 60_000, policy=OTHER, stage=2, manual=True,
                  reason=f"LOCK_TRADING: stage=2 (halt) policy={OTHER}")
    b2 = b1.apply(scope, "halted", now_ms=T, policy=POLICY, stage=1, manual=True,
                  reason=f"LOCK_TRADING: stage=1 (halt) policy={POLICY}")
    b3 = lift_unlocked(b2, scope)
    return [b2, b3, b3.release(scope, policy=OTHER)]


def test_an_open_incidents_runbook_says_the_lock_that_binds_now_after_another_stage_reset(incident):
    scope = incident["scope"]
    at_entry, unlocked, reset = _walk(scope)
    data = {**incident, "incident": f"{POLICY}/{scope}/L1/e1",
            "lock": lock_view({**at_entry.scope_doc(scope, T), "as_of": iso_ms(T)}, POLICY, 1, scope)}
    sink = RunbookSink(None)
    ctx = _Ctx(at_entry, data)
    sink._watch_lock(data)
    first = _section4(ctx.record.markdown)
    assert f"held by policy {OTHER} stage 2" in first and "a reset of the stage does not lift it" in first
    assert "operator alice until ksctl unlock" in first  # M1: the operator's halt is named beside it
    sink._relock(ctx, T + 30_000)  # nothing came or went: not rendered again
    assert ctx.saved == [] and ctx.lock_reads == 1  # read once, as it was just watched
    sink._relock(ctx, T + 35_000)  # the same lock book and revokes: not even read (a tick's cost)
    assert ctx.saved == [] and ctx.lock_reads == 1
    ctx.book = unlocked
    sink._relock(ctx, T + 60_000)
    ctx.book = reset
    sink._relock(ctx, T + 120_000)
    now = _section4(ctx.record.markdown)
    assert "The lock as of 2026-03-02T13:02:00.000Z" in now, now
    assert f"held by policy {POLICY} stage 1 (this stage's own lock), until the stage is reset." in now
    assert "A reset of this stage lifts its own lock: nothing else holds" in now
    assert OTHER not in now and "alice" not in now and "does not lift" not in now
    assert [k for k, _ in ctx.audits] == ["runbook_updated", "runbook_updated"]


def test_a_followed_incident_takes_the_lock_rendered_again_too(incident):
    """An incident whose orders are still followed keeps the lock the watch rendered it with:
    its next follow-up must not put the lock at entry back."""
    scope = incident["scope"]
    at_entry, unlocked, _ = _walk(scope)
    data = {**incident, "incident": f"{POLICY}/{scope}/L1/e1",
            "lock": lock_view({**at_entry.scope_doc(scope, T), "as_of": iso_ms(T)}, POLICY, 1, scope)}
    sink = RunbookSink(None)
    ctx = _Ctx(at_entry, data)
    sink._watch_lock(data)
    followed = SimpleNamespace(data=dict(data))  # as _start_following keeps it: a copy of its own
    sink._following[data["incident"]] = followed
    ctx.book = unlocked
    sink._relock(ctx, T + 60_000)
    assert len(ctx.saved) == 1
    assert followed.data["lock"]["as_of"] == iso_ms(T + 60_000) and followed.data["lock"]["refreshed"]


def test_the_operators_halt_and_a_revoke_before_the_stage_are_named_beside_the_stages_own_lock(incident):
    scope = incident["scope"]
    book = operator_lock(LockBook(), scope, "halted", "bot-a rogue", T - 90_000, None, actor="alice")
    book = book.apply(scope, "halted", now_ms=T, policy=POLICY, stage=1, manual=True, reason="LOCK_TRADING: x")
    revokes = RevokeBook().hold([scope], Hold(holder=f"operator|{scope}", policy=OPERATOR, scope=scope,
                                           since_ms=T - 60_000, reason="keys leaked", by="alice"), T - 60_000)
    doc = {**book.scope_doc(scope, T), "as_of": iso_ms(T), "revokes": revokes_in_force(revokes, scope)}
    data = {**incident, "lock": lock_view(doc, POLICY, 1, scope)}
    for md in (render_runbook(data, None).markdown, ):
        s4 = _section4(md)
        assert f"held by policy {POLICY} stage 1 (this stage's own lock)" in s4, s4
        assert "- halted by operator alice until ksctl unlock: bot-a rogue" in s4
        assert "A reset of this stage lifts its own lock, not the holds below" in s4
        assert f"`{scope}`: revoking" in s4 and "held by alice's revoke of " + scope in s4 and "keys leaked" in s4
    from killswitch.render.runbook import fallback_markdown

    plain = fallback_markdown(data)
    assert "also holds " + scope + ": halted by operator alice until ksctl unlock: bot-a rogue" in plain
    assert "(as of 2026-03-02T13:00:00.000Z)" in plain and "alice's revoke of" in plain


def test_an_ended_incidents_stored_lock_says_at_entry(incident):
    scope = incident["scope"]
    at_entry = _walk(scope)[0]
    data = {**incident, "lock": lock_view({**at_entry.scope_doc(scope, T), "as_of": iso_ms(T)}, POLICY, 1, scope)}
    trail = [SimpleNamespace(seq=1, kind="stage_transition", ts_ms=T + 300_000,
                             payload={"policy": POLICY, "scope": scope, "from": 1, "to": 0, "reason": "RESET_AFTER",
                                      "decision_id": f"{POLICY}/{scope}/L0/e1"})]
    data["story"] = incident_story(data, trail, [], {}, T + 360_000)
    s4 = _section4(render_runbook(data, None).markdown)
    assert "The lock at entry (2026-03-02T13:00:00.000Z), as stored" in s4, s4
    assert f"policy {OTHER} stage 2" in s4 and "operator alice" in s4  # what bound then, every hold
    refreshed = {**data, "lock": {**data["lock"], "as_of": iso_ms(T + 120_000), "refreshed": True}}
    assert "The lock as of 2026-03-02T13:02:00.000Z, while the incident was open" in \
        _section4(render_runbook(refreshed, None).markdown)
