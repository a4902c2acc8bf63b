"""``GET /v1/positions`` and the close's new fields over HTTP (issue 30, points 3 and 5): the
positions from the runner's last snapshots with their age, risk score, liquidation distance and
resting orders, for any reader's token and nobody without one; a close body's ``symbol``,
``preview_id`` and ``max_notional`` checked before anything reads them; the typed client reads
the positions back as the runner wrote them."""

from __future__ import annotations

import json

import pytest

from killswitch.face.console.positions_model import positions_model
from killswitch.view import PositionsStatus, decode
from tests.unit.face.console.test_console import ALICE, VERA, Api, run, ticks
from tests.unit.runner.operator.rig import ACCOUNT, make, resting_order

BTC = "BTC/USDT:USDT"


async def ready(w) -> None:
    await w.runner.start()
    await ticks(w, 1, ("bot-x",))


def test_positions_are_read_from_the_last_snapshots_by_any_reader(tmp_path):
    w = make(tmp_path)

    async def go():
        await w.runner.start()
        resting_order(w)  # a bot's entry order on BTC, resting under the position
        await ticks(w, 1, ("bot-x",))
        async with Api(w) as api:
            st, doc, _ = await api.get("/v1/positions")
            assert st == 401 and doc["error"] == "AUTH_REQUIRED"
            st, doc, _ = await api.get("/v1/positions", VERA)
            assert st == 200
            w.clock.advance(3_000)
            st, later, _ = await api.get("/v1/positions", VERA)
        p = decode(PositionsStatus, doc)
        assert p.leader and p.now_ms == w.parts.book.state.last_tick_ms
        [acct] = p.accounts
        snap = w.parts.book.snapshots[ACCOUNT]
        assert (acct.account, acct.ok, acct.observed_ms, acct.positions_total) == (ACCOUNT, True, snap.ts_observed, 3)
        assert decode(PositionsStatus, later).accounts[0].age_s == pytest.approx(acct.age_s + 3.0)
        rows = {r.symbol: r for r in acct.positions}
        assert [r.symbol for r in acct.positions] == [BTC, "ETH/USDT:USDT", "SOL/USDT:USDT"]  # largest first
        btc, sol = rows[BTC], rows["SOL/USDT:USDT"]
        assert (btc.side, btc.contracts, btc.notional) == ("long", 5.0, 300_000.0)
        assert (btc.orders, btc.order_kinds, btc.reduce_only_orders) == (1, {"regular": 1}, 0)
        assert btc.liquidation_distance is None and sol.liquidation_distance == pytest.approx(
            abs(sol.mark_price - sol.liquidation_price) / sol.mark_price)
        assert btc.risk_score == pytest.approx(0.1 * 300_000.0 / snap.equity) and btc.risk_scope == ACCOUNT
        assert btc.scopes == (ACCOUNT,)
        shown = positions_model(p)
        assert shown["symbol_names"] == [BTC, "ETH/USDT:USDT", "SOL/USDT:USDT"]
        assert shown["positions"]["accounts"][0]["rows"][0]["orders"] == "1: 1 regular"
        assert shown["positions"]["accounts"][0]["rows"][0]["close_scope"] == ACCOUNT

    run(go())


def test_the_console_view_shows_the_positions_table_with_a_close_per_symbol(tmp_path):
    w = make(tmp_path)

    async def go():
        await ready(w)
        async with Api(w) as api:
            st, html, _ = await api.get("/console/view", VERA)
        assert st == 200 and 'id="positions"' in html
        assert (f'data-action="close" data-scope="{ACCOUNT}" data-symbol="{BTC}"') in html
        assert 'data-focus="close|any"' in html and '<datalist id="symbol-names">' in html

    run(go())


@pytest.mark.parametrize("extra, detail", [
    ({"max_notional": -1}, '"max_notional" must be a number at or above 0'),
    ({"max_notional": "1e6"}, '"max_notional" must be a number'),
    ({"max_notional": True}, '"max_notional" must be a number'),
    ({"preview_id": ""}, '"preview_id" must be a non-empty string'),
    ({"symbol": " BTC/USDT:USDT"}, '"symbol"'),
    ({"sym": BTC}, "unknown field(s) 'sym'"),
])
def test_a_close_body_with_a_bad_new_field_is_a_400_that_says_which(tmp_path, extra, detail):
    w = make(tmp_path)

    async def go():
        await ready(w)
        async with Api(w) as api:
            st, doc, _ = await api.post("/v1/close", {"scope": ACCOUNT, "reason": "r", "dry_run": False, **extra})
            assert st == 400 and doc["error"] == "BAD_REQUEST" and detail in doc["reason"], doc
        assert "manual_close_requested" not in [r.kind for r in w.store.audit_rows()]

    run(go())


def test_a_close_over_http_applies_its_preview_and_a_preview_of_one_symbol_takes_symbol(tmp_path):
    w = make(tmp_path)

    async def go():
        await ready(w)
        async with Api(w) as api:
            st, p, _ = await api.post("/v1/preview/close", {"scope": ACCOUNT, "reason": "r", "symbol": BTC})
            assert st == 200 and p["symbol"] == BTC and [o["symbol"] for o in p["orders"]] == [BTC]
            st, d, _ = await api.post("/v1/close", {"scope": ACCOUNT, "reason": "r", "dry_run": False})
            assert st == 409 and d["reason"].startswith("PREVIEW_REQUIRED:")
            st, d, _ = await api.post("/v1/close", {"scope": ACCOUNT, "reason": "r", "dry_run": False, "symbol": BTC,
                                                    "preview_id": p["preview_id"], "max_notional": 1.0})
            assert st == 409 and d["reason"].startswith("OVER_MAX_NOTIONAL:") and not d["accepted"]
            st, d, _ = await api.post("/v1/close", {"scope": ACCOUNT, "reason": "r", "dry_run": False, "symbol": BTC,
                                                    "preview_id": p["preview_id"], "max_notional": p["max_notional"]})
            assert st == 202 and d["accepted"] and d["preview_id"] == p["preview_id"] and d["symbol"] == BTC
            st, d, _ = await api.post("/v1/close", {"scope": ACCOUNT, "reason": "r", "dry_run": True,
                                                    "symbol": "NOPE/USDT:USDT"}, ALICE)
            assert st == 404 and d["reason"].startswith("UNKNOWN_SYMBOL:")
        assert json.dumps(d)  # (a refusal is a CloseResult too)

    run(go())
