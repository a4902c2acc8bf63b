"""The simulated exchange's engine: accounts, markets, marks, orders, fills and positions.

:class:`SimExchange` is a deterministic model of a Binance USDⓈ-M futures venue (plus a small
spot book per account). It owns every piece of exchange state and every exchange rule the
kill switch depends on:

* markets with amount step, price tick, minimum amount and notional, contract size 1 and a
  maximum leverage; mark prices from scripted price paths (:mod:`.paths`) of elapsed time;
* accounts with an API key and secret, a USDT wallet, one-way or hedge position mode,
  leverage per symbol, spot balances;
* market and limit orders, validated and matched as Binance does (:mod:`.matching` lists the
  rules: time in force, reduce-only exactly, hedge-mode legs, client order ids, slippage or a
  depth model, fill ratios); a ``rest_remainder`` keeps what an order could not fill open on
  the book, whatever its time in force (a venue that works it rather than killing it);
* taker fees, realized PnL into the wallet, equity = wallet + unrealized PnL, margin and a
  liquidation price estimate (the views: :mod:`.views` prices an account's legs, once per
  change of a mark, a leg or the wallet, so that an account of 10,000 legs is cheap to read again);
* per-account rate limits (429s, then a 418 ban: :mod:`.state`) and the countdown cancel-all
  (``countdownCancelAll``), evaluated on every engine call at the deadline's time;
* a spot desk (:mod:`.spot`): immediate spot orders, resting spot limits, and spot stop-loss
  and take-profit orders waiting for their trigger, each holding the balance it may spend;
* conditional orders (stop, take-profit, trailing stop) in an algo service of their own, apart
  from the book, as Binance keeps them (:mod:`.conditional`);
* change hooks (:meth:`SimExchange.on_change`, what changed in :mod:`.changes`), told
  synchronously: what a pushing face (:mod:`.stream`) renders as the venue's events.

Errors are :class:`SimError` with Binance's code, message and HTTP status, so both faces
(in-process adapter, HTTP server) report them the same way.

What it must not do: read the wall clock (time comes from the injected ``clock``), draw
unseeded randomness, do I/O, or know about HTTP, JSON or killswitch types. Fault injection
is interpreted by the faces; the engine only keeps the shared :class:`~.faults.FaultPlan`, the
"hide from the next query" marks that a fault asks for, and the faults scripted on it (a cap on
a symbol's cancel, a conditional order whose cancel is refused).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Optional

# what an account is, its limits and the clock live in .accounts, the slippage model in .depth;
# re-exported here, where the faces, the scenarios and many tests import them
from .accounts import AccountSpec, Clock, ManualClock, RateLimits  # noqa: F401
from .depth import SlippageModel  # noqa: F401

# the venue's rules live in .rules (shared with .conditional); those the engine's own calls
# refuse with, and the shapes the faces and the tests import from here, are re-exported
from .rules import (  # noqa: F401
    EPS,
    INVALID_PARAM,
    LEVERAGE_INVALID,
    NO_NEED_TO_CHANGE_SIDE,
    NO_SUCH_ORDER,
    SIDE_CHANGE_OPEN_ORDERS,
    SIDE_CHANGE_POSITIONS,
    UNKNOWN_ORDER,
    MarketSpec,
    SimError,
    SimOrder,
    decimals,
    floor_step,
)
from .spot import SpotDesk
from .views import PositionView  # noqa: F401  (re-exported: the faces read their shapes here)

if TYPE_CHECKING:
    from .conditional import SimAlgoOrder


class SimExchange(SpotDesk):
    """The engine. Every public method takes the account *name*; faces resolve API keys with
    :meth:`account_for_key`. Every public method first evaluates due timers at the clock's
    current time (countdown cancel-alls, resting limit orders).

    It is one venue's matching state — orders, positions, hedge legs, spot balances, timers,
    rate weights and faults — that every call reads and changes in one step, as a venue does,
    in layers of a module each: the state, setup, marks, lookups, change hooks and rate limits
    (:mod:`.state`), the positions and views (:mod:`.ledger`), the order book and its matching
    (:mod:`.matching`), the spot desk (:mod:`.spot`); this class adds the timers, the order
    queries and cancels, the countdown cancel-all, the position mode and leverage, the
    conditional orders' calls (:mod:`.conditional`) and the inspection of the whole. Its faces
    (:mod:`.adapter`, :mod:`.http`), faults (:mod:`.faults`) and the pricing of its views
    (:mod:`.views`) live apart. It is a test double, not code that trades."""

    def hide_from_next_query(self, account: str, order_id: int) -> None:
        """The next ``get_order`` or ``open_orders`` of this account does not show the order (once)."""
        self._acct(account).hidden.add(int(order_id))

    def tick(self) -> int:
        """Evaluate due timers at the current time; returns it."""
        now = self.now()
        self._tick(now)
        return now

    def advance(self, ms: int) -> int:
        """Move a :class:`ManualClock` forward and evaluate timers."""
        adv = getattr(self.clock, "advance", None)
        if adv is None:
            raise TypeError("advance() needs a clock with an advance(ms) method (ManualClock)")
        adv(ms)
        return self.tick()

    # --- timers ----------------------------------------------------------------------------------------

    def _tick(self, now: int) -> None:
        if len(self._names) != len(self.accounts):
            self._names = sorted(self.accounts)
        for name in self._names:
            a = self.accounts[name]
            if not a.countdowns and not a.live and not a.algo_live and not a.spot_live:
                continue  # nothing can be due: no countdown armed, no order resting or waiting for a trigger
            for symbol in sorted(a.countdowns):
                deadline, _ = a.countdowns[symbol]
                if deadline <= now:
                    del a.countdowns[symbol]
                    ids = self._cancel_symbol(a, symbol, deadline, "CANCELED")
                    # Binance's documentation says "all your orders of the specified symbol": it does
                    # not say whether the algo service's are among them. They are cancelled here too:
                    # a dead man's switch that left a stop to fire on a stale book would be the worse
                    # surprise, and a test that wants them kept can re-place them.
                    algo_ids = self.conditional.cancel_symbol(a, symbol, deadline)
                    event = {"event": "countdown_cancel_all", "account": name, "symbol": symbol, "ts": deadline,
                             "orders": ids}
                    if algo_ids:
                        event["algo_orders"] = algo_ids
                    spot_ids = self._cancel_spot_symbol(a, symbol, deadline) if a.spot_live else []
                    if spot_ids:  # the spot desk's resting orders of the symbol go with them
                        event["spot_orders"] = spot_ids
                    self.events.append(event)
            if a.algo_live:  # before the resting orders: a triggered STOP's limit may fill at once
                self.conditional.tick(a, now)
            if a.spot_live:  # the spot desk's: resting limits, stops waiting for their trigger
                self._spot_tick(a, now)
            for o in self._live(a):
                # a thin book (fill ratio < 1) has no liquidity for resting orders either; a
                # resting close whose position is gone expires whatever the book (as Binance
                # cancels reduce-only orders once the position is closed)
                if o.type == "LIMIT" and ((o.closes and self._closable(a, o) <= EPS) or (
                        self._ratio(o.symbol) >= 1.0 and self._crosses(o, self.mark(o.symbol, now)))):
                    self._execute(a, self.markets[o.symbol], o, now, resting=True)

    # --- order queries and cancels ------------------------------------------------------------------

    def get_order(self, account: str, symbol: str, order_id: Optional[int] = None,
                  client_order_id: Optional[str] = None) -> SimOrder:
        now, a = self._request(account, 1)
        m, o = self._lookup(a, symbol, order_id, client_order_id)
        if o is None or o.symbol != m.symbol or o.spot or not a.shown(o.order_id):
            raise SimError(NO_SUCH_ORDER, "Order does not exist.")
        return o.copy()

    def trades(self, account: str, symbol: Optional[str], since: Optional[int] = None, limit: int = 500, *,
               until: Optional[int] = None, weight: int = 5, event: str = "fill") -> list[dict]:
        """The account's fills of ``symbol`` (every symbol's: None) from ``since`` to ``until``
        (engine ms), oldest first, at most ``limit`` (the newest), charged ``weight`` (Binance's
        5 by default): each the engine's ``fill`` event (``spot_fill``: its spot desk's) with its
        trade's number (``id``)."""
        now, a = self._request(account, weight)
        sym = self._market(symbol).symbol if symbol is not None else None
        out = [{**e, "id": i} for i, e in enumerate(self.events, 1)
               if e.get("event") == event and e.get("account") == account and (sym is None or e.get("symbol") == sym)
               and (since is None or e["ts"] >= since) and (until is None or e["ts"] <= until)]
        return out[-limit:] if limit > 0 else out

    def open_orders(self, account: str, symbol: Optional[str] = None, *,
                    weight: Optional[int] = None) -> list[SimOrder]:
        """The open orders (of ``symbol``), charged Binance's weight (1, or 40 for every symbol)
        unless a face gives its venue's (``weight``: Bybit and OKX limit requests, not weight)."""
        now, a = self._request(account, weight if weight is not None else 1 if symbol else 40)
        sym = self._market(symbol).symbol if symbol else None
        return [o.copy() for o in self._live(a) if (not sym or o.symbol == sym) and a.shown(o.order_id)]

    def cancel_order(self, account: str, symbol: str, order_id: Optional[int] = None,
                     client_order_id: Optional[str] = None) -> SimOrder:
        now, a = self._request(account, 1)
        m, o = self._lookup(a, symbol, order_id, client_order_id)
        if o is None or o.symbol != m.symbol or not o.is_open or o.spot:
            raise SimError(UNKNOWN_ORDER, "Unknown order sent.")
        self.events.append({"event": "cancel", "account": account, "order": o.order_id, "ts": now})
        self._ended(o, "CANCELED", now)
        return o.copy()

    def cancel_all(self, account: str, symbol: str, limit: Optional[int] = None) -> list[SimOrder]:
        """Cancel the symbol's open orders, at most ``limit`` (a venue's cap a call: Bybit's 500)
        and at most the account's ``cancel_cap`` (a fault); the orders it cancelled."""
        now, a = self._request(account, 1)
        m = self._market(symbol)
        caps = [c for c in (limit, a.cancel_cap) if c is not None]
        ids = self._cancel_symbol(a, m.symbol, now, "CANCELED", min(caps) if caps else None)
        if ids:
            self.events.append({"event": "cancel_all", "account": account, "symbol": m.symbol, "orders": ids,
                                "ts": now})
        return [a.orders[i].copy() for i in ids]

    def countdown_cancel_all(self, account: str, symbol: str, countdown_ms: int) -> dict:
        """Arm (``countdown_ms`` > 0) or disarm (0) the symbol's countdown; re-arming resets it."""
        now, a = self._request(account, 10)
        m = self._market(symbol)
        if countdown_ms is None or int(countdown_ms) < 0:
            raise SimError(INVALID_PARAM, "Data sent for parameter 'countdownTime' is not valid.")
        ms = int(countdown_ms)
        if ms == 0:
            a.countdowns.pop(m.symbol, None)
        else:
            a.countdowns[m.symbol] = (now + ms, ms)
        return {"symbol": m.symbol, "countdownTime": str(ms)}

    def countdowns(self, account: str) -> dict[str, int]:
        """Armed countdowns: symbol → deadline (UTC ms)."""
        return {s: d for s, (d, _) in sorted(self._acct(account).countdowns.items())}

    def set_position_mode(self, account: str, hedge: bool) -> None:
        now, a = self._request(account, 1)
        if a.hedge_mode == bool(hedge):
            raise SimError(NO_NEED_TO_CHANGE_SIDE, "No need to change position side.")
        if self._live(a) or self.conditional.live(a):
            raise SimError(SIDE_CHANGE_OPEN_ORDERS, "Position side cannot be changed if there exists open orders.")
        if any(abs(leg.amount) > EPS for leg in a.legs.values()):
            raise SimError(SIDE_CHANGE_POSITIONS, "Position side cannot be changed if there exists position.")
        a.hedge_mode = bool(hedge)
        a.legs = {}
        a.rev += 1

    def position_mode(self, account: str) -> bool:
        now, a = self._request(account, 30)
        return a.hedge_mode

    def set_leverage(self, account: str, symbol: str, leverage: int) -> int:
        now, a = self._request(account, 1)
        m = self._market(symbol)
        lev = int(leverage)
        if not 1 <= lev <= m.max_leverage:
            raise SimError(LEVERAGE_INVALID, f"Leverage {lev} is not valid")
        a.leverage[m.symbol] = lev
        a.rev += 1
        return lev

    # --- conditional (algo) orders: :mod:`.conditional` ----------------------------------------------------

    def place_algo_order(self, account: str, symbol: str, side: str, type: str, **kw: Any) -> "SimAlgoOrder":
        """A stop, take-profit or trailing stop (``POST /fapi/v1/algoOrder``); the keywords are
        :meth:`.conditional.ConditionalBook.place`'s."""
        return self.conditional.place(account, symbol, side, type, **kw)

    def open_algo_orders(self, account: str, symbol: Optional[str] = None, *,
                         weight: Optional[int] = None) -> list["SimAlgoOrder"]:
        return self.conditional.open_orders(account, symbol, weight=weight)

    def get_algo_order(self, account: str, algo_id: Optional[int] = None,
                       client_algo_id: Optional[str] = None) -> "SimAlgoOrder":
        return self.conditional.get(account, algo_id, client_algo_id)

    def cancel_algo_order(self, account: str, algo_id: Optional[int] = None,
                          client_algo_id: Optional[str] = None) -> "SimAlgoOrder":
        return self.conditional.cancel(account, algo_id, client_algo_id)

    def cancel_all_algo(self, account: str, symbol: str) -> list["SimAlgoOrder"]:
        return self.conditional.cancel_all(account, symbol)

    def cap_cancels(self, account: str, cap: Optional[int]) -> None:
        """A fault: each cancel of a whole symbol takes at most ``cap`` of its orders and still
        answers success (0: an empty cancel while orders rest; None: lifted)."""
        self._acct(account).cancel_cap = cap

    def has_algo_orders(self, account: str) -> bool:
        """Whether the account has an open conditional order, without a query (no weight, no
        timers): the in-process face asks before it lists them, so an account that never uses
        them pays no 40 weight a snapshot for an empty list (a venue's user stream tells as much)."""
        return bool(self.conditional.live(self._acct(account)))

    # --- inspection ------------------------------------------------------------------------------------------

    def order_by_client_id(self, account: str, client_order_id: str) -> Optional[SimOrder]:
        """Test helper: the order without a query (no rate limit, no hiding, no timers)."""
        a = self._acct(account)
        o = self._find(a, None, client_order_id)
        return o.copy() if o else None

    def dump_state(self) -> dict[str, Any]:
        """Everything, as plain data: for determinism checks and debugging."""
        out: dict[str, Any] = {"t0": self.t0, "now": self.now(), "accounts": {}, "events": self.events}

        for name in sorted(self.accounts):
            a = self.accounts[name]
            out["accounts"][name] = {
                "wallet": round(a.wallet, 8), "hedge_mode": a.hedge_mode, "spot": dict(sorted(a.spot.items())),
                "legs": {f"{s}/{ps}": [leg.amount, round(leg.entry, 8), leg.update_time]
                         for (s, ps), leg in sorted(a.legs.items())},
                "orders": [asdict(a.orders[i]) for i in sorted(a.orders)],
                "algo_orders": [asdict(a.algos[i]) for i in sorted(a.algos)],
                "countdowns": {s: list(v) for s, v in sorted(a.countdowns.items())},
                "fees_paid": round(a.fees_paid, 8), "realized_pnl": round(a.realized_pnl, 8),
            }
        return out

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.dump_state(), sort_keys=True, default=str).encode()).hexdigest()


__all__ = ["SimExchange", "SimError", "SimOrder", "PositionView", "MarketSpec", "AccountSpec",
           "SlippageModel", "RateLimits", "ManualClock", "Clock", "decimals", "floor_step"]
