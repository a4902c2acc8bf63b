"""A list of positions as columns: every field a tick reads, taken out of the models once.

What it owns: :class:`Columns` (the column fields :class:`~killswitch.snapshot.Position`
declares — symbols, sides, sizes, marks, PnLs, margins, liquidation prices, ... — of one list of
positions, each a plain list in the positions' order, one for every field declared a column, and
:class:`PositionRow`, one position as a close reads it from them) and
:class:`Tables`, the columns of every list one evaluation reads, made on first use and shared:
the data-age fingerprint, the position signals of every policy, the PnL history and the
planner's attribution and risk scores all read the same columns, so a tick takes each field of
each position out of its model once, however many policies and signals read it.

Why: reading a field of a model is the cost of a tick at scale (10,000 positions × 10 fields);
the sums, minimums and comparisons over a column then run in the interpreter's C loops
(``sum``, ``min``, ``zip``, list comprehensions), a few tens of nanoseconds an element.

Where they come from: an adapter that builds a snapshot's positions can hand them over as a
:class:`~killswitch.snapshot.PositionList` that carries its columns, taken out while it built
them; the columns then start from those (no field read here). Any other list of positions (a
replay, a test, a strategy- or symbol-scoped group) is read field by field, a column when first
wanted. Both give the same lists (``tests/unit/test_columns.py``).

Must not: outlive the evaluation that made it (a caller may build new positions next tick, or
change one between two evaluations), or change what any figure computed from it is: the
reductions add in the positions' order, as a loop over the models does.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from functools import cached_property
from operator import attrgetter
from typing import Any, Optional, Sequence, Union

from ..snapshot import COLUMNS, ColumnNames, Position, PositionsOnReading, columns_of

PnlKey = tuple[str, str]  # (symbol, position side): a position's identity within its account

# From how many rows a computation over whole columns is made with numpy (the risk scores, the
# positions near liquidation): below it numpy's fixed cost (the arrays made, a dozen whole-array
# operations) is more than a loop's; at 128 rows the two are level (docs/benchmarks.md,
# "2026-11-26, late"). Each gives its loop's result exactly (tests/unit/test_arrays.py).
ARRAYS_FROM = 128


def load_arrays() -> None:
    """Import numpy now (some 6 reference loops: docs/benchmarks.md, "2026-11-26, late"), so
    that no tick pays for it: a runner calls this when made. The core imports numpy only inside
    the functions that compute with it, so loading it (``ksctl validate``) never does."""
    import numpy  # noqa: F401


class PositionRow:
    """What a close reads of one position (symbol, side, hedge-mode leg, contracts, notional,
    mark, unrealized PnL: what an action kind's ``plan`` reads,
    :class:`~killswitch.policy.registry.ActionPlanning`), taken from the columns: the planner
    closes positions made on reading without making their models. The leg is None where the
    columns hold the side itself (no leg, or one equal to the side), which every reader of it
    treats as a model's leg (``position_side or side``, and LONG / SHORT only sent)."""

    __slots__ = ("symbol", "side", "position_side", "contracts", "notional", "mark_price", "unrealized_pnl")

    def __init__(self, symbol: str, side: str, position_side: Optional[str], contracts: float, notional: float,
                 mark_price: float, unrealized_pnl: float):
        self.symbol = symbol
        self.side = side
        self.position_side = position_side
        self.contracts = contracts
        self.notional = notional
        self.mark_price = mark_price
        self.unrealized_pnl = unrealized_pnl


Held = Union[Position, PositionRow]  # a position as a close reads it

_GIVEN = (*COLUMNS.values(), "side_keys")  # what an adapter's PositionColumns hands over
_given_of = attrgetter(*_GIVEN)


