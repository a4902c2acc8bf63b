"""The pre-trade gate behind ``POST /v1/check-order``: may this bot send this order now?

Owns the decision, as a pure function of the lock book, the request, the account's positions
and the time — :func:`check_order` — and the lock it applies to a scope's orders
(:func:`binding_lock`). Its steps that stand alone have their own modules: the request and the
answer (:mod:`.request`), the placement (:mod:`.placement`), the pre-trade limits
(:mod:`.limits`) and the resumption schedule after a reset (:mod:`.resume_plan`).

Rules, by the lock in force for the order (the most restrictive of the ``global`` lock and the
locks of the scope, account, its venue, strategy and symbol the request names):

- ``ACTIVE``: allowed, unless a resumption is in force for a scope the order names and the
  order would take the open position count or the gross exposure above today's resumed limit
  (``RESUMING: ...``). Orders that reduce exposure always pass a resumption.
- ``HALTED``: nothing is allowed, not even a close (the runner flattens; bots stay out).
- ``REDUCING``: only an order that shrinks an existing position: the opposite side of that
  symbol's position (of the same leg in hedge mode) and no larger than it. No position, the
  same side, a larger amount or an ambiguous leg is denied.

Before the lock, the order is placed (:func:`~.placement.place`, when the runner passes what it
knows: the unknown names, amounts and notionals it denies are its module's; the notional is
checked for an order that is not reduce-only and can be valued, by its ``price``, else the
symbol's last mark), then attributed (:func:`~.whose.whose`): the strategy its client order id
names is its strategy, as the venue watch reads it.

After the lock, the policies' pre-trade limits that bind the order are checked
(:func:`~.limits.within_limits`: each breach denied with its code and the answer's ``limit``;
``LIMITS_UNKNOWN`` before the account's first snapshot; ``STRATEGY_MISSING`` for an order that
carries no strategy where a strategy-level policy's limits judge it). An order the lock (or a
resumption) refuses is refused as it says, with the limits it also breaks after ``; also:`` and
in ``limit`` (its ``breaches``, ``also: true``): nothing is spent or remembered for it.

A request is validated strictly first: unknown fields, wrong types, a side other than buy or
sell, an amount that is not a finite positive number → ``BAD_REQUEST: ...``. The gate never
raises: an unexpected error denies (``INTERNAL: ...``). When it cannot tell, it says no.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

from ...figures import money
from ...snapshot import columns_of
from ..lock.lock import DEAD_MANS_SWITCH, OPERATOR, LockBook, LockStatus, iso_ms
from .limits import within_limits
from .limits_state import GateLimits
from .placement import Placement, place
from .request import Decision, OrderRequest, deny, lock_keys, parse_request
from .resume_plan import Resumption, resume_limits
from .whose import whose

# --- positions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leg:
    """The position an order acts on: signed contracts (+ long, − short) and a unit price."""

    contracts: float  # signed; 0 when there is none
    unit_price: Optional[float]  # notional per contract
    hedge: bool


class HeldPositions:
    """One account's positions as the gate reads them: the open legs of one symbol, how many are
    open and their gross notional — each worked out when a check first asks and kept, so that a
    check costs the legs of its symbol, not a pass over the account. From the snapshot's columns
    where the adapter made them (:class:`~killswitch.snapshot.PositionColumns`): a symbol's legs
    are found by the column's own search, in C, and only their models are read (positions made
    on reading make no other). Checks on several threads may learn the same answer: the same
    value is stored."""

    __slots__ = ("_positions", "_symbols", "_contracts", "_notional", "_legs", "_open")

    def __init__(self, positions: Sequence[Any]):
        self._positions = positions
        cols = columns_of(positions) if hasattr(positions, "columns") else None  # type: ignore[arg-type]
        self._symbols: Sequence[Optional[str]]
        if cols is not None:
            self._symbols, self._contracts, self._notional = cols.symbols, cols.contracts, cols.notional
        else:  # a plain list (a test, a replay): read once
            self._symbols = [getattr(p, "symbol", None) for p in positions]
            self._contracts = [getattr(p, "contracts", 0) or 0 for p in positions]
            self._notional = [getattr(p, "notional", 0.0) or 0.0 for p in positions]
        self._legs: dict[str, list[Any]] = {}
        self._open: Optional[tuple[int, float]] = None  # (open positions, their gross notional)

    def legs(self, symbol: str) -> list[Any]:
        """The open positions of ``symbol``, in the account's order."""
        legs = self._legs.get(symbol)
        if legs is None:
            symbols, contracts, at = self._symbols, self._contracts, []
            i = -1
            while True:
                try:
                    i = symbols.index(symbol, i + 1)
                except ValueError:
                    break
                if contracts[i] > 0:
                    at.append(i)
            legs = self._legs[symbol] = [self._positions[i] for i in at]
        return legs

    def opened(self) -> tuple[int, float]:
        """How many positions are open (contracts above 0) and the sum of their notional."""
        known = self._open
        if known is None:
            contracts, notional = self._contracts, self._notional
            if min(contracts, default=1) > 0:  # every one open: the column as it is, summed in C in order
                known = (len(contracts), sum(notional))
            else:
                held = [n for n, c in zip(notional, contracts) if c > 0]
                known = (len(held), sum(held))
            self._open = known
        return known


