"""``plan``, ``replay`` and ``diff -o json`` over the example crash: every decision's attribution,
the risk scores with their components, the send order of its intents, and the positions the two
example policies (and the stages of one) both close, counted once in the net total."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import ROOT

RECORDING = "policies/recordings/futures-crash.jsonl"
COMPONENTS = {"pnl_delta", "current_loss", "liq_proximity", "notional_share", "margin_loss"}


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _book() -> float:
    """The book of the recording: every position at the largest notional it is recorded with."""
    largest: dict[tuple, float] = {}
    for line in (ROOT / RECORDING).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        obj = json.loads(line)
        for s in obj.get("snapshots", [obj]):
            for p in s.get("positions", []):
                key = (s["venue"], s["account"], p["symbol"], p.get("position_side") or p["side"])
                largest[key] = max(largest.get(key, 0.0), p["notional"])
    return sum(largest.values())


def _plan_json(*extra):
    r = run("plan", "--policies", "policies", "--against", RECORDING, "-o", "json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_plan_json_flags_the_positions_two_policies_close_and_nets_them_within_the_book():
    body = _plan_json()
    s = body["summary"]
    assert s["notional"] > 2_000_000  # gross: every close of every decision
    assert s["net_notional"] == pytest.approx(671_162, abs=1)  # BTC 273,833 + ETH 265,598 + SOL 131,731
    assert s["net_notional"] <= _book()
    assert s["positions_closed"] == 3
    by_position = {o["position"]: o for o in s["overlaps"]}
    assert set(by_position) == {"binanceusdm/binance-futures-main/BTC/USDT:USDT/LONG",
                                "binanceusdm/binance-futures-main/ETH/USDT:USDT/LONG",
                                "binanceusdm/binance-futures-main/SOL/USDT:USDT/SHORT"}
    for o in s["overlaps"]:
        assert o["policies"] == ["portfolio-breaker", "futures-book"]
        assert o["net_notional"] == max(c["notional"] for c in o["closes"] if c["amount"] == o["net_amount"])
    btc = by_position["binanceusdm/binance-futures-main/BTC/USDT:USDT/LONG"]
    assert [(c["policy"], c["stage"], c["amount"]) for c in btc["closes"]] == [
        ("portfolio-breaker", 2, 5), ("futures-book", 1, 2.5), ("futures-book", 2, 5), ("futures-book", 3, 5)]


def test_plan_json_carries_attribution_scores_and_send_order():
    body = _plan_json()
    changes = {(c["policy"], c["to"]): c for c in body["changes"]}
    top = changes[("futures-book", 1)]
    assert top["attribution"]["side"] == "LONG" and top["attribution"]["short_decline"] == 0
    assert top["attribution"]["long_share"] == 1.0 and top["attribution"]["excluded"] == 0
    scores = top["scores"]
    assert scores["listing"] == "top" and scores["positions"] == scores["listed"] == 3
    assert [e["rank"] for e in scores["entries"]] == [1, 2, 3]
    for e in scores["entries"]:
        assert set(e["components"]) == COMPONENTS
        assert sum(c["weighted"] for c in e["components"].values()) == pytest.approx(e["score"])
        for name, c in e["components"].items():
            assert 0 <= c["value"] <= 1 and c["weighted"] == pytest.approx(c["value"] * scores["weights"][name])
    # what the stage cut is what ranked there: ETH near its liquidation price, then BTC
    assert [(e["symbol"], e["closed"]) for e in scores["entries"]] == [
        ("ETH/USDT:USDT", True), ("BTC/USDT:USDT", True), ("SOL/USDT:USDT", False)]
    # cancels first, then the orders in the order they are listed
    for c in body["changes"]:
        seqs = [x["send_seq"] for x in c["cancels"]] + [o["send_seq"] for o in c["orders"]]
        assert seqs == list(range(1, len(seqs) + 1))
    assert changes[("portfolio-breaker", 1)]["scores"] is None  # a lock and a notification: nothing ranked


def test_plan_scores_none_and_all():
    assert all(c["scores"] is None for c in _plan_json("--scores", "none")["changes"])
    every = [c["scores"] for c in _plan_json("--scores", "all")["changes"] if c["scores"]]
    assert every and all(t["listing"] == "all" and t["listed"] == t["positions"] for t in every)


def test_plan_text_shows_the_attribution_the_send_order_and_the_overlap_warning():
    r = run("plan", "--policies", "policies", "--against", RECORDING)
    assert r.exit_code == 0, r.output
    out = r.output
    assert "attribution LONG: long decline" in out
    assert "~ #1 cancel binanceusdm/binance-futures-main" in out and "- #2 sell" in out
    assert "Overlapping closes: 3 position(s) closed by more than one decision, 3 by more than one policy" in out
    assert "≈671,162 net of overlaps" in out.splitlines()[-1]


def test_replay_json_carries_the_same_decisions():
    r = run("replay", "--policies", "policies", "--snapshots", RECORDING, "-o", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    plans = [s["plan"] for t in body["ticks"] for s in t["scopes"] if s["plan"]]
    assert len(plans) == 5
    for p in plans:
        assert set(p["attribution"]) == {"side", "long_decline", "short_decline", "long_share", "short_share",
                                         "excluded"}
        assert all(isinstance(x["send_seq"], int) for x in p["cancels"] + p["orders"])
    assert sum(1 for p in plans if p["scores"]) == 4  # every stage that closes positions
    s = body["summary"]
    assert s["net_notional"] == pytest.approx(671_162, abs=1) and len(s["overlaps"]) == 3
    assert s["notional"] == pytest.approx(sum(o["notional"] for p in plans for o in p["orders"]), abs=0.01)


def test_diff_json_sides_carry_their_plans():
    r = run("diff", "policies/futures-book.yaml", "tests/fixtures/diff/futures-book.tighter.yaml",
            "--against", RECORDING, "-o", "json")
    assert r.exit_code == 1, r.output  # the decisions differ
    sides = [d[k] for d in json.loads(r.output)["differences"] for k in ("old", "new") if d[k] and d[k]["plan"]]
    assert sides
    for side in sides:
        assert side["plan"]["attribution"]["side"] in ("LONG", "SHORT", "MIXED", "UNKNOWN")
        assert all("send_seq" in o for o in side["plan"]["orders"])
        assert side["plan"]["scores"] is None or side["plan"]["scores"]["entries"]
