"""The request behind ``POST /v1/check-order`` and the gate's answer to it.

Owns the shape of a check-order request, read strictly (:func:`parse_request`: unknown fields,
wrong types, a side other than buy or sell, an amount that is not a finite positive number are
refused with what is wrong), the scope keys whose locks apply to an order (:func:`lock_keys`),
and the answer, :class:`Decision`. Deciding is :mod:`.gate`'s.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..lock.lock import GLOBAL_SCOPE

MAX_TEXT = 256  # longest scope, account, strategy or symbol a request may name
REQUEST_FIELDS = frozenset({"scope", "account", "strategy", "symbol", "side", "amount", "price",
                            "reduce_only", "position_side", "client_order_id"})


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str
    limit: Optional[dict] = None  # the pre-trade limit broken: its value and usage
    # the order goes to an account no running policy's scope selects: no policy limits it
    unguarded: bool = False
    warnings: tuple[str, ...] = ()  # ``UNGUARDED: venue/account: …``, one per such account

    def to_json(self) -> dict:
        out: dict[str, Any] = {"allow": self.allow, "reason": self.reason}
        if self.limit is not None:
            out["limit"] = dict(self.limit)
        if self.unguarded:
            out["unguarded"] = True
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def deny(reason: str) -> Decision:
    return Decision(False, reason)


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: str  # buy | sell
    amount: float
    scope: Optional[str] = None
    account: Optional[str] = None
    strategy: Optional[str] = None
    price: Optional[float] = None
    reduce_only: Optional[bool] = None
    position_side: Optional[str] = None  # LONG | SHORT (hedge mode) | BOTH | None
    client_order_id: Optional[str] = None  # the bot's id of the order: what an override releases it by

    @property
    def scope_keys(self) -> set[str]:
        """Every scope key whose lock applies to this order."""
        return lock_keys(symbol=self.symbol, scope=self.scope, account=self.account, strategy=self.strategy)

    @property
    def hedge_leg(self) -> Optional[str]:
        return self.position_side if self.position_side in ("LONG", "SHORT") else None


def lock_keys(*, symbol: Optional[str] = None, scope: Optional[str] = None, account: Optional[str] = None,
              strategy: Optional[str] = None) -> set[str]:
    """The scope keys whose locks apply to an order naming these: ``global``, each name given,
    and an account's venue (a venue's lock binds every account of it)."""
    keys = {GLOBAL_SCOPE}
    for k in (symbol, scope, account, strategy):
        if k:
            keys.add(k)
    for named in (account, scope):  # an account named as the order's account or as its scope
        if named and "/" in named:
            keys.add(named.split("/", 1)[0])  # the venue (fails closed: a symbol's base is no venue's name)
    return keys


def finite(x: Any) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def _text(req: Mapping, key: str, required: bool) -> Optional[str]:
    v = req.get(key)
    if v is None:
        if required:
            raise _Bad(f'"{key}" is required')
        return None
    if not isinstance(v, str) or not v.strip():
        raise _Bad(f'"{key}" must be a non-empty string')
    if len(v) > MAX_TEXT:
        raise _Bad(f'"{key}" is longer than {MAX_TEXT} characters')
    return v


class _Bad(Exception):
    pass


# ccxt's order ``type`` (market, limit) is told here by the price: send the order's price, or none
_NO_TYPE = ('; check-order reads no order "type": an order with a "price" is checked as a limit order, '
            'one without as a market order')


def parse_request(request: Any) -> OrderRequest:
    """A strict reading of a check-order request; raises ``ValueError`` with what is wrong."""
    try:
        return _parse(request)
    except _Bad as e:
        raise ValueError(str(e)) from None


def _parse(req: Any) -> OrderRequest:
    if not isinstance(req, Mapping):
        raise _Bad(f"the request must be a JSON object, not {type(req).__name__}")
    bad_keys = [k for k in req if not isinstance(k, str)]
    if bad_keys:
        raise _Bad("field names must be strings")
    unknown = sorted(set(req) - REQUEST_FIELDS)
    if unknown:
        raise _Bad(f"unknown field(s) {', '.join(repr(k) for k in unknown[:5])}; "
                   f"known: {', '.join(sorted(REQUEST_FIELDS))}" + (_NO_TYPE if "type" in unknown else ""))
    scope, account, strategy = _text(req, "scope", False), _text(req, "account", False), _text(req, "strategy", False)
    if scope is None and account is None:
        raise _Bad('give "scope" or "account"')
    symbol = _text(req, "symbol", True)
    side = req.get("side")
    if side not in ("buy", "sell") or not isinstance(side, str):
        raise _Bad(f'"side" must be "buy" or "sell", not {_show(side)}')
    amount = req.get("amount")
    if amount is None:
        raise _Bad('"amount" is required')
    if not finite(amount) or amount <= 0:
        raise _Bad(f'"amount" must be a finite number above 0, not {_show(amount)}')
    price = req.get("price")
    if price is not None and (not finite(price) or price <= 0):
        raise _Bad(f'"price" must be a finite number above 0, not {_show(price)}')
    reduce_only = req.get("reduce_only")
    if reduce_only is not None and not isinstance(reduce_only, bool):
        raise _Bad(f'"reduce_only" must be true or false, not {_show(reduce_only)}')
    ps = req.get("position_side")
    if ps is not None and (not isinstance(ps, str) or ps.upper() not in ("LONG", "SHORT", "BOTH")):
        raise _Bad(f'"position_side" must be "LONG", "SHORT" or "BOTH" (in any case), not {_show(ps)}')
    ps = ps.upper() if ps is not None else None  # ccxt and the status write legs in lower case
    return OrderRequest(symbol, side, float(amount), scope, account, strategy,  # type: ignore[arg-type]
                        None if price is None else float(price), reduce_only, ps,
                        _text(req, "client_order_id", False))


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
