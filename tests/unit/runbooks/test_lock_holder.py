"""The runbook and the report name the lock that binds and where it comes from (issue 65): an
operator's halt placed before the incident is the operator's, ``until ksctl unlock``, not the
stage's, and does not end with the stage's reset; a lock violation under it is filed under the
operator's lock, not under the incident whose own lock was weaker; and amounts are shown as
status shows them, without float noise."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from killswitch.render.report import halt_break_lines
from killswitch.runbooks.halt_breaks import halt_breaks
from killswitch.runbooks.render import render_runbook
from killswitch.runbooks.sample import SAMPLE_TIME_MS, sample_incident
from killswitch.runbooks.story import incident_story
from killswitch.runbooks.templates import Templates
from killswitch.runner.lock.lock import LockBook
from killswitch.runner.operator.commands import operator_lock
from killswitch.runner.watch.enforce import Violation, with_step
from killswitch.sources import read_sources
from tests.conftest import POLICIES, ROOT
from tests.unit.engine_helpers import compile_graph

T = SAMPLE_TIME_MS
MIN = 60_000
POLICY = "exchange-faults"


@pytest.fixture(scope="module")
def incident() -> dict:
    graph = compile_graph(read_sources([str(POLICIES)]).files)
    return sample_incident(graph.policy(POLICY), 1, digest="sha256:" + "5e" * 32, revision=None)


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(ROOT / "runbooks")


def _book(scope: str) -> LockBook:
    """alice's halt 20 s before the stage, then the stage's own 10-minute reducing lock."""
    book = operator_lock(LockBook(), scope, "halted", "bot-a misbehaving", T - 20_000, None, actor="alice")
    return book.apply(scope, "reducing", now_ms=T, policy=POLICY, stage=1, ttl_ms=10 * MIN,
                      reason=f"LOCK_TRADING: mode=reducing stage=1 policy={POLICY} ttl=10m")


def _section4(md: str) -> str:
    return md.split("## 4. Trading lock")[1].split("### What broke the halt")[0]


def _row(seq: int, row_kind: str, ts_ms: int, **payload) -> SimpleNamespace:
    return SimpleNamespace(seq=seq, kind=row_kind, ts_ms=ts_ms, payload=payload)


def test_the_runbook_names_the_operators_halt_that_binds_and_the_stages_own_lock(incident, templates):
    scope = incident["scope"]
    data = {**incident, "lock": _book(scope).scope_doc(scope, T)}
    md = _section4(render_runbook(data, templates).markdown)
    assert ("is **HALTED** since 2026-03-02T12:59:40.000Z, held by operator alice, until ksctl unlock." in md), md
    assert "a reset of the stage does not lift it; the stage's own lock is reducing, ttl 10m, until " \
           "2026-03-02T13:10:00.000Z" in md
    assert "until the stage is reset" not in md


def test_after_the_reset_the_runbook_does_not_say_the_operators_halt_ended(incident, templates):
    scope = incident["scope"]
    data = {**incident, "lock": _book(scope).scope_doc(scope, T)}
    trail = [_row(1, "stage_transition", T + 5 * MIN, policy=POLICY, scope=scope, **{"from": 1, "to": 0},
                  reason="RESET_AFTER", decision_id=f"{POLICY}/{scope}/L0/e1")]
    data["story"] = incident_story(data, trail, [], {}, T + 6 * MIN)
    md = _section4(render_runbook(data, templates).markdown)
    assert "by this incident" not in md and "until it ended" not in md, md
    assert ("was **HALTED** during this incident, held by operator alice since 2026-03-02T12:59:40.000Z, "
            "until ksctl unlock: not this incident's own lock, so its end (released at 2026-03-02T13:05:00Z") in md
    assert "only the stage's own lock (reducing, ttl 10m, until 2026-03-02T13:10:00.000Z) ended with it" in md
    # the built-in runbook (no runbooks/ directory) says the same: the operator's halt and, beside
    # it, the stage's own lock (walk 9's M3: it named only the operator's)
    assert _section4(render_runbook(data, None).markdown) == md
    from killswitch.render.runbook import fallback_markdown  # the plain runbook, the last resort
    from killswitch.runbooks.lock_view import lock_view

    plain = fallback_markdown({**data, "lock": lock_view(data["lock"], POLICY, 1)})
    assert ("- LOCKED halted by operator alice, until ksctl unlock (the stage's own lock: reducing, ttl 10m, "
            "until 2026-03-02T13:10:00.000Z)") in plain


def test_a_runbook_whose_own_lock_binds_still_says_it_ends_with_the_incident(incident, templates):
    scope = incident["scope"]
    book = LockBook().apply(scope, "reducing", now_ms=T, policy=POLICY, stage=1, ttl_ms=10 * MIN, reason="x")
    md = _section4(render_runbook({**incident, "lock": book.scope_doc(scope, T)}, templates).markdown)
    assert "held by policy exchange-faults stage 1 (this stage's own lock), until 2026-03-02T13:10:00.000Z." in md


def test_a_violation_records_the_lock_it_broke_and_the_report_files_it_under_that_lock():
    scope = "binanceusdm/main"
    lock = _book(scope).for_scope(scope, T + MIN)
    v = Violation("k", "LOCK_VIOLATION", "cancel", scope, lock.mode, "binanceusdm", scope, "SOL/USDT:USDT", "buy",
                  0.04999999999999982, 2572.73, "bot-a-1", "88", "bot-a", "why", holder=(lock.policy, lock.stage,
                                                                                          lock.details.get("by")))
    payload = v.to_json()
    assert payload["lock"] == {"policy": "@operator", "stage": None, "by": "alice"}
    rows = [_row(1, "lock_violation", T + MIN, **payload)]
    windows = [{"incident": f"{POLICY}/{scope}/L1/e1", "policy": POLICY, "scope": scope, "ts_ms": T,
                "end_ms": T + 5 * MIN}]
    [got] = halt_breaks(rows, {}, windows, lambda _seq: True)["violations"]
    assert got["incident"] is None and got["lock"] == "operator alice"
    table = "\n".join(halt_break_lines({"violations": [got]}))
    assert "| lock it broke | incident |" in table
    assert "| buy | 0.05 | 2,572.73 |" in table and "| operator alice | - |" in table
    # the stage's own lock binding: the incident's, as before
    own = {**payload, "lock": {"policy": POLICY, "stage": 1, "by": None}}
    [mine] = halt_breaks([_row(1, "lock_violation", T + MIN, **own)], {}, windows, lambda _seq: True)["violations"]
    assert mine["incident"] == f"{POLICY}/{scope}/L1/e1" and mine["lock"] == "policy exchange-faults stage 1"


def test_the_runbook_shows_a_violations_amount_without_float_noise(incident, templates):
    scope = incident["scope"]
    rows = [_row(1, "lock_violation", T + MIN, kind="LOCK_VIOLATION", action="cancel", scope=scope, account=scope,
                 symbol="SOL/USDT:USDT", side="buy", amount=0.04999999999999982, notional=2572.73,
                 client_order_id="bot-a-1", order_id="88", strategy="bot-a", mode="reducing")]
    data = {**incident, "story": incident_story(incident, rows, [], {}, T + 2 * MIN)}
    md = render_runbook(data, templates).markdown
    assert "SOL/USDT:USDT buy 0.05 (notional 2,572.73)" in md and "0.0499999" not in md  # as status says it


def test_the_runbook_lists_a_violation_under_an_operators_lock_on_its_scope_naming_that_lock(incident, templates):
    scope = incident["scope"]
    payload = {"kind": "LOCK_VIOLATION", "action": "cancel", "scope": scope, "account": scope, "mode": "halted",
               "symbol": "SOL/USDT:USDT", "side": "buy", "amount": 0.1, "notional": 5000.0,
               "client_order_id": "bot-a-2", "order_id": "89", "strategy": "bot-a",
               "lock": {"policy": "@operator", "stage": None, "by": "alice"}}
    story = incident_story(incident, [_row(1, "lock_violation", T + MIN, **payload)], [], {}, T + 2 * MIN)
    [v] = story["halt_breaks"]["violations"]
    assert v["incident"] is None and v["during"] == incident["incident"]
    md = render_runbook({**incident, "story": story}, templates).markdown
    assert (f"strategy bot-a order bot-a-2 (id 89) under halted {scope}: no result recorded (under the lock of "
            "operator alice, not this incident's)") in md


def test_an_amount_is_shown_to_its_markets_step_where_the_violation_knows_it(incident, templates):
    from killswitch.snapshot import MarketRules

    v = Violation("k", "LOCK_VIOLATION", "cancel", "binanceusdm/main", "halted", "binanceusdm", "binanceusdm/main",
                  "SOL/USDT:USDT", "buy", 0.09999999999999964, 12.6, "bot-a-1", "88", "bot-a", "why")
    snap = SimpleNamespace(markets={"SOL/USDT:USDT": MarketRules(amount_step=0.01)})
    payload = with_step(v, snap).to_json()  # type: ignore[arg-type]
    assert payload["amount_step"] == 0.01 and "amount_step" not in v.to_json()
    [got] = halt_breaks([_row(1, "lock_violation", T + MIN, **payload)], {}, [], lambda _seq: True)["violations"]
    assert "| buy | 0.10 | 12.60 |" in "\n".join(halt_break_lines({"violations": [got]}))
    story = {"ended": None, "removed": None, "pages": {"delivered": [], "failed": [], "silenced": [], "handed": [],
                                                       "silences": []},
             "halt_breaks": {"violations": [{**got, "incident": incident["incident"]}], "trading": []}}
    md = render_runbook({**incident, "story": story}, templates).markdown
    assert "SOL/USDT:USDT buy 0.10 (notional 12.60)" in md