class Columns(ColumnNames):
    """The column fields of ``positions`` (:data:`~killswitch.snapshot.COLUMNS`), one list each,
    in their order; each column made when first read (a tick whose policies read no liquidation
    price takes none out). Every field :class:`~killswitch.snapshot.Position` declares a column is
    one here, by its attribute (``marks``) or its field's name (:meth:`column`)."""

    def __init__(self, positions: list[Position]):
        self.positions = positions
        # (an isinstance of an ABC's subclass costs a few hundred ns: asked once, not per row)
        self.made_on_reading = isinstance(positions, PositionsOnReading)
        given = columns_of(positions)
        if given is not None:  # the adapter's: each cached column starts as its list
            self.__dict__.update(zip(_GIVEN, _given_of(given)))

    def __len__(self) -> int:
        return len(self.positions)

    def column(self, field: str) -> list[Any]:
        """The column of the declared field ``field`` (named as :class:`Position` names it)."""
        return getattr(self, COLUMNS[field])  # type: ignore[no-any-return]  # a list, as every column

    def row(self, j: int) -> Held:
        """The ``j``-th position as a close reads it: its model where models exist (a plain list,
        a :class:`~killswitch.snapshot.PositionList`), else a :class:`PositionRow` from the
        columns (positions made on reading: a close of 400 of them makes no model, ~10 µs each)."""
        if not self.made_on_reading:
            return self.positions[j]
        side, key = self.sides[j], self.side_keys[j]
        return PositionRow(self.symbols[j], side, None if key == side else key, self.contracts[j], self.notional[j],
                           self.marks[j], self.upnl[j])

    def rows_at(self, indexes: Sequence[int]) -> list[Held]:
        """:meth:`row` of each of ``indexes`` (non-negative), in their order, the columns picked in C."""
        if not self.made_on_reading:
            return list(map(self.positions.__getitem__, indexes))
        sides = list(map(self.sides.__getitem__, indexes))
        legs = [None if key == side else key for side, key in zip(sides, map(self.side_keys.__getitem__, indexes))]
        return list(map(PositionRow, map(self.symbols.__getitem__, indexes), sides, legs,
                        map(self.contracts.__getitem__, indexes), map(self.notional.__getitem__, indexes),
                        map(self.marks.__getitem__, indexes), map(self.upnl.__getitem__, indexes)))

    def held(self) -> Sequence[Held]:
        """Every position as a close reads it (:meth:`row`), in order: the list itself where
        models exist, else a row each from the columns."""
        if not self.made_on_reading:
            return self.positions
        legs = [None if key == side else key for side, key in zip(self.sides, self.side_keys)]
        return list(map(PositionRow, self.symbols, self.sides, legs, self.contracts, self.notional, self.marks,
                        self.upnl))

    @cached_property
    def side_keys(self) -> list[str]:  # type: ignore[override]  # ColumnNames' attribute, made on first read
        """The position side in hedge mode (LONG / SHORT), else the side: with the symbol, a
        position's identity in its account."""
        return [p.position_side or p.side for p in self.positions]

    @cached_property
    def keys(self) -> tuple[PnlKey, ...]:
        """``(symbol, position side)`` of every position: what the PnL history is keyed by."""
        return tuple(zip(self.symbols, self.side_keys))

    @cached_property
    def signed_notional(self) -> list[float]:
        """The notional, negative for a short."""
        return [n if s == "long" else -n for n, s in zip(self.notional, self.sides)]


class Tables:
    """The columns of each list of positions read in one evaluation, made once (by the list's
    identity: the lists live as long as this object, which keeps them)."""

    __slots__ = ("_made",)

    def __init__(self) -> None:
        self._made: dict[int, Columns] = {}

    def of(self, positions: list[Position]) -> Columns:
        cols = self._made.get(id(positions))
        if cols is None or cols.positions is not positions:
            cols = self._made[id(positions)] = Columns(positions)
        return cols


def _reading(field: str) -> cached_property[list[Any]]:
    """The column of ``field``, read out of each model (when the adapter gave none), on first use."""
    read = attrgetter(field)

    def column(self: Columns) -> list[Any]:
        return list(map(read, self.positions))

    column.__name__ = COLUMNS[field]
    return cached_property(column)


for _field, _attr in COLUMNS.items():  # one column each of the fields Position declares one
    _column = _reading(_field)
    setattr(Columns, _attr, _column)
    _column.__set_name__(Columns, _attr)


__all__ = ["ARRAYS_FROM", "Columns", "Held", "PnlKey", "PositionRow", "Tables", "load_arrays"]