class HeldByAccount(Mapping[str, Optional[HeldPositions]]):
    """Account → :class:`HeldPositions` of its snapshot (None when its last read failed), each
    made when a check first asks for the account and kept while the snapshots are the same:
    every view published between two ticks shares them."""

    def __init__(self, snapshots: Mapping[str, Any]):
        self._snaps = snapshots
        self._made: dict[str, Optional[HeldPositions]] = {}

    def __getitem__(self, account: str) -> Optional[HeldPositions]:
        made = self._made
        if account in made:
            return made[account]
        snap = self._snaps[account]  # KeyError for an account without a snapshot
        held = made[account] = HeldPositions(snap.positions) if snap.fetch.ok else None
        return held

    def __iter__(self) -> Iterator[str]:
        return iter(self._snaps)

    def __len__(self) -> int:
        return len(self._snaps)


def held_positions(positions: Union[None, Sequence[Any], HeldPositions]) -> Optional[HeldPositions]:
    """``positions`` as the gate reads them (None: unknown)."""
    if positions is None or isinstance(positions, HeldPositions):
        return positions
    return HeldPositions(positions)


def _unit(p: Any) -> Optional[float]:
    if p.contracts > 0 and p.notional > 0:
        return p.notional / p.contracts
    price = p.mark_price * getattr(p, "contract_size", 1.0)
    return price if price > 0 else None


def _leg(req: OrderRequest, positions: HeldPositions) -> tuple[Optional[_Leg], Optional[str]]:
    """(the leg the order acts on, or None with why it cannot be told)."""
    mine = positions.legs(req.symbol)
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


# --- the gate -----------------------------------------------------------------------------------------


def check_order(book: LockBook, request: Any, positions: Union[None, Sequence[Any], HeldPositions], now_ms: int,
                resume: Union[None, Resumption, Sequence[Resumption]] = None,
                placement: Optional[Placement] = None, limits: Optional[GateLimits] = None) -> Decision:
    """May this order be sent now? ``positions``: the open positions of the account the order
    goes to (``Position`` values, or :class:`HeldPositions` of them kept across checks; None
    when unknown, which only ACTIVE without a resumption tolerates). ``resume``: the
    resumptions in force; those whose scope the order names hold it, and the order must pass
    every one of them. ``placement``: what the runner knows; the
    order must name a known account, scope and symbol and a sane amount first (:func:`.place`).
    ``limits``: the policies' pre-trade limits, checked once the lock allows (:func:`.within_limits`),
    and told beside its refusal when it does not.
    Never raises."""
    try:
        try:
            req = parse_request(request)
        except ValueError as e:
            return deny(f"BAD_REQUEST: {e}")
        if placement is not None:
            misplaced = place(req, placement)
            if misplaced is not None:
                return misplaced
            owned = whose(req, placement.catalog)  # the strategy its client id names, as the watch reads it
            if isinstance(owned, Decision):
                return owned
            req = owned
        lock = book.effective(req.scope_keys, now_ms)
        held = held_positions(positions)
        if lock.mode == "halted":
            answer = deny(_halted(lock))
        elif lock.mode == "reducing":
            answer = _reducing(lock, req, held)
        else:
            answer = _resumed(req, held, resume, now_ms)
        if limits is None:
            return answer
        if not answer.allow:
            return _also(answer, within_limits(req, limits, placement, now_ms, also=True))
        return within_limits(req, limits, placement, now_ms) or answer
    except Exception as e:  # fail closed: a gate that crashes must not read as "allowed"
        return deny(f"INTERNAL: {type(e).__name__}: {e}")


def _also(refused: Decision, limited: Optional[Decision]) -> Decision:
    """A refusal by the lock (or a resumption) with the limits the order also breaks, if any: the
    decision and its first code stay the lock's, a bot fixing the order learns them all at once."""
    if limited is None or limited.allow:
        return refused
    return Decision(False, f"{refused.reason}; also: {limited.reason}", limited.limit)


def _resumed(req: OrderRequest, positions: Optional[HeldPositions],
             resume: Union[None, Resumption, Sequence[Resumption]], now_ms: int) -> Decision:
    held = _holding(resume, req)
    if held:
        answers = [_resuming(req, positions, r, now_ms) for r in held]
        denied = next((a for a in answers if not a.allow), None)
        if denied is not None:
            return denied
        return next((a for a in answers if a.reason != "ACTIVE"), answers[0])
    return Decision(True, "ACTIVE")


def _holding(resume: Union[None, Resumption, Sequence[Resumption]], req: OrderRequest) -> list[Resumption]:
    if resume is None:
        return []
    items = [resume] if isinstance(resume, Resumption) else list(resume)
    keys = req.scope_keys
    return [r for r in items if r.scope is None or r.scope in keys]


