"""The pre-trade gate behind ``POST /v1/check-order``: may this bot send this order now?

Owns the decision, as a pure function of the lock book, the request, the account's positions
and the time — :func:`check_order` — and the step-by-step return to normal limits after a
reset — :class:`ResumePlan` and :func:`resume_limits`.

Rules, by the lock in force for the order (the most restrictive of the ``global`` lock and the
locks of the scope, account, its venue, strategy and symbol the request names):

- ``ACTIVE``: allowed, unless a resumption is in force for a scope the order names and the
  order would take the open position count or the gross exposure above today's resumed limit
  (``RESUMING: ...``). Orders that reduce exposure always pass a resumption.
- ``HALTED``: nothing is allowed, not even a close (the runner flattens; bots stay out).
- ``REDUCING``: only an order that shrinks an existing position: the opposite side of that
  symbol's position (of the same leg in hedge mode) and no larger than it. No position, the
  same side, a larger amount or an ambiguous leg is denied.

Before the lock, the order is placed (:func:`place`, when the runner passes what it knows): an
unknown account, scope or symbol (``UNKNOWN_ACCOUNT``, ``UNKNOWN_SCOPE``, ``UNKNOWN_SYMBOL``, with
close matches), markets not read yet (``MARKETS_UNKNOWN``), an amount above ``MAX_AMOUNT``
(``AMOUNT_OUT_OF_BOUNDS``) or, for an order that is not reduce-only and can be valued (its
``price``, else the symbol's last mark), a notional above ``MAX_EQUITY_MULTIPLE`` times the
equity of the accounts it may go to (``ORDER_TOO_LARGE``) is denied.

After the lock (and only when it allows), the policies' pre-trade limits (``spec.limits``) that
bind the order are checked (:func:`within_limits`, through :func:`killswitch.engine.limits.breaches_in`
over the tables of the last snapshots): a breach is denied with its code (``NO_MARK``,
``PRICE_COLLAR``, ``LIMIT_ORDER_QUANTITY``, ``LIMIT_ORDER_NOTIONAL``, ``OPEN_ORDERS_LIMIT``,
``POSITION_LIMIT``, ``GROSS_LIMIT``, ``MESSAGE_RATE``), and the answer's ``limit`` carries the
limit's value and the usage the order would bring it to; an account of which the runner has no
snapshot yet cannot be placed under its limits (``LIMITS_UNKNOWN``). An allowed order takes one
message from each of its strategy's buckets (handed in: :mod:`.limits_state`).

A request is validated strictly first: unknown fields, wrong types, a side other than buy or
sell, an amount that is not a finite positive number → ``BAD_REQUEST: ...``. The gate never
raises: an unexpected error denies (``INTERNAL: ...``). When it cannot tell, it says no.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from ..figures import money, step_of
from ..engine.limits import MESSAGE_RATE, Breach, LimitOrder, breaches_in
from .limits_state import BucketKey, GateLimits
from .lock import DEAD_MANS_SWITCH, GLOBAL_SCOPE, OPERATOR, LockBook, LockStatus
from .names import Catalog, close_matches

DAY_MS = 86_400_000
MAX_TEXT = 256  # longest scope, account, strategy or symbol a request may name
# An order is refused beyond these, whatever the lock says: no venue lists a market where 1e12
# contracts is an order, and no venue lends more than 125 times an account's equity.
MAX_AMOUNT = 1e12
MAX_EQUITY_MULTIPLE = 125.0
REQUEST_FIELDS = frozenset({"scope", "account", "strategy", "symbol", "side", "amount", "price",
                            "reduce_only", "position_side"})


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str
    limit: Optional[dict] = None  # the pre-trade limit broken: its value and usage

    def to_json(self) -> dict:
        out = {"allow": self.allow, "reason": self.reason}
        if self.limit is not None:
            out["limit"] = dict(self.limit)
        return out


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


# --- the resumption schedule -------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePlan:
    """Limits after a reset: on day 1 ``start_fraction`` of the normal limits, ×``step_factor``
    each further ``step_ms``, until the fraction reaches 1 (normal limits again).

    ``max_positions`` / ``max_gross_exposure`` are the normal limits (None: not limited)."""

    max_positions: Optional[int] = None
    max_gross_exposure: Optional[float] = None
    start_fraction: float = 0.4
    step_factor: float = 1.5
    step_ms: int = DAY_MS

    def __post_init__(self) -> None:
        if self.max_positions is not None and (isinstance(self.max_positions, bool)
                                               or not isinstance(self.max_positions, int) or self.max_positions < 0):
            raise ValueError("max_positions must be a whole number ≥ 0")
        if self.max_gross_exposure is not None and not (_finite(self.max_gross_exposure)
                                                        and self.max_gross_exposure >= 0):
            raise ValueError("max_gross_exposure must be a finite number ≥ 0")
        if not (_finite(self.start_fraction) and 0 < self.start_fraction <= 1):
            raise ValueError("start_fraction must be above 0 and at most 1")
        if not (_finite(self.step_factor) and self.step_factor > 1):
            raise ValueError("step_factor must be above 1")
        if isinstance(self.step_ms, bool) or not isinstance(self.step_ms, int) or self.step_ms <= 0:
            raise ValueError("step_ms must be a positive whole number of milliseconds")
        if self.days > 1000:
            raise ValueError("the schedule takes more than 1000 steps to reach normal limits")

    def fraction(self, day: int) -> float:
        """Fraction of the normal limits on ``day`` (1-based); 1 once the schedule is over."""
        f = self.start_fraction
        for _ in range(max(0, day - 1)):
            if f >= 1:
                break
            f *= self.step_factor
        return 1.0 if f >= 1 - 1e-12 else f

    @property
    def days(self) -> int:
        """Number of steps with reduced limits (0 when ``start_fraction`` is 1)."""
        n, f = 0, self.start_fraction
        while f < 1 - 1e-12 and n <= 1001:
            n += 1
            f *= self.step_factor
        return n


@dataclass(frozen=True)
class ResumeLimits:
    day: int  # 1-based step since the reset
    days: int  # steps with reduced limits
    fraction: float
    max_positions: Optional[int]
    max_gross_exposure: Optional[float]
    done: bool  # normal limits again
    until_ms: Optional[int]  # when these limits step up (None when done)
    step_ms: Optional[int] = None  # the schedule's step (a day unless the policy says another)

    @property
    def label(self) -> str:
        return step_of(self.day, self.days, self.step_ms)


@dataclass(frozen=True)
class Resumption:
    """A resumption in force: the plan, when the reset happened (UTC ms), and the scope instance
    it holds (an order is held by it when it names that scope: see ``OrderRequest.scope_keys``;
    None: every order)."""

    plan: ResumePlan
    reset_ms: int
    scope: Optional[str] = None

    def limits(self, now_ms: int) -> "ResumeLimits":
        return resume_limits(self.plan, self.reset_ms, now_ms)


def resume_limits(plan: ResumePlan, reset_ms: int, now_ms: int) -> ResumeLimits:
    """The limits at ``now_ms`` of a resumption that began at ``reset_ms``.

    Day 1 is ``[reset, reset + step)``; a ``now_ms`` before the reset (a clock that went back)
    counts as day 1, the most restrictive."""
    elapsed = max(0, now_ms - reset_ms)
    day = elapsed // plan.step_ms + 1
    days = plan.days
    if day > days:
        return ResumeLimits(day, days, 1.0, plan.max_positions, plan.max_gross_exposure, True, None, plan.step_ms)
    f = plan.fraction(day)
    positions = None
    if plan.max_positions is not None:
        positions = min(plan.max_positions, max(1 if plan.max_positions else 0,
                                                int(math.floor(plan.max_positions * f + 1e-9))))
    gross = None if plan.max_gross_exposure is None else plan.max_gross_exposure * f
    return ResumeLimits(day, days, f, positions, gross, False, reset_ms + day * plan.step_ms, plan.step_ms)


# --- request validation -------------------------------------------------------------------------------


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


def binding_lock(book: LockBook, scope: str, now_ms: Optional[int], *, account: bool = False) -> LockStatus:
    """The lock :func:`check_order` applies to the orders of ``scope`` (any symbol aside): the most
    restrictive of its own, ``global``'s and, when ``account`` (``scope`` is an account,
    ``venue/account``, named as the order's account), its venue's. Unlocked: ``scope``, active."""
    keys = lock_keys(account=scope) if account else lock_keys(scope=scope)
    lock = book.effective(keys, now_ms)
    return lock if lock.locked else LockStatus.unlocked(scope)


def _finite(x: Any) -> bool:
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
                   f"known: {', '.join(sorted(REQUEST_FIELDS))}")
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
    if not _finite(amount) or amount <= 0:
        raise _Bad(f'"amount" must be a finite number above 0, not {_show(amount)}')
    price = req.get("price")
    if price is not None and (not _finite(price) or price <= 0):
        raise _Bad(f'"price" must be a finite number above 0, not {_show(price)}')
    reduce_only = req.get("reduce_only")
    if reduce_only is not None and not isinstance(reduce_only, bool):
        raise _Bad(f'"reduce_only" must be true or false, not {_show(reduce_only)}')
    ps = req.get("position_side")
    if ps is not None and (not isinstance(ps, str) or ps not in ("LONG", "SHORT", "BOTH")):
        raise _Bad(f'"position_side" must be "LONG", "SHORT" or "BOTH", not {_show(ps)}')
    return OrderRequest(symbol, side, float(amount), scope, account, strategy,  # type: ignore[arg-type]
                        None if price is None else float(price), reduce_only, ps)


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


# --- positions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leg:
    """The position an order acts on: signed contracts (+ long, − short) and a unit price."""

    contracts: float  # signed; 0 when there is none
    unit_price: Optional[float]  # notional per contract
    hedge: bool


def _open(positions: Sequence[Any]) -> list[Any]:
    return [p for p in positions if getattr(p, "contracts", 0) and p.contracts > 0]


def _unit(p: Any) -> Optional[float]:
    if p.contracts > 0 and p.notional > 0:
        return p.notional / p.contracts
    price = p.mark_price * getattr(p, "contract_size", 1.0)
    return price if price > 0 else None


def _leg(req: OrderRequest, positions: Sequence[Any]) -> tuple[Optional[_Leg], Optional[str]]:
    """(the leg the order acts on, or None with why it cannot be told)."""
    mine = [p for p in _open(positions) if p.symbol == req.symbol]
    hedged = [p for p in mine if p.position_side in ("LONG", "SHORT")]
    oneway = [p for p in mine if p.position_side not in ("LONG", "SHORT")]
    if req.hedge_leg is not None:
        legs = [p for p in hedged if p.position_side == req.hedge_leg]
        if len(legs) > 1:
            return None, f"{len(legs)} {req.hedge_leg} positions in {req.symbol}"
        if oneway:
            return None, f"position_side {req.hedge_leg} given but {req.symbol} is held in one-way mode"
        if not legs:
            return _Leg(0.0, None, True), None
        p = legs[0]
        if p.side != req.hedge_leg.lower():
            return None, f"the {req.hedge_leg} leg of {req.symbol} reports side {p.side}"
        return _Leg(p.contracts if p.side == "long" else -p.contracts, _unit(p), True), None
    if hedged:
        return None, f"{req.symbol} is held in hedge mode; position_side LONG or SHORT is required"
    if len(oneway) > 1:
        return None, f"{len(oneway)} one-way positions in {req.symbol}"
    if not oneway:
        return _Leg(0.0, None, False), None
    p = oneway[0]
    return _Leg(p.contracts if p.side == "long" else -p.contracts, _unit(p), False), None


def _after(req: OrderRequest, leg: _Leg) -> float:
    """Signed contracts of the leg after the order fills in full."""
    delta = req.amount if req.side == "buy" else -req.amount
    if leg.hedge:
        # a hedge leg never crosses zero: the venue closes it at most (or rejects the excess)
        if req.hedge_leg == "LONG":
            return max(0.0, leg.contracts + delta)
        return min(0.0, leg.contracts + delta)
    return leg.contracts + delta


# --- placement: does the order name things the runner knows? -----------------------------------------


@dataclass(frozen=True)
class Placement:
    """What the gate needs to place an order before it reads the lock: the names the runner knows,
    the unit price of each symbol it has seen (mark × contract size, from the last snapshots) and
    each account's equity (None when unknown)."""

    catalog: Catalog
    unit_prices: Mapping[str, float] = field(default_factory=dict)
    equity: Mapping[str, Optional[float]] = field(default_factory=dict)


