"""A request to the simulated OKX v5 face, read as OKX reads it, against the engine's markets.

What it owns
    :class:`OkxParams`, the base of the face's request view (:class:`..face._Okx`): the engine
    and its markets by instrument id, and each parameter's reading with OKX's refusal when it is
    missing or wrong (the market of ``instId``, a number, ``posSide`` in the account's mode,
    ``reduceOnly``, ``tdMode``, a page of a list). The views of the reads, the orders and the
    algo orders (:mod:`.reads`, :mod:`.orders`, :mod:`.algos`) build on it.

What it must not do
    keep state beyond the request, or change the engine.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

from ....simulated.engine import MarketSpec, SimError
from ....simulated.faces.shared import RestFace, finite_number, flag, newest_first
from .wire import NO_POSITION_TO_REDUCE, SAME_DIRECTION, _bad, _empty, _Fail, _ok, _okx_error, inst_id

PAGE = 100  # the most rows a page of orders-pending and orders-algo-pending gives
CLORDID_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")


class OkxParams(RestFace):
    """One request's view of the engine in OKX's terms (no state beyond the request): its
    parameters."""

    def __init__(self, server: Any):
        super().__init__(server)
        self.by_inst = {inst_id(m): m for m in self.engine.markets.values()}

    @staticmethod
    def row_of(row: dict, work: Callable[[], dict],
               refusal: Callable[[SimError], tuple[str, str]] = _okx_error) -> dict:
        """One row of a batch operation: ``row`` with what ``work`` did (its sCode "0"), or with
        the refusal's sCode and sMsg; a rate limit refuses the whole request."""
        try:
            done = work()
        except _Fail as f:
            if f.status == 429:
                raise
            return {**row, "sCode": f.code, "sMsg": f.msg}
        except SimError as e:
            if e.http_status == 429:
                raise
            code, msg = refusal(e)
            return {**row, "sCode": code, "sMsg": msg}
        return {**row, **done}

    # --- parameters -------------------------------------------------------------------------------------

    def market(self, p: dict) -> MarketSpec:
        """The market ``instId`` names (it must)."""
        m = self.maybe_market(p)
        if m is None:
            raise _empty("instId")
        return m

    def maybe_market(self, p: dict) -> Optional[MarketSpec]:
        """The market ``instId`` names, or None when it names none."""
        iid = p.get("instId")
        if not iid:
            return None
        m = self.by_inst.get(iid)
        if m is None:
            raise _Fail("51001", "Instrument ID does not exist.")
        return m

    @staticmethod
    def number(p: dict, name: str, required: bool = False) -> Optional[float]:
        return finite_number(p, name, _empty(name) if required else None, _bad(name))

    def market_side(self, p: dict, cid: str, cid_field: str) -> tuple[MarketSpec, str]:
        """The market and the side (buy, sell) of an order placed, its client id (``cid_field``) checked."""
        m = self.market(p)
        if cid and not CLORDID_RE.match(cid):
            raise _bad(cid_field)
        side = str(p.get("side") or "").lower()
        if side not in ("buy", "sell"):
            raise _bad("side")
        return m, side

    def leg(self, account: str, p: dict) -> str:
        """The engine's position side of an order's ``posSide`` in the account's mode."""
        pos = str(p.get("posSide") or "").lower()
        if self.engine.hedge_mode(account):
            if pos not in ("long", "short"):
                raise _bad("posSide")
            return pos.upper()
        if pos not in ("", "net"):
            raise _bad("posSide")
        return "BOTH"

    @staticmethod
    def reduce_only(p: dict) -> bool:
        return flag(p.get("reduceOnly", False), _bad("reduceOnly"))

    def check_td_mode(self, p: dict, closes: bool) -> None:
        td = p.get("tdMode")
        if not td:
            raise _empty("tdMode")
        if td == "cross":
            return
        if td == "isolated" and closes:  # the engine's positions are all cross: none isolated to reduce
            raise _Fail(*NO_POSITION_TO_REDUCE)
        raise _bad("tdMode")

    def reduce_refusal(self, account: str, m: MarketSpec, side: str, leg: str) -> tuple[str, str]:
        """51170 for a reduce-only order on the side of the position, 51169 otherwise."""
        for pv in self.engine.positions(account, m.symbol):
            if pv.position_side == leg and pv.amount and (pv.amount > 0) == (side == "BUY"):
                return SAME_DIRECTION
        return NO_POSITION_TO_REDUCE

    def pending_page(self, p: dict, id_field: str, listed: Callable[[Optional[str]], list[dict]],
                     kinds: Optional[list[str]], same: str) -> dict:
        """A page of a pending list: none outside SWAP, else the rows ``listed`` gives of the
        market ``instId`` names (of every market where it names none), of the ``kinds`` asked
        (their ordType; None: every kind), their field ``same`` the query's where it names one."""
        if p.get("instType") not in (None, "", "SWAP"):
            return _ok([])
        m = self.maybe_market(p)
        rows = [r for r in listed(m.symbol if m else None) if kinds is None or r["ordType"] in kinds]
        if p.get(same):
            rows = [r for r in rows if r[same] == p[same]]
        return _ok(self.page(rows, id_field, p))

    @staticmethod
    def page(rows: list[dict], id_field: str, p: dict) -> list[dict]:
        """A page as OKX gives it: newest (highest id) first, at most ``limit`` rows older than
        ``after`` / newer than ``before``."""
        return newest_first(rows, id_field, p, most=PAGE, older="after", newer="before", refuse=_bad)
