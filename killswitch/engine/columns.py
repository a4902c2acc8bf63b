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
wanted. Both give the same lists (``tests/unit/engine/test_columns.py``).

Must not: outlive the evaluation that made it (a caller may build new positions next tick, or
change one between two evaluations), or change what any figure computed from it is: the
reductions add in the positions' order, as a loop over the models does.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any, Callable, Optional, Sequence, Union

from ..snapshot import COLUMNS, ColumnNames, Position, PositionColumns, PositionsOnReading, columns_of

PnlKey = tuple[str, str]  # (symbol, position side): a position's identity within its account

# From how many rows a computation over whole columns is made with numpy (the risk scores, the
# positions near liquidation): below it numpy's fixed cost (the arrays made, a dozen whole-array
# operations) is more than a loop's; at 128 rows the two are level (docs/benchmark-history.md,
# "2026-11-26, late"). Each gives its loop's result exactly (tests/unit/engine/test_arrays.py).
ARRAYS_FROM = 128


def load_arrays() -> None:
    """Import numpy now (some 6 reference loops: docs/benchmark-history.md, "2026-11-26, late"), so
    that no tick pays for it: a runner calls this when made. The core imports numpy only inside
    the functions that compute with it, so loading it (``ksctl validate``) never does."""
    import numpy  # noqa: F401


@dataclass(slots=True, eq=False)
class PositionRow:
    """What a close reads of one position (symbol, side, hedge-mode leg, contracts, notional,
    mark, unrealized PnL: what an action kind's ``plan`` reads,
    :class:`~killswitch.policy.registry.ActionPlanning`), taken from the columns: the planner
    closes positions made on reading without making their models. The leg is None where the
    columns hold the side itself (no leg, or one equal to the side), which every reader of it
    treats as a model's leg (``position_side or side``, and LONG / SHORT only sent)."""

    symbol: str
    side: str
    position_side: Optional[str]
    contracts: float
    notional: float
    mark_price: float
    unrealized_pnl: float


Held = Union[Position, PositionRow]  # a position as a close reads it


class Columns(ColumnNames):
    """The column fields of ``positions`` (:data:`~killswitch.snapshot.COLUMNS`), one list each,
    in their order; each column made when first read (a tick whose policies read no liquidation
    price takes none out). Every field :class:`~killswitch.snapshot.Position` declares a column is
    one here, by its attribute (``marks``) or its field's name (:meth:`column`)."""

    def __init__(self, positions: list[Position]):
        self.positions = positions
        # (an isinstance of an ABC's subclass costs a few hundred ns: asked once, not per row)
        self.made_on_reading = isinstance(positions, PositionsOnReading)
        # the adapter's columns, when it handed them over: each column's first read takes its list
        self._given: Optional[PositionColumns] = columns_of(positions)

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


class _Column:
    """One column of :class:`Columns`, made on its first read and kept in the instance (a
    non-data descriptor, as ``functools.cached_property``: every later read is the instance
    dict's, the cost of a plain attribute): the adapter's list when it handed its columns over
    (``Columns._given``), else ``read`` of the positions. Not ``cached_property`` itself: on
    Python 3.11 its first read takes a lock shared by every instance, and a global scope makes
    a ``Columns`` per account each tick."""

    __slots__ = ("name", "read")

    def __init__(self, name: str, read: Callable[[Columns], list[Any]]):
        self.name = name
        self.read = read

    def __get__(self, cols: Optional[Columns], owner: Optional[type] = None) -> Any:
        if cols is None:
            return self
        given = cols._given
        column = getattr(given, self.name) if given is not None else self.read(cols)
        # kept as the instance's attribute (this descriptor has no __set__): the next read finds it first
        setattr(cols, self.name, column)
        return column


def _reading(field: str) -> Callable[[Columns], list[Any]]:
    """The column of ``field``, read out of each model (when the adapter gave none)."""
    read = attrgetter(field)
    return lambda cols: list(map(read, cols.positions))


# One column each of the fields Position declares one, and the side keys (the hedge-mode leg
# where there is one, else the side: with the symbol, a position's identity in its account):
# every column an adapter's PositionColumns hands over.
_READS: dict[str, Callable[[Columns], list[Any]]] = {attr: _reading(field) for field, attr in COLUMNS.items()}
_READS["side_keys"] = lambda cols: [p.position_side or p.side for p in cols.positions]
for _attr, _read in _READS.items():
    setattr(Columns, _attr, _Column(_attr, _read))


__all__ = ["ARRAYS_FROM", "Columns", "Held", "PnlKey", "PositionRow", "Tables", "load_arrays"]
