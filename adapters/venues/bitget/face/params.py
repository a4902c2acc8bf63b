"""A request to the simulated Bitget v2 face, read as Bitget reads it, against the engine's markets.

What it owns
    :class:`BitgetParams`, the base of the face's request view (:class:`..face.BitgetFace`): the
    shared face's request pipeline (:class:`adapters.simulated.faces.shared.RestFace`), Bitget's
    envelope and refusals (:meth:`~BitgetParams.ok`, :meth:`~BitgetParams.fail`,
    :meth:`~BitgetParams.bad`: they carry the engine's time), each parameter's reading with
    Bitget's refusal when it is missing or wrong (the market of ``symbol``, ``productType``, a
    number) and a page of a list (``limit``, ``idLessThan``). The views of the reads, the orders
    and the plan orders (:mod:`.reads`, :mod:`.orders`, :mod:`.plans`) build on it.

What it must not do
    keep state beyond the request, or change the engine.
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.engine import MarketSpec
from ....simulated.faces.shared import RestFace, VenueFail, finite_number, newest_first
from .wire import PRODUCT

PAGE = 100


class BitgetParams(RestFace):
    """One request's view of the engine in Bitget's terms (no state beyond the request): its
    envelope and its parameters."""

    # --- the envelope ----------------------------------------------------------------------------------

    def ok(self, data: Any) -> dict:
        return {"code": "00000", "msg": "success", "requestTime": self.engine.now(), "data": data}

    def fail(self, code: str, msg: str, status: int = 400) -> VenueFail:
        return VenueFail(status, {"code": code, "msg": msg, "requestTime": self.engine.now(), "data": None})

    def bad(self, name: str) -> VenueFail:
        return self.fail("40017", f"Parameter verification failed: {name}")

    # --- parameters ---------------------------------------------------------------------------------

    def market(self, p: dict, required: bool = True) -> Optional[MarketSpec]:
        sid = str(p.get("symbol") or "").upper()
        if not sid:
            if required:
                raise self.fail("40019", "Parameter symbol cannot be empty")
            return None
        m = self.engine.markets.get(sid)
        if m is None:
            raise self.fail("40034", "Parameter symbol does not exist")
        return m

    def product(self, p: dict) -> None:
        if str(p.get("productType") or "").upper() != PRODUCT:
            raise self.fail("40019", "Parameter productType cannot be empty") if not p.get("productType") \
                else self.bad("productType")

    def number(self, p: dict, name: str, required: bool = False) -> Optional[float]:
        missing = self.fail("40019", f"Parameter {name} cannot be empty") if required else None
        return finite_number(p, name, missing, self.bad(name))

    def page(self, rows: list[dict], p: dict) -> dict:
        """A page as Bitget gives it: newest first, at most ``limit`` rows older than ``idLessThan``."""
        rows = newest_first(rows, "orderId", p, most=PAGE, older="idLessThan", refuse=self.bad)
        return self.ok({"entrustedList": rows, "endId": rows[-1]["orderId"] if rows else None})

