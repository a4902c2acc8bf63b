"""What the console shows through an incident, below the browser: the tab's state and the stage
entries a notification tells of (console/alerts.py), an incident's runbook as an escaped HTML
fragment (``GET /console/runbook/{incident}``), and the orders a dry run planned, read back from
the audit trail (runner/venue/planned.py). The browser tests (tests/browser/console/test_ux.py) drive
the same in chromium."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, Optional

import aiohttp
import pytest

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.console.alerts import tab_alert
from killswitch.face.console.model import page_model
from killswitch.orders import PLANNED_KIND, PLANNED_ONE_KIND, OrderIntent, planned_payloads
from killswitch.runner.lock.lock import OPERATOR, LockBook
from killswitch.runner.storeio import StoreIO
from killswitch.runner.venue.planned import PlannedOrders, of_incident
from killswitch.state import open_store
from killswitch.view import IncidentStatus, PlannedRow, RunnerStatus, ScopeStatus

from .test_console import PEOPLE, VERA
from .test_model import ACC, T0, render, text_of


def _row(policy: str, level: int, unmatched: bool = False) -> dict:
    return {"policy": policy, "level": level, "unmatched": unmatched}


def _inc(id_: str, level: int, stage: Optional[str]) -> dict:
    return {"id": id_, "policy": "bot-guard", "scope": ACC, "level": level, "stage": stage,
            "since": {"clock": "13:01:10"}}


@pytest.mark.parametrize("levels, summary, state, level, title", [
    ((0, 0), None, "ok", 0, ""),
    ((2, 0), None, "stage", 2, "STAGE 2"),
    ((2, 0), {"mode": "reducing", "scope": ACC}, "stage", 2, "STAGE 2"),  # reducing is not a halt
    ((1, 3), {"mode": "halted", "scope": ACC}, "halted", 3, "HALTED · STAGE 3"),
    ((0, 0), {"mode": "halted", "scope": "global"}, "halted", 0, "HALTED"),  # an operator's halt, no stage
])
def test_the_tab_says_halted_or_the_highest_stage_engaged(levels, summary, state, level, title):
    alert = tab_alert([_row("a", levels[0]), _row("b", levels[1])], summary, [])
    assert (alert["state"], alert["level"], alert["title"]) == (state, level, title)


def test_an_unmatched_policy_engages_no_stage_and_each_entry_is_named_by_its_incident():
    alert = tab_alert([_row("a", 0), _row("b", 0, unmatched=True)], None,
                      [_inc("bot-guard/binanceusdm/main/L1/e1", 1, "halt"),
                       _inc("bot-guard/binanceusdm/main/L1/e2", 1, None)])
    assert alert["state"] == "ok"
    assert [e["id"] for e in alert["entries"]] == ["bot-guard/binanceusdm/main/L1/e1",
                                                   "bot-guard/binanceusdm/main/L1/e2"]
    assert alert["entries"][0]["title"] == "bot-guard: stage 1 halt"
    assert alert["entries"][0]["body"] == ("bot-guard entered stage 1 halt on binanceusdm/main at 13:01:10 UTC "
                                           "(bot-guard/binanceusdm/main/L1/e1).")
    assert alert["entries"][1]["title"] == "bot-guard: stage 1"


def _status(level: int) -> RunnerStatus:
    return RunnerStatus("dry-run", True, 3, "sha256:" + "ab" * 32, None, None, T0 - 5_000,
                        (ScopeStatus("bot-guard", ACC, level, "halt" if level else None, True, (), 2,
                                     T0 - 60_000 if level else None),), {ACC: 2.0})


def _incident(**kw: Any) -> IncidentStatus:
    return IncidentStatus("bot-guard/binanceusdm/main/L1/e1", "stage", "bot-guard", ACC, 1, "halt", T0 - 60_000,
                          True, 2, (), False, (), 0, {}, (), **kw)


def test_the_view_carries_the_tab_state_and_the_entries_escaped():
    book = LockBook().apply(ACC, "halted", now_ms=T0 - 60_000, policy="bot-guard", stage=1, manual=True)
    m = page_model(_status(1), (True, "LEADER"), book.to_doc(T0), {}, (), (_incident(),))
    page = render(m)
    assert 'data-alert="halted" data-alert-level="1" data-alert-title="HALTED · STAGE 1"' in page
    assert '<li data-entry="bot-guard/binanceusdm/main/L1/e1" data-title="bot-guard: stage 1 halt">' in page
    calm = render(page_model(_status(0), (True, "LEADER"), LockBook().to_doc(T0), {}, (), ()))
    assert 'data-alert="ok" data-alert-level="0" data-alert-title=""' in calm and "data-entry=" not in calm


def test_a_dry_run_incident_says_what_it_planned_and_never_that_it_journaled():
    planned = PlannedRow("ks1", "bot-guard/binanceusdm/main/L1/e1", ACC, "BTC/USDT:USDT", "sell", None, 2.5, True,
                         47_040.0, 120_000.0, "close_all", T0 - 55_000)
    book = LockBook()
    m = page_model(_status(1), (True, "LEADER"), book.to_doc(T0), {}, (),
                   (_incident(planned=(planned,) * 3, planned_total=4),))
    text = text_of(render(m))
    assert "Orders: 4 planned, not sent (dry run: they are in the audit trail, orders_planned_dry_run)." in text
    assert "The latest 3 are listed." in text and "journaled" not in text
    assert "ks1 binanceusdm/main BTC/USDT:USDT sell reduce-only 2.5 47,040 120,000.00 close_all" in text
    none = text_of(render(page_model(_status(1), (True, "LEADER"), book.to_doc(T0), {}, (), (_incident(),))))
    assert "Orders: none planned (dry run: nothing is sent)." in none


def test_a_silenced_incident_says_so_in_its_row_and_a_manual_close_is_its_operators():
    from killswitch.face.console.silences_model import with_silences
    from killswitch.view import SilenceStatus

    silence = SilenceStatus("3f2a9c1b7d40", ('incident="bot-guard/binanceusdm/main/L1/e1"',), T0 - 30_000,
                            T0 + 3_570_000, "alice", "on it", T0 - 30_000, "active", T0,
                            incident="bot-guard/binanceusdm/main/L1/e1", ends_with_incident=True)
    close = IncidentStatus(f"manual/{ACC}/m{T0 - 10_000}", "manual_close", None, ACC, 0, None, T0 - 10_000, False, 0,
                           (), False, (), 0, {}, (), requested_by="bob")
    incidents = (_incident(silenced_by=(silence,)), close)
    book = LockBook().apply(ACC, "halted", now_ms=T0 - 60_000, policy="bot-guard", stage=1, manual=True)
    m = with_silences(page_model(_status(1), (True, "LEADER"), book.to_doc(T0), {}, (), incidents), incidents,
                      (silence,))
    text = text_of(render(m))
    assert "not acknowledged; pages silenced by 3f2a9c1b7d40 (alice, ends in 59m 30s, or when " in text, text
    # the Silences table says how long is left once, then the end itself (walk 11's L6: "ends in 1h 57m
    # (2026-11-28T10:21:32.140Z (in 1h 57m))")
    assert "ends in 59m 30s, or when bot-guard/binanceusdm/main/L1/e1 ends (2026-03-02T13:59:30.000Z)" in text, text
    assert "(in 59m 30s)" not in text, text
    # the section's heading once: the table's caption says what it lists in other words (walk 12's L9)
    assert text.count(" Silences ") == 1, text
    assert " Every silence in force, then those ended in the last day: " in text, text
    assert "An operator's close, by bob: theirs to follow, nothing to acknowledge." in text, text
    assert text.count("Nobody has acknowledged it.") == 1  # the stage entry's card, not the close's
    # the close's card offers no acknowledgement (there is nothing to acknowledge), its silence still
    page = render(m)
    assert f'data-ack="{close.incident}"' not in page and 'data-ack="bot-guard/binanceusdm/main/L1/e1"' in page
    assert page.count(">Silence its pages…</button>") == 2, page  # each card's
    # a manual close does page (event manual_close, its own incident label): its silence says what it
    # holds back and matches that close's pages alone, not every page of its scope (walk 12's L11)
    assert f'data-silence-open="event=manual_close incident={close.incident}"' in page, page
    assert ("A manual close pages when it is queued (event manual_close): a silence made here holds back this "
            f"close's pages alone, not the rest of {ACC}.") in text, text
    assert text.count("A manual close pages when it is queued") == 1, text  # the close's card alone


# --- the runbook, rendered for the page ----------------------------------------------------------------------


class _Runbooks:
    """A view that has stored one runbook (and answers nothing else)."""

    def __init__(self, incident: str, markdown: str):
        self.stored = {incident: SimpleNamespace(markdown=markdown, html="<p>page</p>")}

    async def runbook(self, incident: str) -> Any:
        return self.stored.get(incident)


def _get(view: Any, path: str, token: Optional[str]) -> tuple[int, str, str]:
    async def go() -> tuple[int, str, str]:
        site, url = await start_api(make_app(view, tokens=PEOPLE))
        try:
            async with aiohttp.ClientSession() as http:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with http.get(url + path, headers=headers) as r:
                    return r.status, await r.text(), r.headers.get("Content-Type", "")
        finally:
            await stop_api(site)
    return asyncio.run(asyncio.wait_for(go(), 30))


def test_the_console_reads_a_runbook_as_html_with_nothing_of_its_text_as_markup():
    incident = "p/binanceusdm/main/L3/e2"
    md = ("# Runbook <script>alert(1)</script>\n\n- reason: `<img src=x onerror=alert(2)>`\n\n"
          "## Commands\n\n```sh\nksctl reset --policy p --reason \"<what was checked>\"\n```\n")
    view = _Runbooks(incident, md)
    path = "/console/runbook/" + incident.replace("/", "%2F")
    assert _get(view, path, None)[0] == 401  # a reader's, as /v1/runbooks
    status, body, kind = _get(view, path, VERA)
    assert status == 200 and kind.startswith("text/html")
    assert "<script>" not in body and "<img" not in body
    assert '<h1 id="runbook-script-alert-1-script">Runbook &lt;script&gt;alert(1)&lt;/script&gt;</h1>' in body
    assert ('<pre><code class="language-sh">ksctl reset --policy p --reason &quot;&lt;what was checked&gt;&quot;'
            '</code></pre>') in body
    status, body, _ = _get(view, "/console/runbook/nope", VERA)
    assert status == 404 and '"UNKNOWN_INCIDENT' in body
    status, body, _ = _get(view, path + "?format=md", VERA)
    assert status == 400 and "BAD_REQUEST" in body


# --- a dry run's planned orders, from the audit trail --------------------------------------------------------


@pytest.mark.parametrize("decision, yes", [("a/x/L1/e1", True), ("a/x/L1/e1/r2", True), ("a/x/L1/e10", False),
                                           ("a/x/L1/e1x", False), (None, False), ("b/x/L1/e1", False)])
def test_an_order_belongs_to_its_incident_and_its_replans_only(decision, yes):
    assert of_incident(decision, "a/x/L1/e1") is yes


class _Counting:
    """The store, counting the audit reads made of it."""

    def __init__(self, store: Any):
        self.store, self.reads = store, 0

    def audit_rows(self, *args: Any, **kw: Any) -> Any:
        self.reads += 1
        return self.store.audit_rows(*args, **kw)


def _intent(decision: str, cid: str, symbol: str = "BTC/USDT:USDT") -> dict:
    return {"decision_id": decision, "client_order_id": cid, "venue": "binanceusdm", "account": "main",
            "symbol": symbol, "side": "sell", "position_side": None, "amount": 2.5, "reduce_only": True,
            "limit_price": 47_040.0, "notional": 120_000.0, "action": "close_all", "reason": "x", "chunk": 1,
            "chunks": 1, "not_before_ms": T0, "group": None}


def test_the_planned_orders_of_an_incident_are_read_from_the_audit_and_on_from_the_last_row(tmp_path):
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    io = StoreIO()
    counting = _Counting(store)
    planned = PlannedOrders(counting, io, keep=2)
    inc = "a/x/L1/e1"
    # a trail written before the tables: one intent a row, read the same
    store.audit_many([(PLANNED_ONE_KIND, T0 - 1, _intent(inc, "too-early")),  # before the entry: another's
                      (PLANNED_ONE_KIND, T0, _intent(inc, "ks1")),
                      ("order_sent", T0, _intent(inc, "not-planned")),
                      (PLANNED_ONE_KIND, T0 + 1, _intent("a/x/L1/e10", "other-incident")),
                      (PLANNED_ONE_KIND, T0 + 2, _intent(inc + "/r1", "ks2", "ETH/USDT:USDT"))])

    async def go() -> None:
        rows, total = await planned.of(inc, T0)
        assert total == 2 and [r.client_order_id for r in rows] == ["ks1", "ks2"]
        assert rows[1] == PlannedRow("ks2", inc + "/r1", "binanceusdm/main", "ETH/USDT:USDT", "sell", None, 2.5,
                                     True, 47_040.0, 120_000.0, "close_all", T0 + 2)
        reads = counting.reads
        # as a dry run audits now: a table of intents a row, another incident's among them
        table = planned_payloads([OrderIntent(**_intent(inc, "ks3")), OrderIntent(**_intent("a/y/L2/e1", "ks-y")),
                                  OrderIntent(**_intent(inc + "/r2", "ks4", "SOL/USDT:USDT"))])
        store.audit_many([(PLANNED_KIND, T0 + 3, doc) for doc in table])
        rows, total = await planned.of(inc, T0)  # one read, from the last row seen on
        assert counting.reads == reads + 1
        assert total == 4 and [r.client_order_id for r in rows] == ["ks3", "ks4"]  # the latest ``keep``
        assert rows[1] == PlannedRow("ks4", inc + "/r2", "binanceusdm/main", "SOL/USDT:USDT", "sell", None, 2.5,
                                     True, 47_040.0, 120_000.0, "close_all", T0 + 3)
        planned.keep_only([])
        rows, total = await planned.of(inc, T0)  # forgotten: read again from the start, the same answer
        assert total == 4 and [r.client_order_id for r in rows] == ["ks3", "ks4"]

    try:
        asyncio.run(asyncio.wait_for(go(), 30))
    finally:
        io.close()
        store.close()


def test_an_operator_halt_without_a_stage_is_halted_in_the_tab():
    book = LockBook().apply("global", "halted", now_ms=T0 - 1000, policy=OPERATOR, reason="desk call")
    m = page_model(_status(0), (True, "LEADER"), book.to_doc(T0), {}, (), ())
    assert m["alert"]["state"] == "halted" and m["alert"]["title"] == "HALTED"


def test_an_incident_card_says_the_operators_lock_keeps_its_account_halted():
    """An operator's halt placed before a stage that leaves by itself outlives it: the card says so."""
    from killswitch.runner.operator.commands import operator_lock

    book = operator_lock(LockBook(), ACC, "halted", "bot-a misbehaving", T0 - 90_000, None, actor="alice")
    book = book.apply(ACC, "reducing", now_ms=T0 - 60_000, policy="bot-guard", stage=1, ttl_ms=600_000)
    m = page_model(_status(1), (True, "LEADER"), book.to_doc(T0), {}, (), (_incident(),))
    [card] = m["incidents"]
    assert card["kept_locked"] == "the account stays halted by alice's lock (ksctl unlock)"
    assert "the account stays halted by alice's lock (ksctl unlock)" in text_of(render(m))
    own = LockBook().apply(ACC, "reducing", now_ms=T0 - 60_000, policy="bot-guard", stage=1, ttl_ms=600_000)
    [alone] = page_model(_status(1), (True, "LEADER"), own.to_doc(T0), {}, (), (_incident(),))["incidents"]
    assert alone["kept_locked"] is None
