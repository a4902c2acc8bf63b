"""An account no running policy's scope selects is said to be guarded by nothing, in every view.

``desk-guard`` keeps one instance per account over ``simulated/sim-main`` (``desk: a``) and
``simulated/sim-hedge`` (``desk: b``); a reload narrows it to ``desk: b``. ``sim-main`` is then
watched by no policy: status (and ``ksctl status``: its coverage line no longer "all armed"), the
console's standing problems, ``/metrics`` and the log say it, and the reset of the latched
instance the reload removed says that no policy guards the account after it. On SQLite and the
simulated exchange; the clock is a manual one.
"""

from __future__ import annotations

import logging

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.client import LockDocument
from killswitch.face.console.http import environment
from killswitch.render.status import status_text
from killswitch.runner.gate.request import Decision
from killswitch.view import decode
from tests.unit.engine_helpers import guard_policy

from .test_removed_instances import T0, page, reload, run, runner_over, started, stop, ticks

MAIN, HEDGE = "simulated/sim-main", "simulated/sim-hedge"
GUARD = guard_policy("desk-guard", approvals=1)
NARROWED = guard_policy("desk-guard", scope="{level: account, accounts: {match_labels: {book: futures, desk: b}}}",
                        approvals=1)
SAID = "UNGUARDED: simulated/sim-main: no policy's scope selects it"


def desks(clock) -> dict:
    """The adapters of sim-main (desk a) and sim-hedge (desk b), on one simulated engine."""
    engine = build("calm", clock)
    return {MAIN: SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures", "desk": "a"},
                                   timeout_s=2.0),
            HEDGE: SimulatedAdapter(engine, "sim-hedge", venue="simulated", labels={"book": "futures", "desk": "b"},
                                    timeout_s=2.0)}


def make(tmp_path, text: str = GUARD):
    clock = ManualClock(T0)
    return runner_over(tmp_path, clock, desks(clock), text)


def ksctl_status(w) -> str:
    return status_text(w.desk.status(), decode(LockDocument, w.desk.lock_document()))


def gauge(w) -> str:
    return next(line for line in w.desk.metrics_text().splitlines()
                if line.startswith("killswitch_accounts_unguarded "))


def test_a_narrowing_reload_and_its_reset_leave_an_account_said_unguarded_everywhere(tmp_path, caplog):
    w = make(tmp_path)
    started(w)
    ticks(w, 2, beat=True)
    # both accounts guarded: nothing said
    assert w.desk.status().unguarded == ()
    said = ksctl_status(w)
    assert "coverage: all 2 policy scope(s) armed" in said and "UNGUARDED" not in said, said
    assert gauge(w) == "killswitch_accounts_unguarded 0.0"
    assert "unguarded" not in page(w)["standing"]

    ticks(w, 13, beat=False)  # bot-x silent over a minute: both accounts halted
    key = f"desk-guard|{MAIN}"
    assert w.parts.book.state.scopes[key].stage.level == 1
    with caplog.at_level(logging.INFO, logger="killswitch.runner"):
        reload(w, NARROWED)
    assert any(SAID in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records), caplog.text
    ticks(w, 2, beat=True)

    # the reset of the removed instance says what is left after it
    preview = w.desk.preview_reset("desk-guard", MAIN, "alice")
    assert preview.allowed, preview.reason
    assert f"after this, no policy guards {MAIN}: no running policy's scope selects it (UNGUARDED)" \
        in preview.effects, preview.effects
    answer = run(w.desk.reset("desk-guard", MAIN, "alice", "desk a moved off this policy"))
    assert answer.done, answer.reason
    assert key not in w.parts.book.state.scopes
    ticks(w, 2, beat=True)

    # status (its JSON as /v1/status answers it), ksctl status, the console and /metrics
    assert w.desk.status().unguarded == (MAIN,)
    said = ksctl_status(w)
    assert "COVERAGE: all 1 policy scope(s) armed, but 1 account(s) guarded by no policy" in said, said
    assert "all 1 policy scope(s) armed\n" not in said
    assert SAID in said, said
    model = page(w)
    assert model["unguarded"] == [MAIN]
    assert model["standing"]["unguarded"].line == f"no policy's scope selects {MAIN}"
    text = environment().get_template("view.html.j2").render(**model)
    assert "1 ACCOUNT GUARDED BY NO POLICY" in text, text
    assert gauge(w) == "killswitch_accounts_unguarded 1.0"

    # a reload that selects it again: guarded, and the log says so
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="killswitch.runner"):
        reload(w, GUARD)
    assert any(f"GUARDED: {MAIN}" in r.getMessage() for r in caplog.records), caplog.text
    assert w.desk.status().unguarded == ()
    assert "unguarded" not in page(w)["standing"]
    assert gauge(w) == "killswitch_accounts_unguarded 0.0"
    stop(w)


def test_a_reset_of_a_removed_instance_whose_account_another_policy_selects_says_nothing_of_it(tmp_path):
    other = guard_policy("book-guard", approvals=1)
    w = make(tmp_path, GUARD + "---\n" + other)
    started(w)
    ticks(w, 13, beat=False)
    reload(w, NARROWED + "---\n" + other)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_reset("desk-guard", MAIN, "alice")
    assert preview.allowed, preview.reason
    assert not any("no policy guards" in e for e in preview.effects), preview.effects
    assert w.desk.status().unguarded == ()
    stop(w)


def test_check_order_on_an_unguarded_account_answers_the_lock_and_says_no_policy_limits_it(tmp_path):
    w = make(tmp_path)
    started(w)
    ticks(w, 2, beat=True)
    order = {"account": MAIN, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01}
    assert w.desk.check_order(order) == Decision(True, "ACTIVE")  # guarded: nothing said
    reload(w, NARROWED)
    ticks(w, 2, beat=True)
    expected = f"{SAID}; nothing watches it or limits its orders"
    by_scope = {k: v for k, v in order.items() if k != "account"} | {"scope": MAIN}
    for decision in (w.desk.check_order(order), w.desk.check_order_now(order), w.desk.check_order(by_scope)):
        assert decision.allow and decision.reason == "ACTIVE", decision
        assert decision.unguarded and decision.warnings == (expected,), decision
        assert decision.to_json() == {"allow": True, "reason": "ACTIVE", "unguarded": True, "warnings": [expected]}
        assert decode(Decision, decision.to_json()) == decision  # as ksctl's client reads it back
    # the other account is still guarded: its answer says nothing of it
    hedge = w.desk.check_order({**order, "account": HEDGE})
    assert hedge.allow and not hedge.unguarded and hedge.warnings == (), hedge
    stop(w)