def place(req: OrderRequest, where: Placement) -> Optional[Decision]:
    """A deny when the order cannot be placed (an unknown account, scope or symbol, an amount
    beyond sane bounds), else None. Fails closed: a symbol list not read yet is a deny."""
    cat = where.catalog
    if req.account is not None:
        bad = cat.resolve_account(req.account)
        if bad is not None:
            return _deny(bad.reason)
    if req.scope is not None:
        bad = cat.resolve_scope(req.scope)
        if bad is not None:
            return _deny(bad.reason)
    accounts = [req.account] if req.account is not None else sorted(cat.accounts_of(req.scope or GLOBAL_SCOPE))
    symbols = cat.symbols_for(accounts)
    if symbols is None:
        missing = [a for a in accounts if cat.symbols.get(a) is None]
        return _deny(f"MARKETS_UNKNOWN: the markets of {', '.join(missing[:3])} have not been read yet; "
                     f"cannot tell whether {req.symbol!r} trades there")
    if req.symbol not in symbols:
        return _deny(f"UNKNOWN_SYMBOL: {req.symbol!r} is not listed for {', '.join(accounts[:3])}"
                     f"{_near(req.symbol, symbols)}")
    if req.amount > MAX_AMOUNT:
        return _deny(f"AMOUNT_OUT_OF_BOUNDS: amount {req.amount:g} > {MAX_AMOUNT:g}")
    unit = req.price or where.unit_prices.get(req.symbol)
    if req.reduce_only or unit is None:
        return None
    equity = [where.equity.get(a) for a in accounts]
    if any(e is None for e in equity):
        return None  # equity unknown this tick: the lock and the data-age policies speak for it
    total = sum(e for e in equity if e is not None)
    notional = req.amount * unit
    if notional > MAX_EQUITY_MULTIPLE * max(total, 0.0):
        return _deny(f"ORDER_TOO_LARGE: notional {money(notional)} > {MAX_EQUITY_MULTIPLE:g} x equity {money(total)} "
                     f"of {', '.join(accounts[:3])}")
    return None


