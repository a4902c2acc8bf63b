"""The ledger of closes the venue refused (killswitch.runner.book.rejections): a permanent refusal is
tried twice, a transient one waits 1 s doubling to 60 s for eight tries, a manual close once; then
the leg is CLOSE_REJECTED and no close of it passes the screen for that incident (another
incident tries anew). A close the adapter refused itself, or that filled, is not counted."""

from __future__ import annotations

import json
from dataclasses import dataclass

from adapters.base import MODE, PERMANENT, TRANSIENT
from killswitch.client import decode
from killswitch.face.api.render import plain
from killswitch.metrics import Registry
from killswitch.orders import OrderIntent
from killswitch.runner.book.rejections import (
    MAX_BACKOFF_MS,
    TRANSIENT_TRIES,
    CloseRejections,
    backoff_ms,
    incident_of,
    key_of,
)
from killswitch.runner.venue.execution import ExecutionReport, OrderOutcome
from killswitch.view import RunnerStatus

T0 = 1_772_456_400_000
SAID = "-1106 Parameter 'reduceOnly' sent when not required."


def outcome(did: str = "p/acct/L1/e1", status: str = "rejected", kind=PERMANENT, side: str = "sell",
            ps=None, code: str = "POSITION_MODE_MISMATCH", detail: str = SAID, reduce_only: bool = True):
    return OrderOutcome(f"ks-{did}-{side}-{ps}", did, "binanceusdm", "main", "BTC/USDT:USDT", side, 1.0, reduce_only,
                        status,
                        code if status == "rejected" else None, 0.0 if status == "rejected" else 1.0, 0, 1.0,
                        detail=detail if status == "rejected" else None, refusal=kind, position_side=ps)


def report(*outcomes) -> ExecutionReport:
    r = ExecutionReport()
    r.orders = list(outcomes)
    r.unfilled = [o.decision_id for o in outcomes if o.status == "rejected" and o.reduce_only]
    return r


def intent(did: str = "p/acct/L1/e1/r1", ps=None) -> OrderIntent:
    return OrderIntent(did, "ks2", "binanceusdm", "main", "BTC/USDT:USDT", "sell", ps, 1.0, True, None, 0.0, 1, 1, 0,
                       "close_all", "t")


@dataclass(frozen=True)
class Plan:
    orders: tuple


def plan(*orders) -> Plan:
    return Plan(tuple(orders))


def test_a_permanent_refusal_is_tried_twice_then_stopped_with_the_venues_words():
    led = CloseRejections()
    first = report(outcome())
    assert led.observe(first, T0) == [] and first.unfilled == ["p/acct/L1/e1"]  # planned again, next tick
    second = report(outcome("p/acct/L1/e1/r1"))
    [stop] = led.observe(second, T0 + 1000)
    assert second.unfilled == []  # not planned again
    assert stop.key == ("p/acct/L1/e1", "binanceusdm/main", "BTC/USDT:USDT", "long")
    assert stop.refusals.summary() == f"2 of 2 orders rejected by the venue: {SAID}"
    [row] = led.status()
    assert (row["state"], row["tries"], row["bound"], row["venue_said"]) == ("CLOSE_REJECTED", 2, 2, SAID)
    plans, dropped = led.screen([plan(intent())], T0 + 2000)
    assert plans[0].orders == () and len(dropped) == 1
    # another incident (the stage entered again, or a manual close) tries anew
    plans, dropped = led.screen([plan(intent("p/acct/L1/e2"))], T0 + 2000)
    assert len(plans[0].orders) == 1 and dropped == []


def test_a_mode_refusal_counts_as_one_that_a_retry_cannot_mend():
    led = CloseRejections()
    led.observe(report(outcome(kind=MODE)), T0)
    assert led.observe(report(outcome("p/acct/L1/e1/r1", kind=MODE)), T0 + 1)


