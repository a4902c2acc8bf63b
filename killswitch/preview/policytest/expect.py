"""What one tick of a policy unit test sent, and how it differs from what an expectation says.

A tick's intents are listed in the order the runner sends them (:func:`killswitch.orders.send_sequence`,
the ``send_seq`` of ``ksctl plan``): every cancel first, then the orders. An order split into
chunks is one :class:`SentOrder` (its total, the send number of its first chunk).

Matching rules (docs/policy-language.md, Policy tests, says the same):

- ``orders`` and ``cancels`` are exact lists when written: the n-th expected is the n-th sent,
  and one sent that is not expected (or expected and not sent) is a difference. ``[]``: none.
- In an expected order, ``symbol`` and ``side`` are always compared; ``amount``, ``fraction``,
  ``reduce_only``, ``position_side``, ``action``, ``chunks`` and ``seq`` when written.
- ``amount`` matches within a millionth of itself (:data:`REL_TOL`); ``fraction`` is the
  order's amount over the size, at that tick, of the position it closes (spot: the holding),
  and matches within :data:`FRACTION_TOL`.
- Whenever orders or cancels are expected, every cancel must go before every order.

Each difference is one line, ``field: expected X, got Y``, with the expected item's line.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Protocol, TypeVar

from ...engine.evaluate import Evaluation
from ...policy.diagnostics import Position as SrcPos
from ...policy.policytest_doc import ExpectedCancel, ExpectedOrder


class _Sent(Protocol):
    def describe(self) -> str: ...


E = TypeVar("E")
G = TypeVar("G", bound=_Sent)

REL_TOL = 1e-6  # amounts: |got - expected| <= REL_TOL * expected
FRACTION_TOL = 1e-6  # fractions: |got - expected| <= FRACTION_TOL (a ten-thousandth of a percent)


@dataclass(frozen=True)
class SentOrder:
    seq: int
    account: str  # venue/account
    symbol: str
    side: str
    amount: float  # all its chunks
    chunks: int
    reduce_only: bool
    position_side: Optional[str]
    action: str

    def describe(self) -> str:
        return (f"#{self.seq} {self.side} {self.amount:g} {self.symbol}"
                + (" reduce-only" if self.reduce_only else "")
                + (f" {self.position_side}" if self.position_side else "")
                + (f" in {self.chunks} chunks" if self.chunks > 1 else "") + f" ({self.action})")


@dataclass(frozen=True)
class SentCancel:
    seq: int
    account: str
    which: str
    order_ids: tuple[str, ...]

    def describe(self) -> str:
        return f"#{self.seq} cancel {self.which} [{', '.join(self.order_ids)}]"


def sent(ev: Evaluation) -> tuple[list[SentCancel], list[SentOrder]]:
    """Everything a tick sends, each list in send order."""
    cancels: list[SentCancel] = []
    orders: list[SentOrder] = []
    for scope, (cseq, oseq) in zip(ev.scopes, ev.sends()):
        if scope.plan is None:
            continue
        for n, c in zip(cseq, scope.plan.cancels):
            cancels.append(SentCancel(n, f"{c.venue}/{c.account}", c.which, c.order_ids))
        for n, o in zip(oseq, scope.plan.orders):
            prev = orders[-1] if orders and o.chunk > 1 else None
            if prev is not None and (prev.symbol, prev.side, prev.position_side) == (o.symbol, o.side,
                                                                                     o.position_side):
                orders[-1] = SentOrder(prev.seq, prev.account, prev.symbol, prev.side, prev.amount + o.amount,
                                       prev.chunks + 1, prev.reduce_only, prev.position_side, prev.action)
                continue
            orders.append(SentOrder(n, f"{o.venue}/{o.account}", o.symbol, o.side, o.amount, 1, o.reduce_only,
                                    o.position_side, o.action))
    cancels.sort(key=lambda c: c.seq)
    orders.sort(key=lambda o: (o.seq, o.account))
    return cancels, orders


def cancels_first(cancels: list[SentCancel], orders: list[SentOrder]) -> list[str]:
    """A difference for every order sent before a cancel of the same tick."""
    if not cancels or not orders:
        return []
    last = max(cancels, key=lambda c: c.seq)
    return [f"cancels go before closes: {last.describe()} is sent after {o.describe()}"
            for o in orders if o.seq < last.seq]


def _line(pos: Optional[SrcPos]) -> str:
    return f" (line {pos.line})" if pos is not None else ""


def _close(got: float, want: float, tol: float) -> bool:
    return abs(got - want) <= tol


Size = Callable[[str, str, Optional[str]], Optional[float]]  # (symbol, side, position side) -> size at the tick


def _align(name: str, expected: list[E], got: list[G], where: Callable[[int], Optional[SrcPos]],
           wanted: Callable[[E], str], fields: Callable[[int, E, G], list[str]]) -> list[str]:
    """The k-th expected against the k-th sent: a line for each one not sent or not expected, and
    ``fields(k, expected, sent)``'s lines for each pair."""
    out = []
    for k in range(max(len(expected), len(got))):
        if k >= len(got):
            out.append(f"{name}[{k}]{_line(where(k))}: expected {wanted(expected[k])}, not sent")
        elif k >= len(expected):
            out.append(f"{name}: not expected: {got[k].describe()}")
        else:
            out += fields(k, expected[k], got[k])
    return out