def _near(name: str, known: Iterable[str]) -> str:
    near = close_matches(name, known)
    return f"; did you mean {', '.join(repr(k) for k in near)}?" if near else ""


# --- the gate -----------------------------------------------------------------------------------------


def check_order(book: LockBook, request: Any, positions: Optional[Sequence[Any]], now_ms: int,
                resume: Union[None, Resumption, Sequence[Resumption]] = None,
                placement: Optional[Placement] = None, limits: Optional[GateLimits] = None) -> Decision:
    """May this order be sent now? ``positions``: the open positions of the account the order
    goes to (``Position`` values; None when unknown, which only ACTIVE without a resumption
    tolerates). ``resume``: the resumptions in force; those whose scope the order names hold
    it, and the order must pass every one of them. ``placement``: what the runner knows; the
    order must name a known account, scope and symbol and a sane amount first (:func:`place`).
    ``limits``: the policies' pre-trade limits, checked once the lock allows (:func:`within_limits`).
    Never raises."""
    try:
        try:
            req = _parse(request)
        except _Bad as e:
            return _deny(f"BAD_REQUEST: {e}")
        if placement is not None:
            misplaced = place(req, placement)
            if misplaced is not None:
                return misplaced
        lock = book.effective(req.scope_keys, now_ms)
        if lock.mode == "halted":
            return _deny(_halted(lock))
        if lock.mode == "reducing":
            answer = _reducing(lock, req, positions)
        else:
            answer = _resumed(req, positions, resume, now_ms)
        if not answer.allow or limits is None:
            return answer
        return within_limits(req, limits, placement, now_ms) or answer
    except Exception as e:  # fail closed: a gate that crashes must not read as "allowed"
        return _deny(f"INTERNAL: {type(e).__name__}: {e}")