def test_a_transient_refusal_waits_one_second_doubling_to_a_minute_for_eight_tries():
    assert [backoff_ms(n) for n in range(1, 9)] == [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
    assert backoff_ms(20) == MAX_BACKOFF_MS
    led = CloseRejections()
    r = report(outcome(kind=TRANSIENT, code="INSUFFICIENT_MARGIN", detail="-2019 Margin is insufficient."))
    assert led.observe(r, T0) == [] and r.unfilled == []  # not at the next tick: when its wait is over
    assert led.due(T0 + 999) == [] and led.screen([plan(intent())], T0 + 999)[0][0].orders == ()
    assert led.due(T0 + 1000) == ["p/acct/L1/e1"] and led.due(T0 + 1000) == []  # asked once
    assert len(led.screen([plan(intent())], T0 + 1000)[0][0].orders) == 1
    now, stops = T0, []
    for n in range(2, TRANSIENT_TRIES + 1):
        now += backoff_ms(n - 1)
        stops = led.observe(report(outcome(f"p/acct/L1/e1/r{n}", kind=TRANSIENT)), now)
    assert len(stops) == 1 and stops[0].refusals.tries == TRANSIENT_TRIES


def test_a_manual_close_is_refused_once_and_stopped():
    led = CloseRejections()
    [stop] = led.observe(report(outcome("manual/binanceusdm/main/m1")), T0)
    assert stop.refusals.bound == 1 and stop.refusals.summary().startswith("1 of 1 orders rejected by the venue")


def test_a_fill_forgets_the_refusals_and_the_adapters_own_refusals_are_not_counted():
    led = CloseRejections()
    led.observe(report(outcome()), T0)
    led.observe(report(outcome("p/acct/L1/e1/r1", status="filled")), T0 + 1)
    assert led.status() == []
    local = report(outcome(kind=None, code="CLOSE_EXCEEDS_POSITION", detail="local"))
    assert led.observe(local, T0) == [] and local.unfilled == ["p/acct/L1/e1"] and led.status() == []


def test_hedge_legs_are_apart():
    led = CloseRejections()
    led.observe(report(outcome(ps="LONG")), T0)
    led.observe(report(outcome("p/acct/L1/e1/r1", ps="LONG")), T0)
    plans, dropped = led.screen([plan(intent(ps="LONG"), intent(ps="SHORT"))], T0)
    assert [o.position_side for o in plans[0].orders] == ["SHORT"] and len(dropped) == 1
    assert key_of(intent(ps="LONG"))[3] == "LONG" and incident_of("a/b/L1/e3/r12") == "a/b/L1/e3"


def test_a_stopped_leg_without_its_residual_any_more_is_forgotten():
    led = CloseRejections()
    led.observe(report(outcome()), T0)
    [stop] = led.observe(report(outcome("p/acct/L1/e1/r1")), T0)
    led.keep_stopped({stop.key})
    assert led.status()
    led.keep_stopped(set())  # the position closed, or the incident ended
    assert led.status() == []


def test_the_metric_counts_refusals_by_the_venues_code():
    led = CloseRejections()
    led.observe(report(outcome(), outcome("p/acct/L1/e1", side="buy")), T0)
    reg = Registry()
    led.collect_metrics(reg)
    text = reg.render()
    assert 'killswitch_close_rejected_total{account="main",code="-1106",venue="binanceusdm"} 2.0' in text, text


def test_the_status_fields_travel_through_the_json_and_back():
    st = RunnerStatus("live", True, 1, "sha256:x", None, None, T0,
                      position_modes={"binanceusdm/main": {"read": "hedge", "declared": "one-way", "mismatch": True,
                                                           "reason": "POSITION_MODE_MISMATCH: declared one-way, the "
                                                                     "venue reads hedge", "source": "s",
                                                           "margin": None, "read_ms": T0}},
                      close_rejections=({"incident": "i", "account": "a", "symbol": "s", "leg": "long",
                                         "state": "CLOSE_REJECTED", "tries": 2, "bound": 2, "kind": "permanent",
                                         "reason": "R", "venue_said": SAID, "next_ms": None},))
    assert decode(RunnerStatus, json.loads(json.dumps(plain(st)))) == st


def test_a_manual_close_whose_orders_the_venue_refused_is_failed_in_the_report_not_done():
    from killswitch.runbooks.operator_actions import _close_outcome

    assert _close_outcome([("rejected", SAID), ("rejected", SAID)]) == \
        f"failed: 2 of 2 orders rejected by the venue: {SAID}"
    assert _close_outcome([("filled", None), ("rejected", "-2022 ReduceOnly Order is rejected.")]) == \
        "partly failed: 1 of 2 orders rejected by the venue: -2022 ReduceOnly Order is rejected."
    assert _close_outcome([("filled", None)]) == "done" and _close_outcome([]) == "done"


def test_ksctl_close_says_what_the_venue_said_of_a_close_it_refused():
    from killswitch.client import CloseProgress
    from killswitch.render.closes import close_outcome

    p = CloseProgress("manual/x/m1", "binanceusdm/main", None, "live", 2, 2, 0, 0, 2, {"rejected": 2}, "settled",
                      venue_said=(SAID,))
    assert close_outcome(p) == f"close binanceusdm/main FAILED: 2 of 2 order(s) rejected by the venue: {SAID}"
    assert decode(CloseProgress, json.loads(json.dumps(plain(p)))) == p


def test_the_console_shows_a_rejected_close_and_a_mode_mismatch_in_banners_with_the_venues_words():
    from tests.unit.face.console.test_model import model, render, status, text_of

    st = status(position_modes={"binanceusdm/main": {
        "read": "hedge", "declared": "one-way", "mismatch": True, "source": "s", "margin": None, "read_ms": T0,
        "reason": "POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge (s)"}},
        close_rejections=({"incident": "p/acct/L1/e1", "account": "binanceusdm/main", "symbol": "BTC/USDT:USDT",
                           "leg": "long", "state": "CLOSE_REJECTED", "tries": 2, "bound": 2, "kind": "mode",
                           "reason": "POSITION_MODE_MISMATCH", "venue_said": SAID, "next_ms": None},))
    page = text_of(render(model(st)))
    # a standing problem: one line, its detail behind it
    assert "1 CLOSE REJECTED: not sent again: BTC/USDT:USDT long on binanceusdm/main" in page, page
    assert ("Refused by the venue up to their bound: these positions are left open and not sent again "
            "for their incident.") in page, page
    assert f"binanceusdm/main BTC/USDT:USDT long: CLOSE_REJECTED 2 of 2 rejected: {SAID}" in page, page
    assert "POSITION MODE: closes follow the venue's mode: binanceusdm/main" in page
    assert "Closes are sent as the venue reads the mode, not as the Accounts document declares it." in page
    assert "binanceusdm/main: POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge (s)." in page
    calm = text_of(render(model(status())))
    assert "REJECTED" not in calm and "POSITION MODE" not in calm


def test_the_first_screen_never_says_no_open_incident_while_a_refused_close_stands():
    from tests.unit.face.console.test_model import model, render, status, text_of

    st = status(close_rejections=({"incident": "manual/binanceusdm/main/m1", "account": "binanceusdm/main",
                                   "symbol": "ETH/USDT:USDT", "leg": "SHORT", "state": "CLOSE_REJECTED", "tries": 1,
                                   "bound": 1, "kind": "permanent", "reason": "REDUCE_ONLY_REJECTED",
                                   "venue_said": "-2022 ReduceOnly Order is rejected.", "next_ms": None,
                                   "first_ms": T0, "last_ms": T0},))
    page = text_of(render(model(st)))
    assert "No open incident" not in page, page
    assert "No stage entered (every scope is at stage 0), but 1 close the venue rejected stands" in page, page
    assert "first at 2026-03-02" in page or "first at 13:00" in page, page
    assert "ksctl close-accept --account ACCOUNT --symbol SYMBOL --leg LEG" in page, page


# --- a stored fact: saved with the book, rebuilt at start, ended when resolved ----------------------


def test_the_ledger_travels_through_the_state_document_with_its_tries_words_and_times():
    led = CloseRejections()
    led.observe(report(outcome(ps="LONG"), outcome(ps="SHORT", side="buy")), T0)
    led.observe(report(outcome("p/acct/L1/e1/r1", ps="LONG")), T0 + 1000)
    again = CloseRejections()
    again.load(json.loads(json.dumps(led.to_json())))
    assert again.status() == led.status() and again.legs == led.legs
    [long_leg] = [r for r in again.status() if r["leg"] == "LONG"]
    assert (long_leg["state"], long_leg["first_ms"], long_leg["last_ms"]) == ("CLOSE_REJECTED", T0, T0 + 1000)
    # a refusal it counted is not counted again (the same client order id, seen in the journal)
    assert again.recount([journaled("p/acct/L1/e1/r1", "LONG")], T0 + 2000) == []
    assert again.legs == led.legs


def test_a_leg_still_tried_ends_with_its_position_or_its_incident_and_a_stopped_one_with_its_residual():
    led = CloseRejections()
    led.observe(report(outcome(ps="LONG"), outcome(ps="SHORT", side="buy")), T0)
    legs = {"binanceusdm/main": {("BTC/USDT:USDT", "LONG"): 1.0}}
    ended = led.refresh(lambda a: legs.get(a), lambda incident: True)
    assert [(k[3], why) for k, _, why in ended] == [("SHORT", "POSITION_CLOSED")]
    assert led.refresh(lambda a: None, lambda incident: True) == []  # unread: kept
    assert [why for _, _, why in led.refresh(lambda a: legs.get(a), lambda incident: False)] == ["INCIDENT_ENDED"]
    assert led.status() == []


def test_a_person_accepts_a_leg_it_leaves_the_status_stays_unsent_and_a_recount_does_not_raise_it():
    led = CloseRejections()
    led.observe(report(outcome(ps="LONG"), outcome(ps="SHORT", side="buy")), T0)
    [key] = led.find(None, "binanceusdm/main", "BTC/USDT:USDT", "short")  # the leg named in any case
    before = led.accept(key, "alice", "hedged by hand", T0 + 5)
    assert [r["leg"] for r in led.status()] == ["LONG"] and led.find(None, "binanceusdm/main", None, "SHORT") == []
    plans, dropped = led.screen([plan(intent("p/acct/L1/e1/r1", ps="SHORT"))], T0 + 10)
    assert plans[0].orders == () and len(dropped) == 1  # not sent again for its incident
    assert led.recount([journaled("p/acct/L1/e1", "SHORT", cid="ks-p/acct/L1/e1-buy-SHORT")], T0 + 10) == []
    led.keep_stopped(set())  # (an accepted leg has no residual to end with: kept until its position ends)
    assert led.legs[key].accepted == {"by": "alice", "reason": "hedged by hand", "ms": T0 + 5}
    led.restore({key: before})  # (its save was fenced off)
    assert {r["leg"] for r in led.status()} == {"LONG", "SHORT"}


def test_refusals_the_journal_holds_and_the_ledger_lacks_are_counted_up_to_the_bound():
    led = CloseRejections()
    stops = led.recount([journaled("p/acct/L1/e1", "LONG", cid="a"), journaled("p/acct/L1/e1/r1", "LONG", cid="b"),
                         journaled("p/acct/L1/e1", "SHORT", cid="c", status="filled")], T0)
    assert [s.key[3] for s in stops] == ["LONG"] and stops[0].refusals.summary().startswith("2 of 2")
    assert [(r["leg"], r["state"], r["venue_said"]) for r in led.status()] == [("LONG", "CLOSE_REJECTED", SAID)]
    assert led.recount([journaled("manual/binanceusdm/main/m9", "LONG", cid="m")], T0)[0].refusals.bound == 1
    # the adapter's own refusal (no kind journaled) is not counted, as observe counts none
    assert led.recount([journaled("q/acct/L1/e1", "LONG", cid="x", kind=None)], T0) == [] and \
        not led.find("q/acct/L1/e1", "binanceusdm/main", None, None)
    # a refusal that may pass keeps its kind and its wait
    led.recount([journaled("t/acct/L1/e1", "LONG", cid="t", kind=TRANSIENT)], T0)
    [(key, leg)] = [(k, v) for k, v in led.legs.items() if k[0] == "t/acct/L1/e1"]
    assert (leg.kind, leg.tries, leg.next_ms, leg.stopped) == (TRANSIENT, 1, T0 + 1000, False)


def journaled(did: str, ps: str, *, cid: str = "", status: str = "rejected", kind=PERMANENT):
    from killswitch.state.store import JournalEntry

    side = "sell" if ps == "LONG" else "buy"
    refused = status == "rejected"
    return JournalEntry(cid or f"ks-{did}-{side}-{ps}", did, "binanceusdm", "main", "BTC/USDT:USDT", side, ps,
                        1.0, True, "{}", seq=1, fence=1, created_ms=T0, status=status, filled=0.0,
                        reason_code="REDUCE_ONLY_REJECTED" if refused else None, detail=SAID if refused else None,
                        updated_ms=T0, refusal=kind if refused else None)


def test_the_closure_report_lists_an_accepted_refusal_among_the_operator_actions():
    from types import SimpleNamespace

    from killswitch.runbooks.operator_actions import operator_actions

    row = SimpleNamespace(seq=7, kind="close_rejection_accepted", ts_ms=T0, payload={
        "by": "alice", "reason": "hedged by hand", "legs": [{"incident": "i", "account": "binanceusdm/sim-hedge",
                                                             "symbol": "ETH/USDT:USDT", "leg": "SHORT"}]})
    [action] = operator_actions([row], T0 + 1, lambda seq: True, {}, {})
    assert (action["action"], action["target"], action["by"], action["reason"], action["outcome"]) == \
        ("close accept", "ETH/USDT:USDT SHORT on binanceusdm/sim-hedge", "alice", "hedged by hand", "done")


def test_status_shows_one_open_leg_once_naming_every_incident_whose_close_of_it_was_refused():
    """Fifth walk (issue 65, M7): a stage's close and a manual close of the same 30 ETH long were
    refused; status listed the leg once per incident, reading as 60 ETH left open."""
    from types import SimpleNamespace

    from killswitch.facts import rejected, residuals, status_lines
    from killswitch.view import ResidualStatus
    from tests.unit.face.console.test_model import status

    book, manual, hedge = "futures-book/binanceusdm/sim-hedge/L1/e1", "manual/binanceusdm/sim-hedge/m1", \
        "binanceusdm/sim-hedge"
    said = "-2022 ReduceOnly Order is rejected."
    refused = tuple({"incident": i, "account": hedge, "symbol": "ETH/USDT:USDT", "leg": "LONG",
                     "state": "CLOSE_REJECTED", "tries": n, "bound": n, "kind": "permanent",
                     "reason": "REDUCE_ONLY_REJECTED", "venue_said": said, "next_ms": None, "first_ms": T0}
                    for i, n in ((book, 2), (manual, 1)))
    said_all = status_lines(rejected.facts(status(close_rejections=refused)))
    lines = [x for x in said_all if x.startswith("  CLOSE_REJECTED")]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"  CLOSE_REJECTED {hedge} ETH/USDT:USDT LONG: {said} (REDUCE_ONLY_REJECTED); "
                               f"not sent again for incidents {book} (2 orders refused"), lines
    assert f", {manual} (1 order refused, given up after 1 try," in lines[0] and "1 tries" not in lines[0], lines
    left = [ResidualStatus(i, None, hedge, hedge, "ETH/USDT:USDT", "long", "LONG", 30.0, "CLOSE_REJECTED",
                           f"1 of 1 orders rejected by the venue: {said}", T0, T0) for i in (book, manual)]
    assert status_lines(residuals.facts(SimpleNamespace(residuals=left))) == [
        f"  RESIDUAL {hedge} ETH/USDT:USDT long LONG 30: CLOSE_REJECTED (1 of 1 orders rejected by the venue: "
        f"{said}); incidents {book}, {manual}"]


