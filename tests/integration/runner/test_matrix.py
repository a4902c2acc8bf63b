"""The runner against the simulated exchange: every scripted scenario and every injected fault
kind, on SQLite and on PostgreSQL, judged by the end state (matrix.py runs a case and checks what
holds whatever the case; each case here says what it must produce besides).

At the end, closes the venue refuses: one refused for a transient reason is planned again until
the book is flat, and a flatten the venue keeps refusing ends in a reported residual
(close_retries_exhausted) once the retry budget is spent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from adapters.simulated.faults import FaultKind, FaultPlan
from tests.integration.runner.matrix import ACCOUNTS, Case, Outcome, answers_of, run_checked
from tests.integration.sim_helpers import T0


def main_faults(*rules: tuple) -> Callable[[FaultPlan], None]:
    """Fault rules on sim-main: (op, kind, keyword arguments of FaultPlan.add)."""

    def add(plan: FaultPlan) -> None:
        for op, kind, kw in rules:
            plan.add(op, kind, account="sim-main", **kw)

    return add


FLASH = dict(scenario="flash-crash", ticks=50, levels={"sim-main": [1, 2, 3]}, flat=("sim-main",),
             untouched=("sim-hedge",))


def _first_closes(o: Outcome, n: int) -> list:
    """The first ``n`` intents journaled for sim-main (the stage-1 trims come first)."""
    return [e for e in o.store.journal(limit=10_000) if e.account == "sim-main"][:n]


def sent_again_after(code: str) -> Callable[[Outcome], None]:
    """The first two closes never reached the venue (answered ``code``): each was sent once
    more under its own client order id, after the venue twice did not know it."""

    def check(o: Outcome) -> None:
        answers = answers_of(o)
        for e in _first_closes(o, 2):
            assert answers[e.client_order_id] == [code, "filled"], answers[e.client_order_id]
            assert e.status == "filled"

    return check


def settled_by_reconciliation(code: str) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        answers = answers_of(o)
        for e in _first_closes(o, 2):
            assert answers[e.client_order_id] == [code], "sent once: the venue had it"
            assert e.status == "filled" and e.detail == "RECONCILED", e

    return check


def fired_on_every_order(kind: FaultKind) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        main = [s for s in o.submits if s.account == "sim-main"]
        assert main and len(o.plan.fired(kind)) == len(main)
        assert all(s.answer == "filled" for s in main)

    return check


def entered_blind(o: Outcome) -> None:
    (t,) = o.transitions("sim-main")
    assert "blind" in t.transition.reason, t.transition.reason


def outage_then_blind_flatten(o: Outcome) -> None:
    entered_blind(o)
    (rule,) = o.plan.rules
    assert len(o.plan.fired(FaultKind.HTTP_503)) == o.case.snapshot_failures
    closes = [e for e in o.store.journal(limit=10_000) if "/L3/" in e.decision_id]
    # entered while the account could not be read: the closes wait for positions to be known
    assert closes and all(e.created_ms >= rule.window[1] for e in closes)


def refused_every_time(o: Outcome) -> None:
    main = [s for s in o.submits if s.account == "sim-main"]
    assert main and all(s.answer == "REDUCE_ONLY_REJECTED" for s in main)
    failed = [e for e in o.events if e.kind == "order_failed"]
    assert len(failed) == len(main) == len(o.plan.fired(FaultKind.REJECT_REDUCE_ONLY))
    last = o.case.ticks - 10
    assert not [s for s in main if s.tick >= last], "still sending after ten quiet ticks: unbounded"


def lagging_query_after_a_crash(o: Outcome) -> None:
    """The runner died right after the venue filled its first order. The restarted runner asks
    for it: the venue's query lags (hidden once), so it waits a gap, finds it filled and does
    not send it again; the second order never left and is sent once, under its own id."""
    assert o.crashed
    assert not o.engine.accounts["sim-main"].hidden, "no query ever missed the hidden order"
    first, second = _first_closes(o, 2)
    answers = answers_of(o)
    assert answers[first.client_order_id] == ["filled"]
    assert first.status == "filled" and first.detail == "RECONCILED"
    assert answers[second.client_order_id] == ["filled"] and second.status == "filled"
    assert [p["client_order_id"] for k, p in o.audits if k == "order_resent"] == [second.client_order_id]


def nothing_journaled(o: Outcome) -> None:
    assert o.store.journal(limit=10) == [] and not o.submits


SCENARIO_CASES = [
    Case("calm", "calm", ticks=40, untouched=ACCOUNTS, check=nothing_journaled),
    Case("flash-crash", **FLASH),
    Case("short-squeeze", "short-squeeze", ticks=50, levels={"sim-hedge": [1, 2, 3], "sim-main": [1, 2]},
         flat=("sim-hedge",), untouched=(("sim-main", "BTCUSDT/BOTH"), ("sim-main", "ETHUSDT/BOTH")),
         ends={("sim-main", "SOLUSDT/BOTH"): -375.0}),
    Case("slow-bleed", "slow-bleed", ticks=60, tick_ms=60_000, levels={"sim-main": [1]},
         untouched=("sim-hedge", ("sim-main", "SOLUSDT/BOTH")),
         ends={("sim-main", "BTCUSDT/BOTH"): 2.5, ("sim-main", "ETHUSDT/BOTH"): 50.0}),
    Case("hedged-shorts-bleed", "hedged-shorts-bleed", ticks=60, tick_ms=60_000, levels={"sim-hedge": [1, 2]},
         untouched=("sim-main", ("sim-hedge", "BTCUSDT/LONG"), ("sim-hedge", "ETHUSDT/LONG")),
         ends={("sim-hedge", "BTCUSDT/SHORT"): -3.0, ("sim-hedge", "ETHUSDT/SHORT"): -40.0,
               ("sim-hedge", "SOLUSDT/SHORT"): -750.0}),
]

OUTAGE = (T0 + 70_000, T0 + 150_000)  # engine time: through the crash
STALE_FROM = (T0 + 60_000, T0 + 3_600_000)

FAULT_CASES = [
    Case("latency", **FLASH, faults=main_faults(("place_order", "latency", dict(latency_ms=20))),
         check=fired_on_every_order(FaultKind.LATENCY)),
    Case("timeout", **FLASH, faults=main_faults(("place_order", "timeout", dict(calls=(1, 2)))),
         resent=2, check=sent_again_after("TIMEOUT")),
    Case("timeout-applied", **FLASH, faults=main_faults(("place_order", "timeout", dict(calls=(1, 2), applied=True))),
         check=settled_by_reconciliation("TIMEOUT")),
    Case("http_429", **FLASH, faults=main_faults(("place_order", "http_429", dict(calls=(1, 2)))),
         failed={"RATE_LIMITED": 2}, refused=("RATE_LIMITED",)),
    Case("http_418", **FLASH, faults=main_faults(("place_order", "http_418", dict(calls=(3,)))),
         failed={"RATE_LIMITED": 1}, refused=("RATE_LIMITED",)),
    Case("http_500", **FLASH, faults=main_faults(("place_order", "http_500", dict(calls=(1, 2)))),
         resent=2, check=sent_again_after("EXCHANGE_UNAVAILABLE")),
    Case("http_503", "flash-crash", ticks=50, faults=main_faults(("account", "http_503", dict(window=OUTAGE))),
         levels={"sim-main": [3]}, flat=("sim-main",), untouched=("sim-hedge",), snapshot_failures=16,
         check=outage_then_blind_flatten),
    Case("malformed_json", **FLASH, faults=main_faults(("place_order", "malformed_json", dict(calls=(1, 2)))),
         check=settled_by_reconciliation("BAD_RESPONSE")),
    Case("stale", "calm", ticks=40,
         faults=main_faults(("account", "stale", dict(stale_ms=120_000, window=STALE_FROM)),
                            ("positions", "stale", dict(stale_ms=120_000, window=STALE_FROM))),
         levels={"sim-main": [3]}, flat=("sim-main",), untouched=("sim-hedge",), check=entered_blind),
    Case("reject_reduce_only", "flash-crash", ticks=60, faults=main_faults(("place_order", "reject_reduce_only", {})),
         levels={"sim-main": [1, 2, 3]}, untouched=ACCOUNTS, failed=None, refused=("REDUCE_ONLY_REJECTED",),
         check=refused_every_time),
    Case("disconnect_after_send", **FLASH,
         faults=main_faults(("place_order", "disconnect_after_send", dict(calls=(1, 2)))),
         check=settled_by_reconciliation("EXCHANGE_UNAVAILABLE")),
    Case("hide_from_next_query", **FLASH, faults=main_faults(("place_order", "hide_from_next_query", dict(calls=(1,)))),
         die_on=("journal_result", 1), resent=1, check=lagging_query_after_a_crash),
]


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request, work) -> str:
    if request.param == "sqlite":
        return f"sqlite://{work / 'state.db'}"
    return request.getfixturevalue("pg_database")


@pytest.mark.parametrize("case", SCENARIO_CASES, ids=lambda c: c.id)
def test_each_scenario_ends_in_the_state_its_policy_calls_for(case, state_url, work):
    run_checked(case, state_url, work)


@pytest.mark.parametrize("case", FAULT_CASES, ids=lambda c: c.id)
def test_each_injected_fault_ends_settled_without_a_repeat_or_a_loss(case, state_url, work):
    o = run_checked(case, state_url, work)
    assert o.plan.log, "the fault never fired"


# The private stream's faults: the in-process adapter of this matrix has no stream; the ccxt
# adapter's stream meets each of them against the simulator's websocket faces in its own suite.
STREAM_FAULTS = {FaultKind.STREAM_DISCONNECT, FaultKind.STREAM_STALL, FaultKind.STREAM_DUPLICATE,
                 FaultKind.STREAM_OUT_OF_ORDER, FaultKind.STREAM_MALFORMED, FaultKind.LISTEN_KEY_EXPIRED}
STREAM_SUITE = Path(__file__).parents[1] / "stream" / "test_adapter.py"


def test_every_fault_kind_has_a_case():
    assert {FaultKind(c.id.removesuffix("-applied")) for c in FAULT_CASES} == set(FaultKind) - STREAM_FAULTS
    suite = STREAM_SUITE.read_text()
    assert not [k.value for k in STREAM_FAULTS if f'"{k.value}"' not in suite], "a stream fault no test injects"


# --- closes the venue refuses: planned again within the retry budget, the residual reported ------------


def test_a_flatten_close_refused_for_a_transient_reason_is_sent_again_until_the_book_is_flat(state_url, work):
    # call 4 is the flatten's first close (calls 1-2: the stage-1 trims, 3: the stage-2 trim)
    case = Case("http_429-flatten", **FLASH, faults=main_faults(("place_order", "http_429", dict(calls=(4,)))),
                failed={"RATE_LIMITED": 1}, refused=("RATE_LIMITED",))
    run_checked(case, state_url, work)


def test_a_flatten_the_venue_keeps_refusing_is_reported_with_its_residual(state_url, work):
    case = Case("reject_reduce_only-residual", "flash-crash", ticks=60,
                faults=main_faults(("place_order", "reject_reduce_only", {})), levels={"sim-main": [1, 2, 3]},
                untouched=ACCOUNTS, failed=None, refused=("REDUCE_ONLY_REJECTED",))
    o = run_checked(case, state_url, work)
    residual = [e for e in o.events if e.kind == "close_retries_exhausted"
                and e.labels.get("scope") == "simulated/sim-main" and e.labels.get("level") == "3"]
    assert residual, "the flatten's residual was never reported"
