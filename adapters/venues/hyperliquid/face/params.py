"""A request to the simulated Hyperliquid face, read as the venue reads it: coins, orders, refusals.

What it owns
    the engine's markets as the venue's coins (:func:`universe`: an asset index is a coin's place
    in it), an answer other than the operation's (:class:`_Err`: the body the venue could not
    read, :func:`_unprocessable`, HTTP 422; an action it refused, :func:`_refused`, HTTP 200), and
    :class:`HyperliquidParams`, the base of the face's request view (:class:`..face._Face`): the
    coin of an asset index, and the order (regular or trigger) an oid or a cloid names. The views
    of the signer, the reads and the actions (:mod:`.identity`, :mod:`.reads`,
    :mod:`.actions`) build on it; the websocket face (:mod:`.stream`) shares the coins
    and the refusals.

What it must not do
    keep state beyond the request, or change the engine.
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.faces.shared import RestFace, VenueFail
from ....simulated.rules import MarketSpec, SimOrder
from .rows import CLOID_RE


def universe(engine: Any) -> list[MarketSpec]:
    """The coins, in asset-index order: one engine market a base, a USDC-quoted one preferred."""
    chosen: dict[str, MarketSpec] = {}
    for m in engine.markets.values():
        have = chosen.get(m.base)
        if have is None or (m.quote == "USDC" and have.quote != "USDC"):
            chosen[m.base] = m
    return list(chosen.values())


class _Err(VenueFail):
    """An answer other than the operation's: ``status`` and ``body``."""


def _unprocessable(msg: str) -> _Err:
    return _Err(422, f"Failed to deserialize the JSON body into the target type: {msg}")


def _refused(msg: str) -> _Err:
    return _Err(200, {"status": "err", "response": msg})


class HyperliquidParams(RestFace):
    """One request's worth of the dialect: ``server``'s engine, its markets as coins; what the
    request names."""

    def __init__(self, server: Any):
        super().__init__(server)
        self.eng = self.engine
        self.coins = universe(self.eng)
        self.index = {m.symbol: i for i, m in enumerate(self.coins)}

    def coin(self, asset: Any) -> MarketSpec:
        if not isinstance(asset, int) or isinstance(asset, bool) or not 0 <= asset < len(self.coins):
            raise _refused(f"Asset {asset} is out of range")
        return self.coins[asset]

    def _find(self, account: str, oid: Any) -> tuple[Optional[SimOrder], Any]:
        """(regular order, conditional order) an oid or a cloid names, at most one of them."""
        a = self.eng.accounts[account]
        if isinstance(oid, str) and CLOID_RE.match(oid):
            cid = oid.lower()
            o = self.eng.order_by_client_id(account, cid)
            algo = a.algos.get(a.algo_by_client.get(cid, -1))
            return o, (algo if o is None else None)
        if isinstance(oid, int) and not isinstance(oid, bool):
            o = a.orders.get(oid)
            return (o, None) if o is not None else (None, a.algos.get(oid))
        raise _unprocessable("oid: expected an order id or a 16-byte hex cloid")

    def _find_shape(self, oid: Any) -> None:
        if not ((isinstance(oid, str) and CLOID_RE.match(oid)) or (isinstance(oid, int) and not isinstance(oid, bool))):
            raise _unprocessable("oid: expected an order id or a 16-byte hex cloid")
