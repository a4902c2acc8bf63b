"""The console's page model (killswitch/face/console/model.py) and the view it renders, from
hand-made status values: the lock each row's orders get (the same answer as check-order), the
runner's own health — a late tick, blind and unmatched policies, pages that reach nobody,
failing fetches, a failed reload — and the ages the page's script keeps counting."""

from __future__ import annotations

import html.parser
import re
from typing import Any, Optional

import pytest

from killswitch.face.console.http import environment
from killswitch.face.console.model import page_model, spelled, stalled_after_s
from killswitch.runner.gate.gate import check_order
from killswitch.runner.lock.lock import OPERATOR, LockBook
from killswitch.view import BlindTrigger, CoverageStatus, ReceiverFailure, RunnerStatus, ScopeStatus, decode

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
ACC = "binanceusdm/main"
OTHER = "binanceusdm/other"
SYMBOL = "BTC/USDT:USDT"


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("p", "div", "li", "dt", "dd", "td", "th", "tr", "section", "h2", "h3"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_of(page: str) -> str:
    """What a reader sees of ``page``: its text, whitespace collapsed."""
    p = _Text()
    p.feed(page)
    return re.sub(r"\s+", " ", "".join(p.parts))


def status(scopes: tuple[str, ...] = (ACC,), *, last_tick_ms: Optional[int] = T0 - 5_000,
           data_age_s: Optional[dict] = None, policy_error: Optional[str] = None, **kw: Any) -> RunnerStatus:
    rows = tuple(ScopeStatus("futures-book", s, 0, None, False, (), 0, None) for s in scopes)
    return RunnerStatus("live", True, 3, "sha256:" + "ab" * 32, None, policy_error, last_tick_ms, rows,
                        {ACC: 2.0} if data_age_s is None else data_age_s, **kw)


def model(st: RunnerStatus, book: LockBook = LockBook(), dms: Optional[dict] = None) -> dict:
    return page_model(st, (True, "LEADER"), book.to_doc(T0), dms or {}, (), ())


def render(m: dict) -> str:
    return environment().get_template("view.html.j2").render(**m)


def row(m: dict, scope: str, policy: str = "futures-book") -> dict:
    return next(r for r in m["scopes"] if r["scope"] == scope and r["policy"] == policy)


def halted(scope: str, policy: str = "portfolio-breaker", stage: Optional[int] = 2) -> LockBook:
    return LockBook().apply(scope, "halted", now_ms=T0 - 60_000, policy=policy, stage=stage)


# --- the Lock column: the lock that binds each row, as check-order answers (finding 7) -------------------


@pytest.mark.parametrize("book, scope, shown", [
    (halted("global"), ACC, "halted, via global (portfolio-breaker stage 2)"),
    (halted("binanceusdm"), ACC, "halted, via binanceusdm (portfolio-breaker stage 2)"),
    (halted("global", OPERATOR, None), ACC, "halted, via global (operator)"),
    (halted(ACC, "bot-guard", 1), ACC, "halted by policy bot-guard stage 1"),
    (halted(OTHER), ACC, "trading allowed"),
    (halted("global"), "global", "halted by policy portfolio-breaker stage 2"),
    # a venue's lock binds its accounts' orders, not those named by a symbol scope
    (halted("binanceusdm"), SYMBOL, "trading allowed"),
    (LockBook().apply(ACC, "reducing", now_ms=T0 - 1_000, policy="desk", stage=1)
     .apply("global", "halted", now_ms=T0 - 1_000, policy="portfolio-breaker", stage=2),
     ACC, "halted, via global (portfolio-breaker stage 2)"),
])
def test_a_row_shows_the_lock_that_binds_it_as_check_order_answers(book, scope, shown):
    page = text_of(render(model(status((scope,)), book)))
    assert shown in page, page
    if shown != "trading allowed":
        assert "trading allowed" not in page
    # the same answer as check-order for an order of that row (an account scope names its account)
    named = {"account": scope} if scope == ACC else {"scope": scope}
    order = {"symbol": SYMBOL, "side": "buy", "amount": 1.0, **named}
    decision = check_order(book, order, [], T0)
    assert decision.reason.startswith("HALTED") == shown.startswith("halted"), decision


def test_an_account_read_only_through_its_failing_fetches_is_still_bound_by_its_venue():
    st = status((ACC,), data_age_s={}, fetch_errors={ACC: {"code": "NETWORK", "message": "connection refused",
                                                           "since_ms": T0 - 30_000, "failures": 6, "last_ms": T0}})
    assert row(model(st, halted("binanceusdm")), ACC)["lock"]["text"] == \
        "halted, via binanceusdm (portfolio-breaker stage 2)"


def test_a_trading_windows_lock_has_no_stage_and_names_its_window_once():
    """Issue 81: a window's lock (spec.lock_trading) read "stage -1" in the console, and its
    window was said twice on a line: it is the policy's trading window's, said once, as
    ``ksctl status`` says it."""
    from killswitch.client import LockDocument
    from killswitch.render.status import status_text
    from killswitch.runner.lock.evaluation import WINDOW_STAGE

    reason = "TRADING_WINDOW: policy=crash-ladder lock_trading reducing during fixing"
    book = LockBook().apply(ACC, "reducing", now_ms=T0 - 60_000, policy="crash-ladder", stage=WINDOW_STAGE,
                            reason=reason, ttl_ms=120_000, details={"window": "during fixing"})
    window = {"policy": "crash-ladder", "what": "lock", "level": None, "window": "during fixing", "open": True,
              "next_change_ms": T0 + 60_000, "text": "reducing lock until Mon 13:01 UTC (during fixing)"}
    st = status(windows=(window,))
    m = model(st, book)
    page = text_of(render(m))
    assert "stage -1" not in page, page
    assert row(m, ACC)["lock"]["text"] == "reducing by policy crash-ladder's trading window (spec.lock_trading)"
    held = next(lk for lk in m["locks"] if lk["scope"] == ACC)
    assert held["origin"] == "policy crash-ladder's trading window (spec.lock_trading)", held
    line = page[page.index("crash-ladder: reducing lock until"):]
    line = line[:line.index("Mon 13:01 UTC") + 200]
    assert line.count("(during fixing)") == 1, line
    # ksctl status: the hold's line says the window once (in its reason), never a stage
    [lock] = [x for x in status_text(st, decode(LockDocument, book.to_doc(T0))).splitlines()
              if x.startswith(f"  LOCK {ACC}:")]
    assert lock.count("during fixing") == 1 and "stage" not in lock, lock
    assert "by policy crash-ladder's trading window (spec.lock_trading)" in lock, lock


# --- coverage: armed, blind, unmatched (finding 2 and 1 in the console) ----------------------------------


def blind(policy: str = "futures-book", scope: str = ACC, until_ms: Optional[int] = T0 + 11 * 60_000,
          while_blind: Optional[str] = None) -> CoverageStatus:
    detail = "dd_15m, dd_1h: INSUFFICIENT_HISTORY: coverage=40% min=80%"
    return CoverageStatus(policy, scope, "blind", "INSUFFICIENT_HISTORY", detail, T0 - 60_000, until_ms, while_blind,
                          (BlindTrigger("dd_15m", "INSUFFICIENT_HISTORY", "dd_15m: INSUFFICIENT_HISTORY: "
                                        "coverage=40% min=80%", until_ms),))


def test_a_scope_without_coverage_is_never_called_armed():
    m = model(status())
    page = text_of(render(m))
    scopes = page.split(" Scopes ", 1)[1].split(" Trading locks ", 1)[0]
    assert row(m, ACC)["stage"] == "no stage" and row(m, ACC)["coverage"] is None
    assert "armed" not in scopes.replace("Armed", "") and "not reported" in scopes, scopes
    assert "BLIND" not in page and "NO ACCOUNT" not in page


def test_a_blind_scope_has_an_amber_cell_and_a_banner_saying_until_when():
    st = status((ACC, OTHER), data_age_s={ACC: 2.0, OTHER: 2.0},
                coverage=(blind(), CoverageStatus("futures-book", OTHER, "armed", None, "", T0 - 60_000, None, None)))
    m = model(st)
    page = render(m)
    text = text_of(page)
    assert "1 POLICY BLIND" in text
    # armed again at 13:11: it can fire by then, never "can fire again: not known" (issue 81)
    assert ("futures-book on binanceusdm/main: dd_15m, dd_1h: INSUFFICIENT_HISTORY: coverage=40% min=80%; "
            "armed again at 13:11 UTC (in 11m)") in text, text
    assert "can fire again: not known" not in text, text
    assert re.search(r'<td class="cov-blind"><strong>BLIND</strong>: dd_15m, dd_1h: INSUFFICIENT_HISTORY', page)
    assert "while blind: no action" in text
    assert row(m, OTHER)["coverage"]["state"] == "armed" and '<span class="pill armed">armed</span>' in page
    # the countdown carries its time, for the page's script
    assert f'data-ts="{T0 + 11 * 60_000}" data-form="ago">in 11m<' in page


def test_a_blind_scope_says_what_it_does_meanwhile_and_when_its_end_is_unknown():
    m = model(status(coverage=(blind(until_ms=None, while_blind="lock_trading: reducing"),)))
    text = text_of(render(m))
    assert "armed again: not known" in text and "while blind: lock_trading: reducing" in text
    assert text.count("can fire again: not known") == 2, text  # the banner's detail and the cell: nothing says it


def test_an_unmatched_policy_is_a_red_row_and_banner_with_nothing_to_act_on():
    typo = CoverageStatus("futures-book", "(none)", "unmatched", "UNMATCHED",
                          "scope selects no account: match_labels {book: futurs}; labels that exist: book=futures",
                          T0 - 60_000, None, None)
    m = model(status((), data_age_s={}, coverage=(typo,)))
    page = render(m)
    text = text_of(page)
    assert "1 POLICY MATCHES NO ACCOUNT: it protects nothing: futures-book" in text
    assert "MATCHES NO ACCOUNT: scope selects no account: match_labels {book: futurs}" in text
    assert '<td class="cov-unmatched">' in page
    r = row(m, "(none)")
    assert r["unmatched"] and not r["can_unlock"] and not r["can_reset"]
    assert 'data-scope="(none)"' not in page  # no lock or close offered on a scope that is not one
    assert "BLIND" not in text


def test_a_policy_allow_empty_lets_select_nothing_is_a_quiet_row_and_no_banner():
    ahead = CoverageStatus("next-book", "(none)", "unmatched", "UNMATCHED_ALLOWED",
                           "the scope (labels{book=next}) selects no account (allowed: allow_empty: true)",
                           T0 - 60_000, None, None)
    m = model(status((), data_age_s={}, coverage=(ahead,)))
    page = render(m)
    text = text_of(page)
    assert m["unmatched"] == [] and "MATCHES NO ACCOUNT" not in text and "protects nothing" not in text
    assert ("matches no account (allowed): the scope (labels{book=next}) selects no account (allowed: "
            "allow_empty: true)") in text, text
    assert '<td class="cov-unmatched-allowed">' in page and '<td class="cov-unmatched">' not in page
    r = row(m, "(none)", policy="next-book")
    assert r["unmatched"] and r["coverage"]["state"] == "unmatched" and r["coverage"]["allowed"]


# --- the runner's own failures: pages, fetches, reloads, a late tick (findings 3, 5, 6, 4) --------------


def test_failing_pages_are_a_banner_naming_each_receiver_and_its_cause():
    st = status(pages_failing=(ReceiverFailure("example-routes", "fallback", "connection refused", T0 - 300_000, 16),
                               ReceiverFailure("example-routes", "desk-chat", "HTTP 401", T0 - 120_000, 1)),
                pages_failing_since_ms=T0 - 300_000)
    text = text_of(render(model(st)))
    assert ("PAGES ARE FAILING: example-routes/fallback failing since 12:55:00 UTC (5m ago), "
            "example-routes/desk-chat failing since 12:58:00 UTC (2m ago)") in text, text
    assert "example-routes/fallback: connection refused (16 failed rounds since 12:55:00 UTC (5m ago))" in text
    assert "example-routes/desk-chat: HTTP 401 (1 failed round since 12:58:00 UTC (2m ago))" in text
    assert "PAGES ARE FAILING" not in text_of(render(model(status())))


def test_failing_pages_say_whether_the_fallback_receiver_got_them():
    # a receiver whose pages the fallback delivered is told apart from one whose pages reached nobody
    st = status(pages_failing=(ReceiverFailure("desk", "pager", "connection refused", T0 - 300_000, 12,
                                               fallback="audit-webhook", fallback_ms=T0 - 60_000),
                               ReceiverFailure("desk", "desk-chat", "HTTP 401", T0 - 120_000, 2)),
                pages_failing_since_ms=T0 - 300_000)
    text = text_of(render(model(st)))
    assert ("desk/pager: connection refused (12 failed rounds since 12:55:00 UTC (5m ago)); its failed pages go to "
            "the fallback desk/audit-webhook (the latest at 12:59:00 UTC (1m ago))") in text, text
    assert ("desk/desk-chat: HTTP 401 (2 failed rounds since 12:58:00 UTC (2m ago)); no fallback receiver has "
            "delivered its pages") in text, text


def test_the_failing_pages_line_says_the_fallback_took_their_pages_as_status_does():
    # the walk: pager and desk-chat failing, the fallback delivering each one's pages; the one line
    # (the first screen, before the detail opens) says where they went, not only that they fail
    st = status(pages_failing=(ReceiverFailure("desk", "desk-chat", "secret not resolved", T0 - 300_000, 9,
                                               fallback="audit-webhook", fallback_ms=T0 - 120_000),
                               ReceiverFailure("desk", "pager", "secret not resolved", T0 - 300_000, 9,
                                               fallback="audit-webhook", fallback_ms=T0 - 60_000)),
                pages_failing_since_ms=T0 - 300_000)
    m = model(st)
    line = ("desk/desk-chat failing since 12:55:00 UTC (5m ago), desk/pager failing since 12:55:00 UTC (5m ago); "
            "their failed pages go to the fallback desk/audit-webhook (the latest at 12:59:00 UTC (1m ago))")
    assert m["standing"]["pages"].line == line
    page = render(m)
    summary = page[page.index('data-keep="problem-pages"'):]
    assert text_of(summary[:summary.index("</summary>")]).endswith(f"PAGES ARE FAILING: {line}"), summary
    # one delivered by the fallback, one by nobody: each named
    st = status(pages_failing=(ReceiverFailure("desk", "pager", "HTTP 503", T0 - 300_000, 3,
                                               fallback="audit-webhook", fallback_ms=T0 - 60_000),
                               ReceiverFailure("desk", "desk-chat", "HTTP 401", T0 - 120_000, 2)))
    m = model(st)
    assert m["standing"]["pages"].line.endswith(
        "; desk/pager's failed pages go to the fallback desk/audit-webhook (the latest at 12:59:00 UTC (1m ago)); "
        "no fallback receiver has delivered desk/desk-chat's pages"), m["standing"]["pages"].line
    assert "no fallback receiver has delivered desk/desk-chat's pages" in text_of(render(m))
    # a fallback whose time is missing: the line and the detail say where the pages went with no time,
    # never an empty "(the latest at ())" (walk 12's L1), and the page renders
    st = status(pages_failing=(ReceiverFailure("desk", "desk-chat", "secret not resolved", T0 - 300_000, 9,
                                               fallback="audit-webhook", fallback_ms=None),
                               ReceiverFailure("desk", "pager", "secret not resolved", T0 - 300_000, 9,
                                               fallback="audit-webhook", fallback_ms=None)))
    m = model(st)
    assert m["standing"]["pages"].line.endswith("; their failed pages go to the fallback desk/audit-webhook")
    text = text_of(render(m))
    assert "PAGES ARE FAILING: " in text and "the latest at" not in text and "()" not in text, text
    assert ("desk/pager: secret not resolved (9 failed rounds since 12:55:00 UTC (5m ago)); its failed pages go to "
            "the fallback desk/audit-webhook LIVE") in text, text
    st = status(pages_failing=(ReceiverFailure("desk", "pager", "secret not resolved", T0 - 60_000, 0),))
    assert model(st)["standing"]["pages"].line == "desk/pager failing since 12:59:00 UTC (1m ago)"


def test_a_receiver_known_unreachable_before_any_page_is_in_the_banner():
    cause = "secret not resolved: {file: /var/run/secrets/killswitch/pager-url} does not exist"
    st = status(pages_failing=(ReceiverFailure("desk", "pager", cause, T0 - 60_000, 0),),
                pages_failing_since_ms=T0 - 60_000)
    text = text_of(render(model(st)))
    assert "PAGES ARE FAILING: desk/pager failing since 12:59:00 UTC (1m ago)" in text, text
    assert f"desk/pager: {cause} (no page tried yet since 12:59:00 UTC (1m ago))" in text


def test_pages_failing_counts_from_the_receiver_still_failing_not_one_that_recovered():
    # the run of failures began with another receiver, since recovered: desk/pager's own since is shown
    st = status(pages_failing=(ReceiverFailure("desk", "pager", "HTTP 503", T0 - 60_000, 2),),
                pages_failing_since_ms=T0 - 600_000)
    m = model(st)
    assert m["standing"]["pages"].line == ("desk/pager failing since 12:59:00 UTC (1m ago); no fallback receiver "
                                      "has delivered its pages")
    text = text_of(render(m))
    assert "PAGES ARE FAILING: desk/pager failing since 12:59:00 UTC (1m ago)" in text, text
    assert "reaching none" not in text and "12:50:00" not in text


def test_a_failing_fetch_shows_its_error_beside_the_highlighted_data_age():
    st = status((ACC,), data_age_s={ACC: 75.0, OTHER: 4.0, "okx/late": 400.0},
                fetch_errors={ACC: {"code": "NETWORK", "message": "simulated: connection refused",
                                    "since_ms": T0 - 75_000, "failures": 13, "last_ms": T0 - 5_000},
                              "okx/new": {"code": "AUTH", "message": "401 invalid key", "since_ms": T0 - 10_000,
                                          "failures": 2, "last_ms": T0}})
    m = model(st)
    ages = {a["account"]: a for a in m["data_ages"]}
    assert {k: a["state"] for k, a in ages.items()} == {ACC: "failing", OTHER: "ok", "okx/late": "stale",
                                                         "okx/new": "failing"}
    page = render(m)
    text = text_of(page)
    assert ("1m 15s FAILING NETWORK: simulated: connection refused 13 failed fetches in a row, since 12:58:45 UTC"
            in text), text
    assert "never read FAILING AUTH: 401 invalid key" in text and "6m 40s STALE" in text
    assert '<td class="num age-failing">' in page and '<td class="num age-stale">' in page
    assert f'data-ts="{T0 - 75_000}" data-form="age">1m 15s<' in page


def test_a_failed_reload_is_a_banner_until_a_good_one_with_the_graph_in_force():
    st = status(reload_ok=False, last_good_reload_ms=T0 - 3_600_000)
    text = text_of(render(model(st)))
    assert "POLICIES: RELOAD FAILED: the last good graph keeps running (loaded at 12:00:00 UTC)" in text
    assert "The last good graph keeps running (loaded at 12:00:00 UTC (1h ago))." in text
    assert "Policies reload failed" in text
    good = text_of(render(model(status(last_good_reload_ms=T0 - 3_600_000))))
    assert "RELOAD FAILED" not in good and "Policies loaded at 12:00:00 UTC" in good
    assert "RELOAD FAILED" in text_of(render(model(status(policy_error="KS104: unknown trigger"))))


@pytest.mark.parametrize("tick_age_s, interval_s, stalled", [
    (5, 5.0, False), (30, 5.0, False), (45, 5.0, True), (45, 60.0, False), (200, 60.0, True)])
def test_a_late_tick_is_a_stalled_banner_and_health(tick_age_s, interval_s, stalled):
    m = model(status(last_tick_ms=T0 - tick_age_s * 1000, tick_interval_s=interval_s))
    page = render(m)
    assert m["health"] == ("stalled" if stalled else "ok") and f'data-health="{m["health"]}"' in page
    assert ("TICK STALLED" in page) == stalled
    if stalled:
        late = spelled(stalled_after_s(interval_s))
        assert f"TICK STALLED: last tick {spelled(tick_age_s)} ago (late after {late})" in text_of(page)
        assert f'data-ts="{T0 - tick_age_s * 1000}" data-form="spelled"' in page


def test_every_age_carries_its_time_for_the_script_to_count():
    dms = {"sources": {"bot-x": {"armed": True, "last_beat_age_s": 12.0, "timeout_s": 60.0, "fires_in_s": 48.0}},
           "native": {ACC: {"countdown_s": 60.0, "last_refresh_age_s": 3.0, "cancels_in_s": 57.0}},
           "listening_since_ts": "2026-03-02T12:00:00.000Z"}
    page = render(model(status(), dms=dms))
    assert f'data-now-ms="{T0}"' in page
    for ms, form, shown in [(T0 - 5_000, "ago", "5s ago"), (T0 - 12_000, "ago", "12s ago"),
                            (T0 + 48_000, "left", "48s"), (T0 - 3_000, "ago", "3s ago"), (T0 + 57_000, "left", "57s"),
                            (T0 - 2_000, "age", "2s"), (T0 - 3_600_000, "ago", "1h ago")]:
        assert f'data-ts="{ms}" data-form="{form}">{shown}<' in page, (ms, form, shown)


def test_what_the_status_says_is_escaped_on_the_page():
    evil = "<img src=x onerror=alert(1)>"
    st = status(coverage=(CoverageStatus("futures-book", ACC, "blind", "MISSING_DATA", evil, None, None, evil),),
                pages_failing=(ReceiverFailure("r", "x", evil, T0, 1),),
                fetch_errors={ACC: {"code": evil, "message": evil, "since_ms": T0, "failures": 1, "last_ms": T0}})
    page = render(model(st))
    assert evil not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_new_status_fields_read_back_as_the_runner_sent_them():
    st = status(coverage=(blind(),), pages_failing=(ReceiverFailure("d", "r", "timeout after 10s", T0, 2),),
                pages_failing_since_ms=T0, reload_ok=False, last_good_reload_ms=T0 - 1, tick_interval_s=5.0,
                fetch_errors={ACC: {"code": "NETWORK", "message": "m", "since_ms": T0, "failures": 1, "last_ms": T0}})
    import dataclasses
    import json

    from killswitch.face.api.render import plain as _plain

    assert decode(RunnerStatus, json.loads(json.dumps(_plain(st)))) == st
    old = {f.name: v for f, v in zip(dataclasses.fields(RunnerStatus), dataclasses.astuple(st)) if f.name in
           ("mode", "leader", "fence", "graph_digest", "graph_revision", "policy_error", "last_tick_ms")}
    back = decode(RunnerStatus, old)  # an older runner's status: nothing blind, nothing failing
    assert back.coverage == () and back.fetch_errors == {} and back.reload_ok and back.pages_failing == ()


def test_the_runner_reports_the_pace_it_ticks_at(tmp_path):
    from tests.unit.runner.operator.rig import make

    w = make(tmp_path)  # one policy, interval 5s: the daemon ticks every 5 s, late after 30 s
    try:
        assert w.desk.status().tick_interval_s == 5.0
        assert stalled_after_s(w.desk.status().tick_interval_s) == 30.0
    finally:
        w.store.close()


def test_a_degraded_stream_is_a_banner_and_each_account_says_how_it_is_read():
    streams = {ACC: {"state": "stale", "reason": "STREAM_STALE", "since_ms": T0 - 20_000,
                     "last_message_ms": T0 - 30_000, "last_message_age_s": 30.0, "reconnects": 2,
                     "disagreements": 1, "reconciles": 4, "dropped": {"duplicate": 3}, "degraded": True},
               OTHER: {"state": "live", "reason": None, "since_ms": T0 - 60_000, "last_message_ms": T0 - 1_000,
                       "last_message_age_s": 1.0, "reconnects": 0, "disagreements": 0, "reconciles": 2,
                       "dropped": {}, "degraded": False}}
    m = model(status(data_age_s={ACC: 2.0, OTHER: 1.0, "okx/main": 3.0}, streams=streams))
    assert [s["account"] for s in m["streams_degraded"]] == [ACC]
    assert {a["account"]: a["state"] for a in m["data_ages"]} == {ACC: "ok", OTHER: "ok", "okx/main": "ok"}, \
        "a stale stream with REST answering is degraded, not stale data"
    text = text_of(render(m))
    assert f"1 STREAM DEGRADED: polled over REST: {ACC} Polled over REST at the policy interval" in text, text
    assert ("until live and reconciled again (not blind while REST answers). "
            f"{ACC}: STREAM_STALE, last message 30s ago, since 12:59:40 UTC") in text, text
    assert "DEGRADED STREAM_STALE, polls last message 30s ago; 2 reconnects, 1 disagreement, 3 dropped" in text
    assert "live last message 1s ago; 0 reconnects, 0 disagreements, 0 dropped" in text
    calm = text_of(render(model(status(data_age_s={OTHER: 1.0}, streams={OTHER: streams[OTHER]}))))
    assert "DEGRADED" not in calm


def test_a_streams_last_reconcile_is_in_its_row_and_an_overdue_one_is_a_degraded_banner():
    reconciled = {"state": "live", "reason": None, "since_ms": T0 - 600_000, "last_message_ms": T0 - 1_000,
                  "last_message_age_s": 1.0, "reconnects": 0, "disagreements": 0, "reconciles": 20, "dropped": {},
                  "answers": True, "last_reconcile_ms": T0 - 12_000, "last_reconcile_age_s": 12.0,
                  "reconcile_every_s": 30.0, "reconcile_failures": 0, "reconcile_failure_reason": None,
                  "reconcile_overdue": False, "degraded": False}
    overdue = {**reconciled, "answers": False, "last_reconcile_ms": T0 - 125_000, "last_reconcile_age_s": 125.0,
               "reconcile_failures": 14, "reconcile_failure_reason": "EXCHANGE_UNAVAILABLE",
               "reconcile_overdue": True, "degraded": True}
    m = model(status(data_age_s={ACC: 1.0, OTHER: 1.0}, streams={ACC: overdue, OTHER: reconciled}))
    assert [s["account"] for s in m["streams_degraded"]] == [ACC]
    text = text_of(render(m))
    assert (f"{ACC}: RECONCILE_OVERDUE, last message 1s ago, last reconcile 2m 5s ago (every 30s), 14 failed "
            "since (EXCHANGE_UNAVAILABLE).") in text, text
    assert ("DEGRADED RECONCILE_OVERDUE, polls last message 1s ago; 0 reconnects, 0 disagreements, 0 dropped; "
            "RECONCILE OVERDUE: last reconcile 2m 5s ago (every 30s), 14 failed since (EXCHANGE_UNAVAILABLE)") in text
    assert ("live last message 1s ago; 0 reconnects, 0 disagreements, 0 dropped; last reconcile 12s ago "
            "(every 30s)") in text
    calm = text_of(render(model(status(data_age_s={OTHER: 1.0}, streams={OTHER: reconciled}))))
    assert "DEGRADED" not in calm and "OVERDUE" not in calm and "failed since" not in calm


def test_a_revoked_accounts_keys_are_named_with_their_state_never_a_method():
    trading = {ACC: {"shown": "revoked (read back)", "revoked": True, "read_back": True,
                     "keys": {"bot-a-key": "revoked", "bot-b-key": "revoked"}, "holds": [], "owed": None}}
    text = text_of(render(model(status(trading=trading))))
    assert f"Trading revoked {ACC}: revoked (read back); keys bot-a-key revoked, bot-b-key revoked" in text, text
    assert "built-in method" not in text


def test_the_trading_locked_line_names_every_scope_a_lock_binds():
    """Two accounts halted (a stage's and an operator's) and a venue reducing: the standing line names
    them all, halted first, never the first scope alone (fourth walk, issue 65)."""
    book = (LockBook().apply(OTHER, "halted", now_ms=T0 - 60_000, policy="portfolio-breaker", stage=2)
            .apply(ACC, "halted", now_ms=T0 - 30_000, policy=OPERATOR, stage=None)
            .apply("binanceusdm", "reducing", now_ms=T0 - 20_000, policy="futures-book", stage=1))
    line = model(status((ACC, OTHER)), book)["standing"]["lock"].line
    assert line.startswith(f"halted on {ACC}, {OTHER}; reducing on binanceusdm"), line
    assert line.endswith("(3 locks in force)"), line


def test_a_while_blind_hold_is_named_as_such_beside_the_operators_unlockable_lock():
    """Not "a policy's stage holds it … when unlocked" (walk 7, H1): it ends when the scope is
    armed again, and the operator's own lock beside it keeps its Unlock."""
    book = (LockBook().apply(ACC, "reducing", now_ms=T0 - 60_000, policy="futures-book", stage=0,
                             reason="WHILE_BLIND: policy=futures-book INSUFFICIENT_HISTORY",
                             details={"while_blind": True, "until_ms": T0 + 600_000})
            .apply(ACC, "halted", now_ms=T0 - 30_000, policy=OPERATOR, reason="by hand", details={"by": "alice"}))
    m = model(status(), book)
    blind = next(h for h in m["locks"] if h["origin"] == "policy futures-book while blind")
    assert not blind["unlockable"] and blind["ends"] == "when the scope is armed again"
    assert blind["not_unlockable"] == "held while the policy is blind; ends when the scope is armed again"
    page = render(m)
    assert "a policy&#39;s stage holds it" not in page and "a policy's stage holds it" not in page
    assert "held while the policy is blind; ends when the scope is armed again" in page
    assert f'data-scope="{ACC}"' in page and "Unlock…" in page  # the operator's own lock


def test_an_accepted_residuals_line_joins_the_venues_words_without_a_period_before_the_semicolon():
    """Walk 12 (issue 65, L10): the Residuals line read '… -2022 ReduceOnly Order is rejected.;
    accepted by alice …'. A residual nobody accepted keeps the venue's words whole."""
    from killswitch.view import ResidualStatus

    said = "1 of 1 orders rejected by the venue: -2022 ReduceOnly Order is rejected."
    accepted = ResidualStatus("manual/x/m1", None, ACC, ACC, "SOL/USDT:USDT", "short", "SHORT", 3.0,
                              "CLOSE_REJECTED", said, T0, T0, accepted={"by": "alice", "reason": "by hand", "ms": T0})
    alone = ResidualStatus("manual/x/m2", None, ACC, ACC, "ETH/USDT:USDT", "long", "LONG", 2.0,
                           "CLOSE_REJECTED", said, T0, T0)
    page = text_of(render(model(status(residuals=(accepted, alone)))))
    assert ".;" not in page, page
    assert "CLOSE_REJECTED: 1 of 1 orders rejected by the venue: -2022 ReduceOnly Order is rejected; accepted by " \
           "alice at 2026-03-02T13:00:00Z: by hand" in page, page
    assert "-2022 ReduceOnly Order is rejected. " in page, page  # the one nobody accepted: as the venue said it


def test_the_firm_kills_hold_names_its_release_and_offers_it_on_a_runner_of_no_shard():
    """Issue 81's walk: the firm-wide kill on a runner of no shard showed its global hold as "at its
    manual reset" and "a policy's stage holds it". It ends when two approvers release it, and the
    row offers the release (the kill's dialog); the view offers the kill itself where no firm strip
    does."""
    from killswitch.holds import KILL_HOLD

    book = LockBook().apply("global", "halted", now_ms=T0 - 30_000, policy=KILL_HOLD, manual=True,
                            reason="FIRM_KILL local: runaway bots (by alice)",
                            details={"directive": "local", "by": "alice", "approvals": []})
    m = model(status(), book)
    held = next(h for h in m["locks"] if h["scope"] == "global")
    assert held["origin"] == "the firm-wide kill" and not held["unlockable"] and held["release"], held
    assert held["ends"] == "when two approvers release it (ksctl kill --firm --release)", held
    page = render(m)
    text = text_of(page)
    assert "at its manual reset" not in text and "a policy's stage holds it" not in text, text
    assert "the firm-wide kill holds it: released only by two distinct approvers" in text
    assert page.count("data-kill-release") == 1 and page.count("data-kill-open") == 1
    assert "data-kill-open" not in render({**m, "firm_strip": {"error": "x", "shards": []}})  # a shard's: the strip's
