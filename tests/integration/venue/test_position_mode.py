"""An account's position mode is the venue's, not the Accounts document's: the ccxt adapter
against the simulated exchange's faces on 127.0.0.1 (every venue of the registry with a hedge mode:
each folder's ``contract.POSITION_MODE_READ``).

- A hedge-mode account declared one-way (``hedge_mode`` left false) is read as hedge at its
  first snapshot (Binance ``GET /fapi/v1/positionSide/dual``, OKX ``GET /api/v5/account/config``,
  Bybit's positions' ``positionIdx``, Bitget ``GET /api/v2/mix/account/account``), said as a
  mismatch, and its closes are built for the venue's mode (Binance ``positionSide`` without
  ``reduceOnly``, OKX ``posSide``, Bybit ``positionIdx``, Bitget ccxt's ``hedged``: the leg's
  ``tradeSide`` close): they fill. On the old code the declared mode built them and the venue refused
  every one (-1106 ``Parameter 'reduceOnly' sent when not required.``).
- A close the venue refuses for its mode (the mode read went stale) reads the mode again and is
  sent once more, built for it; a refusal for anything else is not sent again.
- A mode that cannot be read is said (``POSITION_MODE_UNREAD`` with the venue's failure), never
  taken from the declaration: closes then follow the positions' own legs.
"""

from __future__ import annotations

from importlib import import_module

import pytest

from adapters.base import AdapterError, PositionMode, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects.base import ModeRead
from adapters.registry import sim_venues
from adapters.simulated.engine import AccountSpec
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.venues import sim_account
from tests.integration.sim_helpers import engine, intent, run

BTC = "BTC/USDT:USDT"


def with_adapter(test, *, venue: str = "binanceusdm", account: str = "sim-hedge", **fields):
    """``await test(adapter, server)`` over a fresh server, the account declared as ``fields`` say
    (``sim-flat``: a one-way account with no position)."""
    eng, _ = engine()
    eng.add_account(AccountSpec("sim-flat", "sim-flat-key", "sim-flat-secret"))

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock)
        await srv.start()
        ad = CcxtAdapter(sim_account(srv, account, venue, **fields), urls=srv.base_url, timeout=5.0,
                         ccxt_rate_limit=False)
        try:
            return await test(ad, srv)
        finally:
            await ad.close()
            await srv.stop()

    return run(go())


def spy(ad: CcxtAdapter) -> list[dict]:
    """The parameters of every order the adapter hands its ccxt client, as it hands them."""
    sent: list[dict] = []
    create = ad._ex.create_order

    async def recorded(symbol, type, side, amount, price=None, params=None):
        sent.append(dict(params or {}))
        return await create(symbol, type, side, amount, price, params or {})

    ad._ex.create_order = recorded
    return sent


def hedge_venues() -> list:
    """Every venue the simulator answers as, with how its adapter reads a hedge account's mode (its
    contract's ``POSITION_MODE_READ``), or why it has none (its ``FACE_TERMS``: no hedge mode, or a
    spot account)."""
    out = []
    for cid, pkg in sim_venues().items():
        contract = import_module(f"{pkg.__name__}.contract")
        terms = contract.FACE_TERMS
        none = terms.get("spot_only") or ("no hedge mode" if terms.get("hedge") is False else None)
        out.append(pytest.param(cid, pkg.__name__.rsplit(".", 1)[1], getattr(contract, "POSITION_MODE_READ", None),
                                none, id=cid))
    return out


@pytest.mark.parametrize("venue,folder,read,none", hedge_venues())
def test_a_hedge_account_declared_one_way_is_read_as_hedge_and_its_close_fills(venue, folder, read, none):
    if none:
        pytest.skip(f"{venue}: {none} (its contract's FACE_TERMS)")
    assert read is not None, (f"adapters/venues/{folder}/contract.py has no POSITION_MODE_READ: how its adapter "
                              "reads a hedge account's mode, and the leg field of a close (or FACE_TERMS hedge False)")
    source, leg_field = read["source"], read["leg_field"]

    async def t(ad: CcxtAdapter, srv: SimServer):
        sent = spy(ad)
        snap = await ad.snapshot()
        assert snap.fetch.ok, snap.fetch
        mode = ad.position_mode()
        assert (mode.declared_hedge, mode.hedge, mode.source) == (False, True, source)
        assert mode.mismatch_reason() == f"POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge ({source})"
        res = await ad.submit(intent(BTC, "sell", 2.0, position_side="LONG", venue=venue, account="sim-hedge",
                                     cid="ks" + "0" * 29 + "1"))
        assert res.status in ("filled", "open")  # (OKX and Bybit answer an order with its ids alone)
        [params] = sent
        assert leg_field in params, params
        assert not set(read.get("without", ())) & set(params), params  # (Binance refuses reduceOnly beside a leg)
        # the LONG leg closed at the venue, the SHORT leg untouched
        assert [(p.position_side, p.amount) for p in srv.engine.positions("sim-hedge", "BTCUSDT")] == [("SHORT", -4.0)]

    with_adapter(t, venue=venue, hedge_mode=False)


