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
    args = SimpleNamespace(accounts=200, positions=50, scenario="calm")
    assert scenario_of(args) == "firm book of 200 accounts of 50 positions"
    assert scenario_of(SimpleNamespace(accounts=0, positions=50, scenario="calm")) == "wide-book of 50"


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
