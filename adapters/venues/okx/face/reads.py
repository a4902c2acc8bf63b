"""The simulated OKX v5 face's reads that are no order's: instruments, tickers, books, balance, positions.

What it owns
    :class:`OkxReads`, the rows of ``public/instruments``, ``market/ticker(s)``,
    ``public/mark-price``, ``market/books``, ``account/balance`` and ``account/positions`` in
    OKX's fields, over the engine's markets and accounts (``at``: as of that engine time, for a
    frozen feed).

What it must not do
    change the engine.
"""

from __future__ import annotations

import zlib
from typing import Optional

from ....simulated.engine import MarketSpec, decimals
from .params import OkxParams
from .wire import _bad, _empty, _f, _Fail, _money, _ok, _px, _sz, inst_id


class OkxReads(OkxParams):
    """The market data and the account of one request's view (see the module docstring)."""

    def instrument(self, m: MarketSpec) -> dict:
        return {
            "instType": "SWAP", "instId": inst_id(m), "uly": f"{m.base}-{m.quote}",
            "instFamily": f"{m.base}-{m.quote}", "baseCcy": "", "quoteCcy": "", "settleCcy": m.quote,
            "ctVal": f"{m.contract_size:g}", "ctMult": "1", "ctValCcy": m.base, "ctType": "linear", "optType": "",
            "stk": "", "listTime": "1611916800000",
            "expTime": "", "lever": str(m.max_leverage), "tickSz": _f(m.price_tick, decimals(m.price_tick)),
            "lotSz": _sz(m, m.amount_step), "minSz": _sz(m, m.min_amount), "maxLmtSz": _sz(m, m.max_amount),
            "maxMktSz": _sz(m, m.max_amount), "maxTwapSz": _sz(m, m.max_amount), "maxIcebergSz": _sz(m, m.max_amount),
            "maxTriggerSz": _sz(m, m.max_amount), "maxStopSz": _sz(m, m.max_amount), "alias": "", "state": "live",
            "category": "1", "ruleType": "normal", "auctionEndTime": "", "openType": "", "groupId": "1",
        }

    def tickers(self, op: str, path: str, p: dict, at: int) -> dict:
        eng = self.engine
        if path.endswith("/ticker"):
            markets = [self.market(p)]
        else:
            if p.get("instType") != "SWAP":
                if not p.get("instType"):
                    raise _empty("instType")
                return _ok([])
            m = self.maybe_market(p)
            markets = [m] if m else list(eng.markets.values())
        rows = []
        for m in markets:
            px = _px(m, eng.mark(m.symbol, at)) or "0"
            if op == "mark_price":
                rows.append({"instType": "SWAP", "instId": inst_id(m), "markPx": px, "ts": str(at)})
                continue
            open_px = _px(m, eng.mark(m.symbol, at - 86_400_000)) or "0"
            rows.append({"instType": "SWAP", "instId": inst_id(m), "last": px, "lastSz": "0", "askPx": px, "askSz": "0",
                         "bidPx": px, "bidSz": "0", "open24h": open_px, "high24h": max(px, open_px, key=float),
                         "low24h": min(px, open_px, key=float), "volCcy24h": "0", "vol24h": "0", "sodUtc0": open_px,
                         "sodUtc8": open_px, "ts": str(at)})
        return _ok(rows)

    def books(self, p: dict) -> dict:
        m = self.market(p)
        n = int(self.number(p, "sz") or 1)
        if not 1 <= n <= 400:
            raise _bad("sz")
        bids, asks, ts = self.engine.order_book(m.symbol, n)
        return _ok([{"asks": [[_px(m, px), _sz(m, q), "0", "1"] for px, q in asks],
                     "bids": [[_px(m, px), _sz(m, q), "0", "1"] for px, q in bids], "ts": str(ts)}])

    def balance(self, account: str, at: Optional[int]) -> dict:
        eng = self.engine
        at = eng.now() if at is None else at
        v = eng.account_state(account, at=at)
        frozen = v.initial_margin + v.open_order_margin
        detail = {"ccy": "USDT", "eq": _money(v.equity), "cashBal": _money(v.wallet), "availBal": _money(v.available),
                  "availEq": _money(v.available), "frozenBal": _money(frozen), "ordFrozen": _money(v.open_order_margin),
                  "upl": _money(v.unrealized_pnl), "imr": _money(v.initial_margin), "mmr": _money(v.maint_margin),
                  "eqUsd": _money(v.equity), "disEq": _money(v.equity), "isoEq": "0", "liab": "0",
                  "uTime": str(v.update_time)}
        return _ok([{"totalEq": _money(v.equity), "adjEq": _money(v.equity), "isoEq": "0",
                     "imr": _money(v.initial_margin + v.open_order_margin), "mmr": _money(v.maint_margin),
                     "ordFroz": _money(v.open_order_margin), "upl": _money(v.unrealized_pnl),
                     "notionalUsd": "", "mgnRatio": "", "uTime": str(v.update_time), "details": [detail]}])

    def positions(self, account: str, p: dict, at: Optional[int]) -> dict:
        eng = self.engine
        inst_type = p.get("instType")
        if inst_type not in (None, "", "SWAP"):
            return _ok([])
        wanted = None
        if p.get("instId"):
            wanted = set(str(p["instId"]).split(","))
            if len(wanted) > 10:
                raise _bad("instId")
            for iid in wanted:
                if iid not in self.by_inst:
                    raise _Fail("51001", "Instrument ID does not exist.")
        hedge = eng.hedge_mode(account)
        rows = []
        for pv in eng.positions(account, at=at):
            m = eng.markets[pv.symbol]
            if wanted is not None and inst_id(m) not in wanted:
                continue
            pd = decimals(m.price_tick)
            pos = abs(pv.amount) if hedge else pv.amount
            rows.append({
                "instType": "SWAP", "instId": inst_id(m), "mgnMode": "cross",
                "posId": str(zlib.crc32(f"{account}/{pv.symbol}/{pv.position_side}".encode())),
                "posSide": pv.position_side.lower() if hedge else "net", "pos": _sz(m, pos),
                "availPos": _sz(m, abs(pv.amount)), "posCcy": "", "ccy": m.quote,
                "avgPx": _f(pv.entry_price, pd + 2), "bePx": _f(pv.entry_price, pd + 2),
                "markPx": _f(pv.mark_price, pd), "last": _f(pv.mark_price, pd), "idxPx": _f(pv.mark_price, pd),
                "upl": _money(pv.unrealized_pnl), "uplLastPx": _money(pv.unrealized_pnl),
                "uplRatio": "", "lever": str(eng.leverage(account, m.symbol)),
                "liqPx": _f(pv.liquidation_price, pd) if pv.liquidation_price else "",
                "imr": _money(pv.initial_margin), "mmr": _money(pv.maint_margin), "margin": "",
                "mgnRatio": "", "notionalUsd": _money(abs(pv.notional)), "adl": "1", "interest": "0",
                "realizedPnl": "0", "pnl": "0", "fee": "0", "fundingFee": "0", "liqPenalty": "0",
                "cTime": str(pv.update_time), "uTime": str(pv.update_time), "pTime": str(at or eng.now()),
                "closeOrderAlgo": [],
            })
        return _ok(rows)