def binding_lock(book: LockBook, scope: str, now_ms: Optional[int], *, account: bool = False) -> LockStatus:
    """The lock :func:`check_order` applies to the orders of ``scope`` (any symbol aside): the most
    restrictive of its own, ``global``'s and, when ``account`` (``scope`` is an account,
    ``venue/account``, named as the order's account), its venue's. Unlocked: ``scope``, active."""
    keys = lock_keys(account=scope) if account else lock_keys(scope=scope)
    lock = book.effective(keys, now_ms)
    return lock if lock.locked else LockStatus.unlocked(scope)


def _where(lock: LockStatus) -> str:
    held = "until manual reset" if lock.manual else f"until {lock.until}" if lock.until else "until released"
    if lock.policy == OPERATOR:  # no stage: who locked it, when the runner knows
        who = lock.details.get("by")
        origin = "origin=operator" + (f" by={who}" if who else "")
    elif lock.policy == DEAD_MANS_SWITCH:
        origin = "origin=dead-mans-switch"
    elif lock.details.get("while_blind"):  # no stage, no person: the policy cannot see the scope
        origin = f"origin=while-blind policy={lock.policy}"
        until = lock.details.get("until_ms")
        held = "until the scope is armed again" + (f" (expected at {iso_ms(until)})"
                                                   if isinstance(until, int) else "")
    elif lock.details.get("window"):  # by the clock (spec.lock_trading), not a stage
        origin = f"origin=trading-window policy={lock.policy} window {lock.details['window']}"
    else:
        origin = (f"stage={lock.stage} " if lock.stage is not None else "") + f"policy={lock.policy}"
    return f"{origin} scope={lock.scope} since {lock.since} {held}"


def _halted(lock: LockStatus) -> str:
    return f"HALTED: {_where(lock)}"


def _leg_told(req: OrderRequest, positions: Optional[HeldPositions], state: str, unknown: str, verb: str,
              where: str) -> Union[_Leg, Decision]:
    """The leg the order acts on, or the denial in ``state``'s words that says why it cannot be told:
    the positions are not known (``unknown``: what that leaves), or the leg the order ``verb`` is not."""
    if positions is None:
        return deny(f"{state}: positions unknown; {unknown}" + where)
    leg, why = _leg(req, positions)
    if leg is None:
        return deny(f"{state}: cannot tell which position the order {verb}: {why}" + where)
    return leg


def _reducing(lock: LockStatus, req: OrderRequest, positions: Optional[HeldPositions]) -> Decision:
    where = f" ({_where(lock)})"
    leg = _leg_told(req, positions, "REDUCING", "only a reducing order may be sent", "reduces", where)
    if isinstance(leg, Decision):
        return leg
    closing = "sell" if leg.contracts > 0 else "buy"
    if leg.contracts == 0 or req.side != closing:
        return deny("REDUCING: order would open or increase exposure" + where)
    size = abs(leg.contracts)
    if req.amount > size:
        if req.reduce_only is False:
            return deny(f"REDUCING: order would flip the position (amount {req.amount:g} > position {size:g})" + where)
        return deny(f"REDUCING: order larger than the position (amount {req.amount:g} > position {size:g})" + where)
    return Decision(True, f"REDUCING: reduces the position (amount {req.amount:g} <= position {size:g})")


def _resuming(req: OrderRequest, positions: Optional[HeldPositions], resume: Resumption, now_ms: int) -> Decision:
    limits = resume_limits(resume.plan, resume.reset_ms, now_ms)
    if limits.done:
        return Decision(True, "ACTIVE")
    tag = f" ({limits.label})"
    leg = _leg_told(req, positions, "RESUMING", "cannot check the resumed limits", "changes", tag)
    if isinstance(leg, Decision):
        return leg
    assert positions is not None  # a leg is told only from known positions
    after = _after(req, leg)
    if abs(after) <= abs(leg.contracts) and (after == 0 or leg.contracts == 0 or (after > 0) == (leg.contracts > 0)):
        return Decision(True, f"RESUMING: reduces exposure{tag}")
    if req.reduce_only and leg.contracts != 0 and (req.side == "sell") == (leg.contracts > 0):
        return Decision(True, f"RESUMING: reduce-only close{tag}")  # the venue caps it at the position
    count, gross = positions.opened()
    count_after = count + (1 if leg.contracts == 0 and after != 0 else 0)
    if limits.max_positions is not None and leg.contracts == 0 and count_after > limits.max_positions:
        return deny(f"RESUMING: open positions would be {count_after} > limit {limits.max_positions}{tag}")
    if limits.max_gross_exposure is not None:
        unit = req.price or leg.unit_price
        if unit is None:
            return deny(f'RESUMING: cannot value the order; give "price"{tag}')
        old = abs(leg.contracts) * (leg.unit_price or unit)
        gross_after = gross - old + abs(after) * unit
        if gross_after > limits.max_gross_exposure:
            return deny(f"RESUMING: gross exposure would be {money(gross_after)} > limit "
                         f"{money(limits.max_gross_exposure)}{tag}")
        return Decision(True, f"RESUMING: gross exposure {money(gross_after)} <= limit "
                              f"{money(limits.max_gross_exposure)}{tag}")
    return Decision(True, f"RESUMING: within limits{tag}")
