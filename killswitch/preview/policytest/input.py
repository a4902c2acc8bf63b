"""The input of one policy unit test as replay ticks: its series expanded once, one snapshot of
the test account per tick, with its positions, open orders and balances, heartbeats as times.

The ticks go through :func:`killswitch.preview.replay.replay`, as a recording's do, so a test evaluates
exactly what ``ksctl replay`` would. Each tick names the venue's order rate (the planner's
default), so that no venue table is looked up for a test.

What it owns: :data:`T0` (tests start on a UTC day boundary), :class:`CaseInput` (the parsed
series and the ticks) and the state a test starts from (the day open it is given).
What it must not do: compare anything with an expectation (:mod:`killswitch.preview.policytest.expect`).
Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

from ...engine.schedule import DEFAULT_ORDER_RATE
from ...engine.state import AccountState, State
from ...engine.tally import GATE, MAX_WINDOW_MS, VENUE, Key
from ...policy.kinds._violations import VENUE_CODES
from ...policy.policytest_doc import PolicyTestCase
from ...policy.series import STALE, parse_series
from ...snapshot import Balance, FetchStatus, Order, Position, Snapshot
from ..replay import Tick

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z: tests start on a UTC day boundary
DAY_MS = 86_400_000

Samples = list[float | str | None]


def sample(series: Samples, i: int) -> float | str | None:
    """Sample ``i``; past the end the last one holds."""
    return series[i] if i < len(series) else series[-1] if series else None


def number(series: Optional[Samples], i: int) -> Optional[float]:
    """Sample ``i`` as a number; None when missing, stale or no series."""
    if series is None:
        return None
    v = sample(series, i)
    return None if v is None or v == STALE else float(v)


def _parsed(text: Optional[str]) -> Optional[Samples]:
    return None if text is None else parse_series(text)


@dataclass(frozen=True)
class Identity:
    venue: str
    account: str
    labels: dict[str, str]

    @property
    def key(self) -> str:
        return f"{self.venue}/{self.account}"


def identity(case: PolicyTestCase, scope: dict) -> Identity:
    """Venue, account and labels of the test account: as written, else what the policy selects."""
    inp = case.input
    names = scope["accounts"]["names"]
    named_venue, _, named = names[0].rpartition("/") if names else ("", "", "test")  # a name, or venue/name
    venue = inp.venue or named_venue or (scope["venues"][0] if scope["venues"] else "simulated")
    account = inp.account or named
    labels = dict(scope["accounts"]["match_labels"])
    labels.update(inp.labels)
    return Identity(venue, account, labels)


class CaseInput:
    """One test's input, every series parsed once."""

    def __init__(self, case: PolicyTestCase, ident: Identity):
        inp = case.input
        self.case = case
        self.ident = ident
        self.equity = parse_series(inp.equity)
        self.positions = [(p, parse_series(p.contracts), parse_series(p.mark), _parsed(p.pnl),
                           _parsed(p.liquidation), _parsed(p.margin)) for p in inp.positions]
        self.balances = [(b, _parsed(b.price)) for b in inp.balances]
        self.heartbeats = {source: parse_series(s) for source, s in inp.heartbeats.items()}
        self.api_errors = _parsed(inp.api_errors)
        self.violations = [(v, parse_series(v.count)) for v in inp.violations]
        self.orders = [Order(id=oid, client_id=o.client_id, symbol=o.symbol, side=o.side, type=o.type,
                             reduce_only=o.reduce_only, amount=o.amount, price=o.price,
                             position_side=o.position_side, strategy=o.strategy)
                       for oid, o in zip(inp.order_ids(), inp.open_orders)]

    def state(self) -> State:
        """Fresh in-memory state; with ``day_open`` given, the UTC day of the first tick opened there."""
        state = State()
        if self.case.input.day_open is not None:
            state.accounts[self.ident.key] = AccountState(day=T0 // DAY_MS,
                                                          day_open_equity=self.case.input.day_open.value)
        if self.case.input.counting == "before":  # counted for as long as any window reaches back
            state.tally.since_ms = T0 - MAX_WINDOW_MS
        return state

    def ticks(self, step_ms: int, count: int) -> Iterator[Tick]:
        rates = {self.ident.venue: DEFAULT_ORDER_RATE}
        for i in range(count):
            now = T0 + i * step_ms
            beats = {source: now - int(age * 1000) for source, s in self.heartbeats.items()
                     if (age := number(s, i)) is not None}
            yield Tick(now, self.snapshots(i, now), beats, i + 1, rates, self.counted(i))

    def counted(self, i: int) -> dict[Key, int]:
        """The violations counted at tick ``i``, by the engine's tally key."""
        out: dict[Key, int] = {}
        for v, counts in self.violations:
            n = int(number(counts, i) or 0)
            if n:
                key = (VENUE if v.code in VENUE_CODES else GATE, self.ident.key, v.strategy or "-", v.symbol or "",
                       v.code)
                out[key] = out.get(key, 0) + n
        return out

    def snapshots(self, i: int, now: int) -> list[Snapshot]:
        """The test account at tick ``i``: none when equity is missing (``_``), a failed fetch
        when it or a position's mark is stale."""
        inp = self.case.input
        eq = sample(self.equity, i)
        if eq is None:
            return []  # no snapshot at all this tick
        failed = eq == STALE
        positions = []
        for p, size_s, mark_s, pnl_s, liq_s, margin_s in self.positions:
            size = number(size_s, i)
            if not size:
                continue  # no position at this tick
            mark = sample(mark_s, i)
            if mark is None or mark == STALE:
                failed = True
                continue
            mark = float(mark)
            entry = p.entry if p.entry is not None else next(
                (float(m) for m in mark_s if m is not None and m != STALE), mark)
            pnl = (number(pnl_s, i) or 0.0) if pnl_s is not None \
                else size * (mark - entry) * (1 if p.side == "long" else -1)
            positions.append(Position(
                symbol=p.symbol, side=p.side, position_side=p.position_side, contracts=size,
                notional=abs(size * mark), entry_price=entry, mark_price=mark, unrealized_pnl=pnl,
                liquidation_price=number(liq_s, i), margin=number(margin_s, i), leverage=p.leverage,
                strategy=p.strategy,
            ))
        balances = [Balance(asset=b.asset, free=b.total if b.free is None else b.free, total=b.total,
                            price=number(price_s, i)) for b, price_s in self.balances]
        err = sample(self.api_errors, i) if self.api_errors is not None else 0.0
        err = 1.0 if err == STALE else float(err or 0.0)
        fetch = FetchStatus(ok=not failed, error_code="EXCHANGE_UNAVAILABLE" if failed else None,
                            calls=100, failed_calls=int(round(min(1.0, max(0.0, err)) * 100)))
        ident = self.ident
        return [Snapshot(venue=ident.venue, account=ident.account, market_type=inp.market_type, ts_event=now,
                         equity=None if failed else float(eq), positions=[] if failed else positions,
                         orders=[] if failed else self.orders, balances=[] if failed else balances,
                         fetch=fetch, labels=ident.labels,
                         initial_capital=inp.initial_capital.value if inp.initial_capital is not None else None)]

    def position_size(self, i: int, symbol: str, side: str, position_side: Optional[str]) -> Optional[float]:
        """The size at tick ``i`` of what an order of ``side`` closes: the hedge-mode leg it names,
        else the position a sell (long) or a buy (short) closes; on spot, the holding's total."""
        if self.case.input.market_type == "spot":
            asset = symbol.split("/", 1)[0]
            return next((b.total for b, _ in self.balances if b.asset == asset), None)
        closes = "long" if side == "sell" else "short"
        for p, size_s, *_ in self.positions:
            if p.symbol != symbol:
                continue
            if position_side in ("LONG", "SHORT") and p.position_side != position_side:
                continue
            if position_side not in ("LONG", "SHORT") and p.side != closes:
                continue
            return number(size_s, i)
        return None
