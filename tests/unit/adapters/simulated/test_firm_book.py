"""The simulator in a firm's shape: ``serve --accounts N --positions M`` builds N accounts of M
positions each (it ignored ``--accounts`` beside ``--positions``), every book its own, and
prints every face's Accounts-document entry with the values of the variables it reads."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace

from adapters.simulated.__main__ import faces_settings, scenario_of
from adapters.simulated.engine import ManualClock
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import firm_book
from adapters.simulated.venues import VENUES


def test_a_firm_book_holds_n_accounts_of_m_positions_each_its_own():
    ex = firm_book(4, 6, ManualClock(1_700_000_000_000))
    assert sorted(ex.accounts) == ["sim-0", "sim-1", "sim-2", "sim-3"]
    books = {}
    for name in ex.accounts:
        legs = sorted((p.symbol, p.side, round(abs(p.amount), 6)) for s in ex.markets for p in ex.positions(name, s))
        assert len(legs) == 6
        books[name] = tuple(legs)
    assert len(set(books.values())) == 4  # no two accounts read alike


def test_serve_names_what_it_serves():
    args = SimpleNamespace(accounts=200, positions=50, scenario="calm", resting=0)
    assert scenario_of(args) == "firm book of 200 accounts of 50 positions"
    assert scenario_of(SimpleNamespace(accounts=0, positions=50, scenario="calm", resting=0)) == "wide-book of 50"


def test_every_face_prints_its_account_entry_and_the_values_it_reads():
    async def body():
        async with SimServer(firm_book(2, 3, ManualClock(1_700_000_000_000)), auth_clock=wall_clock) as server:
            return faces_settings(server, "sim-0")

    got = asyncio.run(body())
    assert list(got) == list(VENUES)
    for venue, face in got.items():
        assert face["account"]["venue"] == venue and face["account"]["api_url"].startswith("http://127.0.0.1:")
        assert face["env"] and all(face["env"].values()), venue  # every variable it names has its value
        assert all(os.environ[n] == v for n, v in face["env"].items())


def book(engine, account: str) -> tuple:
    """An account's wallet and legs, as the engine holds them."""
    legs = sorted((p.symbol, p.side, p.amount) for s in engine.markets for p in engine.positions(account, s))
    return engine.accounts[account].wallet, tuple(legs)


def test_bad_harness_input_is_refused_with_its_reason_and_changes_nothing():
    """``/_sim/seed`` and ``/_sim/mark`` answered 500 with a traceback to an unknown account or
    symbol; now 400 with a reason code and the close names, nothing applied."""
    import aiohttp

    async def body():
        engine = firm_book(2, 3, ManualClock(1_700_000_000_000))
        async with SimServer(engine, auth_clock=wall_clock, admin_state=True) as server:
            before = book(engine, "sim-0")
            async with aiohttp.ClientSession() as http:
                answers = []
                for path in ("/_sim/seed?account=sim-9&wallet=100",
                             "/_sim/seed?account=sim-0&wallet=100&legs=C0USDT:long:1:10,C9USDT:long:1:10",
                             "/_sim/seed?account=sim-0&wallet=100&legs=C0USDT:up:1:10",
                             "/_sim/seed?account=sim-0&wallet=lots",
                             "/_sim/mark?symbol=C1USDX&price=5",
                             "/_sim/mark?symbol=C1USDT&price=-5"):
                    async with http.post(server.base_url + path) as r:
                        answers.append((r.status, await r.json()))
                good = "/_sim/seed?account=sim-1&wallet=5&legs=C2USDT:short:2:11"
                async with http.post(server.base_url + good) as r:
                    ok = r.status
            return before, answers, ok, engine

    before, answers, ok, engine = asyncio.run(body())
    assert [(s, a["error"]) for s, a in answers] == [(400, "UNKNOWN_ACCOUNT"), (400, "UNKNOWN_SYMBOL"),
                                                    (400, "BAD_PARAM"), (400, "BAD_PARAM"), (400, "UNKNOWN_SYMBOL"),
                                                    (400, "BAD_PARAM")]
    assert "sim-0" in answers[0][1]["message"] and "C1USDT" in answers[4][1]["message"]  # the close names
    # the refused seeds (one with a good leg before its bad one) applied nothing: sim-0 is as it was
    assert book(engine, "sim-0") == before and before[0] != 100.0
    assert ok == 200 and engine.accounts["sim-1"].wallet == 5.0
