"""``ksctl status`` says what the runner itself cannot do: pages that reach nobody, accounts it
cannot read (beside their data age), a reload that failed and the graph still running; the JSON
carries the same fields, and an older client's document (without them) still decodes."""

from __future__ import annotations

import dataclasses
import json

from killswitch.client import LockDocument
from killswitch.render.status import status_json, status_text
from killswitch.view import CoverageStatus, ReceiverFailure, RunnerStatus, decode

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
UNLOCKED = LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)


def status(**kw) -> RunnerStatus:
    base = dict(mode="live", leader=True, fence=3, graph_digest="sha256:abc", graph_revision="r1", policy_error=None,
                last_tick_ms=T0 + 300_000, data_age_s={"binanceusdm/main": 42.5})
    return RunnerStatus(**{**base, **kw})


def test_a_healthy_runner_says_nothing_more_than_before():
    text = status_text(status(), UNLOCKED)
    assert "Pages" not in text and "FETCH" not in text and "reload" not in text
    assert "  data age binanceusdm/main: 42.5s" in text.splitlines()


def test_failing_pages_fetches_and_reload_each_get_their_line():
    st = status(
        policy_error="policies/book.yaml:3:1: error[KS104]: ... (1 error(s))",
        fetch_errors={"binanceusdm/main": {"code": "EXCHANGE_UNAVAILABLE", "message": "snapshot: connection refused",
                                           "since_ms": T0 + 60_000, "failures": 13, "last_ms": T0 + 295_000},
                      "okx/other": {"code": "AUTH", "message": "bad key", "since_ms": T0, "failures": 2,
                                    "last_ms": T0 + 5_000}},
        pages_failing=(ReceiverFailure("desk", "desk-chat", "connection refused", T0 + 5_000, 3),
                       ReceiverFailure("desk", "pager", "HTTP 401", T0 + 65_000, 1)),
        pages_failing_since_ms=T0 + 5_000, reload_ok=False, last_good_reload_ms=T0 - 3_600_000,
        reload_failed_ms=T0 + 200_000)
    lines = status_text(st, UNLOCKED).splitlines()
    assert "policies: reload FAILED at 2026-03-02T13:03:20Z, running the graph loaded at 2026-03-02T12:00:00Z" \
        in lines
    assert "Pages are failing since 13:00:05Z: desk/desk-chat: connection refused (3 failed rounds), no fallback " \
           "receiver has delivered its pages; desk/pager: HTTP 401, no fallback receiver has delivered its pages" \
        in lines
    assert "  data age binanceusdm/main: 42.5s  FETCH FAILING since 13:01:00Z (13 in a row): EXCHANGE_UNAVAILABLE: " \
           "snapshot: connection refused" in lines
    assert "  data age okx/other: -  FETCH FAILING since 13:00:00Z (2 in a row): AUTH: bad key" in lines
    doc = json.loads(status_json(st, UNLOCKED))
    assert doc["pages_failing"][0] == {"document": "desk", "receiver": "desk-chat", "cause": "connection refused",
                                       "since_ms": T0 + 5_000, "failures": 3, "fallback": None, "fallback_ms": None}
    assert doc["fetch_errors"]["binanceusdm/main"]["failures"] == 13
    assert doc["reload_ok"] is False and doc["last_good_reload_ms"] == T0 - 3_600_000
    assert decode(RunnerStatus, json.loads(json.dumps(dataclasses.asdict(st)))) == st


def test_a_status_from_an_older_runner_decodes_with_the_defaults():
    doc = json.loads(json.dumps(dataclasses.asdict(status())))
    for name in ("fetch_errors", "pages_failing", "pages_failing_since_ms", "reload_ok", "last_good_reload_ms",
                 "reload_failed_ms"):
        del doc[name]
    st = decode(RunnerStatus, doc)
    assert st.reload_ok and st.pages_failing == () and st.fetch_errors == {}


def test_a_shards_runner_names_its_shard_first_and_an_unsharded_one_does_not():
    sharded = status_text(status(shard="desk-a"), UNLOCKED).splitlines()[0]
    assert sharded.startswith("shard desk-a  mode live  leader (fence 3)")
    assert not status_text(status(), UNLOCKED).startswith("shard")
    doc = json.loads(status_json(status(shard="desk-a"), UNLOCKED))
    assert doc["shard"] == "desk-a"
    doc.pop("lock")
    assert decode(RunnerStatus, doc).shard == "desk-a"


def test_a_failing_receiver_names_the_fallback_that_delivered_its_pages():
    st = status(pages_failing=(ReceiverFailure("desk", "pager", "connection refused", T0 + 5_000, 3,
                                               fallback="audit-webhook", fallback_ms=T0 + 61_000),),
                pages_failing_since_ms=T0 + 5_000)
    assert ("Pages are failing since 13:00:05Z: desk/pager: connection refused (3 failed rounds), its failed pages "
            "go to the fallback desk/audit-webhook (the latest at 13:01:01Z)") in status_text(st, UNLOCKED).splitlines()
    # a fallback whose time is not known: none said, never "(the latest at -)" (walk 12's L1)
    st = status(pages_failing=(ReceiverFailure("desk", "pager", "connection refused", T0 + 5_000, 3,
                                               fallback="audit-webhook", fallback_ms=None),),
                pages_failing_since_ms=T0 + 5_000)
    assert ("Pages are failing since 13:00:05Z: desk/pager: connection refused (3 failed rounds), its failed pages "
            "go to the fallback desk/audit-webhook") in status_text(st, UNLOCKED).splitlines()


def test_what_can_lose_money_comes_before_the_configurations_noise():
    st = status(
        policy_error="policies/book.yaml:3:1: error[KS104]: ... (1 error(s))",
        coverage=(CoverageStatus("spot-book", "(none)", "unmatched", "UNMATCHED", "the scope selects no account",
                                 T0, None, None),),
        pages_failing=(ReceiverFailure("desk", "pager", "HTTP 401", T0 + 65_000, 1),), pages_failing_since_ms=T0,
        close_rejections=({"incident": "book/binanceusdm/main/L1/e1", "account": "binanceusdm/main",
                           "symbol": "BTC/USDT:USDT", "leg": "long", "state": "CLOSE_REJECTED", "tries": 2, "bound": 2,
                           "kind": "permanent", "reason": "REDUCE_ONLY_REJECTED", "venue_said": "-2022",
                           "next_ms": None, "first_ms": T0},))
    lines = status_text(st, UNLOCKED).splitlines()
    first = {tag: next(n for n, x in enumerate(lines) if tag in x)
             for tag in ("CLOSE_REJECTED", "UNMATCHED", "Pages are failing", "POLICY RELOAD FAILED")}
    # the refused close right after the header, before the reload, the pages and the typo'd scope
    assert first["CLOSE_REJECTED"] == 1 and first["CLOSE_REJECTED"] < min(
        first["UNMATCHED"], first["Pages are failing"], first["POLICY RELOAD FAILED"]), lines