def _resumed(req: OrderRequest, positions: Optional[Sequence[Any]],
             resume: Union[None, Resumption, Sequence[Resumption]], now_ms: int) -> Decision:
    held = _holding(resume, req)
    if held:
        answers = [_resuming(req, positions, r, now_ms) for r in held]
        denied = next((a for a in answers if not a.allow), None)
        if denied is not None:
            return denied
        return next((a for a in answers if a.reason != "ACTIVE"), answers[0])
    return Decision(True, "ACTIVE")


# --- pre-trade limits ---------------------------------------------------------------------------------


def within_limits(req: OrderRequest, limits: GateLimits, placement: Optional[Placement],
                  now_ms: int) -> Optional[Decision]:
    """A deny naming the first limit the order breaks (its code, value and usage in ``limit``),
    else None, and then one message taken from each of the strategy's buckets. The order is
    checked for every account it may go to: the one it names, else every account of its scope."""
    tables = limits.tables
    if req.account is not None:
        accounts = [req.account]
    elif placement is not None:
        accounts = sorted(placement.catalog.accounts_of(req.scope or GLOBAL_SCOPE))
    else:
        accounts = sorted(tables.routes)
    with limits.buckets.lock:  # the buckets read and spent as one step, whichever thread checks
        return _within(req, limits, accounts, now_ms)