def test_binance_reads_the_mode_once_at_start_and_the_positions_keep_it_for_nothing():
    async def t(ad: CcxtAdapter, srv: SimServer):
        for _ in range(3):
            assert (await ad.snapshot()).fetch.ok
        reads = [p for m, p, _ in srv.requests if p == "/fapi/v1/positionSide/dual"]
        assert reads == ["/fapi/v1/positionSide/dual"]  # (30 weight: at start, not at every snapshot)
        assert ad.position_mode().hedge is True

    with_adapter(t, hedge_mode=False)


def test_a_close_refused_for_the_mode_reads_it_again_and_is_sent_once_more_built_for_it():
    async def t(ad: CcxtAdapter, srv: SimServer):
        sent = spy(ad)
        assert (await ad.snapshot()).fetch.ok
        ad._mode.read = ModeRead(False, "stale")  # as a mode read before the account was switched
        res = await ad.submit(intent(BTC, "buy", 1.0, position_side="SHORT", venue="binanceusdm",
                                     account="sim-hedge", cid="ks" + "0" * 29 + "2"))
        assert (res.status, res.filled) == ("filled", 1.0)
        first, second = sent
        assert first.get("reduceOnly") is True and "positionSide" not in first  # refused: -1106
        assert second.get("positionSide") == "SHORT" and "reduceOnly" not in second
        assert [p for m, p, _ in srv.requests].count("/fapi/v1/positionSide/dual") == 2  # at start, after -1106
        assert ad.position_mode().hedge is True

    with_adapter(t, hedge_mode=False)


def test_a_bitget_close_refused_for_the_mode_40774_reads_it_again_and_is_sent_once_more_built_for_it():
    """Bitget's 40774 ("The order type for unilateral position must also be the unilateral position
    type.") is its table's MODE refusal: the close is rebuilt once for the mode read again, never
    re-sent as it was (on the old code the code was unknown: VENUE_REFUSED, the book left open)."""
    async def t(ad: CcxtAdapter, srv: SimServer):
        sent = spy(ad)
        assert (await ad.snapshot()).fetch.ok
        ad._mode.read = ModeRead(False, "stale")  # as a mode read before the account was switched
        res = await ad.submit(intent(BTC, "sell", 1.0, position_side="LONG", venue="bitget",
                                     account="sim-hedge", cid="ks" + "0" * 29 + "4"))
        assert res.status in ("filled", "open")
        first, second = sent
        assert first.get("reduceOnly") is True and "hedged" not in first  # refused: 40774
        assert second.get("hedged") is True
        reads = [p for m, p, _ in srv.requests if p == "/api/v2/mix/account/account"]
        assert len(reads) == 2  # at start, after 40774
        assert ad.position_mode().hedge is True
        assert [(p.position_side, p.amount) for p in srv.engine.positions("sim-hedge", "BTCUSDT")] == [
            ("LONG", 1.0), ("SHORT", -4.0)]

    with_adapter(t, venue="bitget", hedge_mode=False)


def test_a_refusal_for_another_reason_is_not_sent_again_and_keeps_the_venues_code():
    async def t(ad: CcxtAdapter, srv: SimServer):
        sent = spy(ad)
        assert (await ad.snapshot()).fetch.ok
        srv.faults.add("place_order", "reject_reduce_only", times=5)
        with pytest.raises(AdapterError) as ei:
            await ad.submit(intent(BTC, "sell", 1.0, position_side="LONG", venue="binanceusdm", account="sim-hedge",
                                   cid="ks" + "0" * 29 + "3"))
        e = ei.value
        assert e.reason is Reason.REDUCE_ONLY_REJECTED
        assert (e.refusal.code, e.refusal.reason, e.refusal.kind) == ("-2022", "REDUCE_ONLY_REJECTED", "permanent")
        assert e.refusal.text().startswith("-2022 ReduceOnly Order is rejected.")
        assert len(sent) == 1

    with_adapter(t, hedge_mode=False)


def test_a_mode_that_cannot_be_read_is_said_and_closes_follow_the_positions_legs():
    async def t(ad: CcxtAdapter, srv: SimServer):
        srv.faults.add("position_mode", "http_500", times=10)
        assert (await ad.snapshot()).fetch.ok  # the snapshot stands: the mode is said unread
        mode = ad.position_mode()
        assert isinstance(mode, PositionMode)
        # the positions' own legs (LONG / SHORT rows) still say hedge for nothing; with no row
        # to say it, the mode is unread and said so
        assert mode.hedge is True and mode.source == "GET /fapi/v3/positionRisk positionSide"

    with_adapter(t, hedge_mode=False)


def test_a_flat_account_whose_mode_read_fails_says_it_is_unread_not_the_declaration():
    async def t(ad: CcxtAdapter, srv: SimServer):
        srv.faults.add("position_mode", "http_500", times=10)
        assert (await ad.snapshot()).fetch.ok
        mode = ad.position_mode()
        assert mode.hedge is None and not mode.mismatch
        assert mode.error.startswith("POSITION_MODE_UNREAD: EXCHANGE_UNAVAILABLE: GET /fapi/v1/positionSide/dual")
        assert "unread (POSITION_MODE_UNREAD" in mode.describe() and "declared hedge" in mode.describe()
        # closes follow the intent's own leg, never the declaration: a one-way leg (no side) → reduceOnly
        assert ad.order_params(intent(BTC, "sell", 1.0, cid="x"))["reduceOnly"] is True
        assert "reduceOnly" not in ad.order_params(intent(BTC, "sell", 1.0, position_side="LONG", cid="x"))

    with_adapter(t, account="sim-flat", hedge_mode=True)