def compare_orders(expected: list[ExpectedOrder], got: list[SentOrder], size: Size,
                   where: Callable[[int], Optional[SrcPos]]) -> list[str]:
    """The differences between the expected and the sent orders, one line each (``size``: the size
    of the position an order closes, for ``fraction``; ``where``: the line of the k-th expected)."""

    def fields(k: int, e: ExpectedOrder, g: SentOrder) -> list[str]:
        head = f"orders[{k}] {e.side} {e.symbol}{_line(where(k))}"
        if (e.symbol, e.side) != (g.symbol, g.side):
            return [f"{head}: expected {e.side} {e.symbol}, got {g.describe()}"]
        return [f"{head}: {d}" for d in _order_fields(e, g, size)]

    return _align("orders", expected, got, where, lambda e: f"{e.side} {e.symbol}", fields)


def _order_fields(e: ExpectedOrder, g: SentOrder, size: Size) -> list[str]:
    out = []
    if e.amount is not None and not _close(g.amount, e.amount, REL_TOL * e.amount):
        out.append(f"amount: expected {e.amount:g}, got {g.amount:g}")
    if e.fraction is not None:
        base = size(g.symbol, g.side, g.position_side)
        want = e.fraction.fraction
        if not base:
            out.append(f"fraction: expected {e.fraction} of the position, but there is no position it closes "
                       f"at this tick (got amount {g.amount:g})")
        elif not _close(g.amount / base, want, FRACTION_TOL):
            out.append(f"fraction: expected {e.fraction} of {base:g} ({want * base:g}), "
                       f"got {g.amount / base * 100:.6g}% ({g.amount:g})")
    if e.reduce_only is not None and e.reduce_only != g.reduce_only:
        out.append(f"reduce_only: expected {str(e.reduce_only).lower()}, got {str(g.reduce_only).lower()}")
    if e.position_side is not None and e.position_side != (g.position_side or "none"):
        out.append(f"position_side: expected {e.position_side}, got {g.position_side or 'none'}")
    if e.action is not None and e.action != g.action:
        out.append(f"action: expected {e.action}, got {g.action}")
    if e.chunks is not None and e.chunks != g.chunks:
        out.append(f"chunks: expected {e.chunks}, got {g.chunks}")
    if e.seq is not None and e.seq != g.seq:
        out.append(f"seq: expected {e.seq}, got {g.seq} (the send order)")
    return out


def compare_cancels(expected: list[ExpectedCancel], got: list[SentCancel],
                    where: Callable[[int], Optional[SrcPos]]) -> list[str]:
    """The differences between the expected and the sent cancels, one line each."""

    def fields(k: int, e: ExpectedCancel, g: SentCancel) -> list[str]:
        head = f"cancels[{k}]{_line(where(k))}"
        out = []
        if e.which is not None and e.which != g.which:
            out.append(f"{head}: which: expected {e.which}, got {g.which}")
        if e.orders is not None and sorted(e.orders) != sorted(g.order_ids):
            out.append(f"{head}: orders: expected [{', '.join(sorted(e.orders))}], "
                       f"got [{', '.join(sorted(g.order_ids))}]")
        if e.seq is not None and e.seq != g.seq:
            out.append(f"{head}: seq: expected {e.seq}, got {g.seq} (the send order)")
        return out

    return _align("cancels", expected, got, where, lambda e: "a cancel", fields)


def compare_triggers(firing: Optional[list[str]], not_firing: list[str], got: set[str]) -> list[str]:
    """``firing``: the exact set (None: not checked); ``not_firing``: none of these fires."""
    out = []
    if firing is not None and got != set(firing):
        out.append(f"firing: expected [{', '.join(sorted(firing))}], got [{', '.join(sorted(got))}]")
    fired = sorted(set(not_firing) & got)
    if fired:
        out.append(f"not_firing: expected [{', '.join(fired)}] not to fire, but "
                   + ("it fires" if len(fired) == 1 else "they fire"))
    return out