def _within(req: OrderRequest, limits: GateLimits, accounts: Sequence[str], now_ms: int) -> Optional[Decision]:
    tables = limits.tables
    strategy = req.strategy or "-"
    spend: list[tuple[BucketKey, float, int]] = []
    for account in accounts:
        if account not in tables.accounts:  # no snapshot yet (a runner just started, a standby)
            return Decision(False, f"LIMITS_UNKNOWN: no snapshot of {account} yet; which policies' limits bind it "
                                   "and what its book holds cannot be told")
        order = LimitOrder(req.symbol, req.side, req.amount, req.price, bool(req.reduce_only), req.position_side,
                           account, req.strategy)
        marks = tables.marks_of(account)
        for sl in tables.binding(account, req.strategy, req.symbol):
            lim = sl.limits
            tokens = None
            if lim.message_rate is not None and lim.message_burst is not None:
                key = (sl.policy, sl.scope, strategy)
                tokens = limits.buckets.level(key, lim.message_rate, lim.message_burst, now_ms)
                if tokens is None:
                    return _limit_deny(sl.policy, sl.scope, Breach(
                        MESSAGE_RATE, lim.message_rate, None, "messages",
                        f"the gate's message buckets are full ({len(limits.buckets)}); strategy {strategy} "
                        "cannot be counted", req.symbol))
                spend.append((key, lim.message_rate, lim.message_burst))
            found = breaches_in(lim, order, sl.usage, marks, now_ms, tokens=tokens)
            if found:
                return _limit_deny(sl.policy, sl.scope, found[0], len(found))
    for key, rate, burst in spend:
        limits.buckets.take(key, rate, burst, now_ms)
    return None


def _limit_deny(policy: str, scope: str, b: Breach, count: int = 1) -> Decision:
    more = f" (and {count - 1} more)" if count > 1 else ""
    return Decision(False, f"{b.reason} [policy={policy} scope={scope}]{more}",
                    {**b.to_json(), "policy": policy, "scope": scope})


def _holding(resume: Union[None, Resumption, Sequence[Resumption]], req: OrderRequest) -> list[Resumption]:
    if resume is None:
        return []
    items = [resume] if isinstance(resume, Resumption) else list(resume)
    keys = req.scope_keys
    return [r for r in items if r.scope is None or r.scope in keys]