def test_a_close_sent_in_chunks_is_one_try_of_several_orders_apart_from_a_close_tried_twice():
    """Walk 12 (issue 65, M2): status said '2 closes refused by the venue (given up after 2 tries)'
    both of a close sent once in two chunks (journal 1/2, 2/2) and of a close tried twice."""
    from dataclasses import replace
    from types import SimpleNamespace

    from killswitch.facts import rejected, status_lines

    chunked, twice = CloseRejections(), CloseRejections()
    one = outcome("p/acct/L1/e1")
    [stop] = chunked.observe(report(one, replace(one, client_order_id=one.client_order_id + "-2")), T0)
    assert (stop.refusals.tries, stop.refusals.rounds) == (2, 1)
    twice.observe(report(outcome("p/acct/L1/e1")), T0)
    [stop] = twice.observe(report(outcome("p/acct/L1/e1/r1")), T0 + 5000)
    assert (stop.refusals.tries, stop.refusals.rounds) == (2, 2)
    [a], [b] = chunked.status(), twice.status()
    assert (a["tries"], a["rounds"], b["tries"], b["rounds"]) == (2, 1, 2, 2)
    text = "\n".join(status_lines(rejected.facts(SimpleNamespace(close_rejections=(a,)))))
    assert "long: 2 orders refused by the venue (given up after 1 try of 2 chunks): " in text, text
    text = "\n".join(status_lines(rejected.facts(SimpleNamespace(close_rejections=(b,)))))
    assert "long: 2 orders refused by the venue (given up after 2 tries): " in text, text
    # stored with the book, as the tries are: a restart tells them apart too
    again = CloseRejections()
    again.load(json.loads(json.dumps(chunked.to_json())))
    assert again.status()[0]["rounds"] == 1
