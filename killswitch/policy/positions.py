"""Position conditions: the ``where:`` of the ``position_count`` signal and of ``close_positions``.

A position condition is written in the condition language of triggers (:mod:`.expr`), over the
facts of *one* position instead of signals::

    loss_on_margin >= 10%
    loss_on_notional >= 5% && liquidation_distance <= 8%

The facts it may read are listed in :data:`POSITION_FIELDS`, each with its type (so ``10%`` and
not ``0.1`` for a ratio, as in triggers) and the range it reports (for the compiler's KS212).
The engine computes them (``engine/positions.py``); a fact it cannot compute for a position (a
losing position that reports no margin, for ``loss_on_margin``) is unknown, and the condition is
then unknown for that position under the language's three-valued logic.

What it owns: the vocabulary, :func:`parse_condition`, which parses and type-checks a
condition and says what is wrong in words a policy author can act on, the field a model declares
a condition with (:data:`PositionConditionField`: kept in its canonical text) and the compiled
condition a graph holds (:class:`PositionCondition`, made by :func:`compile_condition`).

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Any, Optional

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from ..records import record
from . import expr as ex
from .expr.check import check_types
from .expr.eval import Predicate, compile_predicate
from .expr.parse import parse, parse_canonical


@record
class PositionField:
    """A fact of one position a condition may read: its type, its range and what it means."""

    type: ex.ValueType
    bounds: tuple[Optional[float], Optional[float]]  # what it can report, for KS212 (None: unbounded)
    meaning: str


# Losses are positive fractions (0 for a position that is not losing), as the signals report them.
POSITION_FIELDS: dict[str, PositionField] = {
    "loss_on_equity": PositionField(ex.ValueType.RATIO, (0.0, None),
                                    "unrealized loss over the scope's equity"),
    "loss_on_margin": PositionField(ex.ValueType.RATIO, (0.0, None),
                                    "unrealized loss over the position's margin"),
    "loss_on_notional": PositionField(ex.ValueType.RATIO, (0.0, None),
                                      "unrealized loss over the position's entry notional "
                                      "(the adverse price move since entry)"),
    "liquidation_distance": PositionField(ex.ValueType.RATIO, (0.0, None),
                                          "distance from the mark to the liquidation price, over the mark"),
    "notional": PositionField(ex.ValueType.NUMBER, (0.0, None),
                              "the position's notional at the mark, in the quote currency"),
}


class ConditionError(ValueError):
    """A position condition that does not parse or type-check: ``message`` says where (the
    character, counted from 1) and what to do; ``name`` is an unknown field's name, if that is it.
    ``limit`` is the parser's refusal of a condition past its bounds (too long, too deep, too many
    operands), at character ``offset`` (0-based), with ``hint`` saying what to do."""

    def __init__(self, message: str, name: Optional[str] = None, limit: Optional[ex.ExprError] = None):
        super().__init__(message)
        self.message = message
        self.name = name
        self.limit = limit


def parse_condition(text: str, canonical: bool = False) -> ex.Node:
    """Parse and type-check a position condition. Raises :class:`ConditionError`.

    ``canonical``: ``text`` is the canonical text of a condition accepted before (what the model
    keeps), read by :func:`~.expr.parse.parse_canonical`."""
    try:
        ast = parse_canonical(text) if canonical else parse(text)
    except ex.ExprError as e:
        if e.kind == "limit":
            raise ConditionError(f"{e.message} at character {e.offset + 1}", limit=e) from None
        raise ConditionError(_located(e)) from None
    try:
        check_types(ast, {name: f.type for name, f in POSITION_FIELDS.items()})
    except ex.ExprError as e:
        if e.kind == "unknown":
            name = e.message.split('"')[1]
            raise ConditionError(
                f'unknown position field "{name}" at character {e.offset + 1}; a position condition reads '
                + ", ".join(POSITION_FIELDS), name) from None
        # the checker speaks of signals; here the names are a position's fields
        raise ConditionError(_located(e).replace('signal "', 'position field "')) from None
    return ast


def _located(e: ex.ExprError) -> str:
    text = f"{e.message} at character {e.offset + 1}"
    return f"{text} ({e.hint})" if e.hint else text


def _position_condition(value: Any) -> str:
    """A ``where:`` over one position's facts, kept in its canonical text so that reformatting it
    keeps the graph's digest."""
    if not isinstance(value, str):
        raise PydanticCustomError("ks_value", "a position condition is text such as loss_on_margin >= 10%")
    try:
        ast = parse_condition(value)
    except ConditionError as e:
        if e.limit is not None:  # KS123, at the character past the bound
            limit = {"problem": e.message, "ks_hint": e.limit.hint, "offset": e.limit.offset}
            raise PydanticCustomError("ks_condition_limit", "{problem}", limit) from None
        # the text travels in the context: a brace in it is not a placeholder
        ctx: dict[str, Any] = {"problem": e.message}
        if e.name is not None:
            ctx["choices"] = list(POSITION_FIELDS)  # did-you-mean on the unknown name
        raise PydanticCustomError("ks_value", "{problem}", ctx) from None
    return ex.canonical(ast)


# The field of a model that holds a position condition (position_count's and close_positions'
# ``where``): the text as written in, its canonical text out.
PositionConditionField = Annotated[
    str,
    BeforeValidator(_position_condition),
    Field(json_schema_extra={"examples": ["loss_on_margin >= 10%",
                                          "loss_on_notional >= 5% && liquidation_distance <= 8%"]}),
]


@record(kw_only=True)
class PositionCondition:
    """A ``where:`` over one position's facts, compiled: ``predicate`` takes the facts it
    ``reads`` by name and answers True, False or None (unknown)."""

    text: str  # canonical
    reads: tuple[str, ...]  # the facts it reads, each once
    predicate: Predicate = field(compare=False, repr=False)


def compile_condition(text: str) -> PositionCondition:
    """A ``where:`` compiled; the model has parsed and type-checked it already (it holds the
    canonical text), so this cannot fail."""
    ast = parse_condition(text, canonical=True)
    return PositionCondition(text=text, reads=tuple(dict.fromkeys(r.name for r in ex.refs(ast))),
                             predicate=compile_predicate(ast))


__all__ = ["POSITION_FIELDS", "PositionField", "ConditionError", "parse_condition", "PositionConditionField",
           "PositionCondition", "compile_condition"]