def _where(lock: LockStatus) -> str:
    held = "until manual reset" if lock.manual else f"until {lock.until}" if lock.until else "until released"
    if lock.policy == OPERATOR:  # no stage: who locked it, when the runner knows
        who = lock.details.get("by")
        origin = "origin=operator" + (f" by={who}" if who else "")
    elif lock.policy == DEAD_MANS_SWITCH:
        origin = "origin=dead-mans-switch"
    else:
        origin = (f"stage={lock.stage} " if lock.stage is not None else "") + f"policy={lock.policy}"
    return f"{origin} scope={lock.scope} since {lock.since} {held}"


def _halted(lock: LockStatus) -> str:
    return f"HALTED: {_where(lock)}"


def _reducing(lock: LockStatus, req: OrderRequest, positions: Optional[Sequence[Any]]) -> Decision:
    where = f" ({_where(lock)})"
    if positions is None:
        return _deny("REDUCING: positions unknown; only a reducing order may be sent" + where)
    leg, why = _leg(req, positions)
    if leg is None:
        return _deny(f"REDUCING: cannot tell which position the order reduces: {why}" + where)
    closing = "sell" if leg.contracts > 0 else "buy"
    if leg.contracts == 0 or req.side != closing:
        return _deny("REDUCING: order would open or increase exposure" + where)
    size = abs(leg.contracts)
    if req.amount > size:
        if req.reduce_only is False:
            return _deny(f"REDUCING: order would flip the position (amount {req.amount:g} > position {size:g})" + where)
        return _deny(f"REDUCING: order larger than the position (amount {req.amount:g} > position {size:g})" + where)
    return Decision(True, f"REDUCING: reduces the position (amount {req.amount:g} <= position {size:g})")


def _resuming(req: OrderRequest, positions: Optional[Sequence[Any]], resume: Resumption, now_ms: int) -> Decision:
    limits = resume_limits(resume.plan, resume.reset_ms, now_ms)
    if limits.done:
        return Decision(True, "ACTIVE")
    tag = f" ({limits.label})"
    if positions is None:
        return _deny("RESUMING: positions unknown; cannot check the resumed limits" + tag)
    leg, why = _leg(req, positions)
    if leg is None:
        return _deny(f"RESUMING: cannot tell which position the order changes: {why}" + tag)
    after = _after(req, leg)
    if abs(after) <= abs(leg.contracts) and (after == 0 or leg.contracts == 0 or (after > 0) == (leg.contracts > 0)):
        return Decision(True, f"RESUMING: reduces exposure{tag}")
    if req.reduce_only and leg.contracts != 0 and (req.side == "sell") == (leg.contracts > 0):
        return Decision(True, f"RESUMING: reduce-only close{tag}")  # the venue caps it at the position
    held = _open(positions)
    count_after = len(held) + (1 if leg.contracts == 0 and after != 0 else 0)
    if limits.max_positions is not None and leg.contracts == 0 and count_after > limits.max_positions:
        return _deny(f"RESUMING: open positions would be {count_after} > limit {limits.max_positions}{tag}")
    if limits.max_gross_exposure is not None:
        unit = req.price or leg.unit_price
        if unit is None:
            return _deny(f'RESUMING: cannot value the order; give "price"{tag}')
        gross = sum(p.notional for p in held)
        old = abs(leg.contracts) * (leg.unit_price or unit)
        gross_after = gross - old + abs(after) * unit
        if gross_after > limits.max_gross_exposure:
            return _deny(f"RESUMING: gross exposure would be {money(gross_after)} > limit "
                         f"{money(limits.max_gross_exposure)}{tag}")
        return Decision(True, f"RESUMING: gross exposure {money(gross_after)} <= limit "
                              f"{money(limits.max_gross_exposure)}{tag}")
    return Decision(True, f"RESUMING: within limits{tag}")


__all__ = ["Decision", "MAX_AMOUNT", "MAX_EQUITY_MULTIPLE", "OrderRequest", "Placement", "ResumePlan",
           "ResumeLimits", "Resumption", "REQUEST_FIELDS", "binding_lock", "check_order", "lock_keys", "parse_request",
           "place", "resume_limits"]
