"""The comparisons :func:`killswitch.policy.ordering.field_order` makes behave as the ones
``dataclass(order=True)`` generates, for every class that declares them, and are not compiled
from generated text (what they are there to spare every ksctl process)."""

from __future__ import annotations

import dataclasses
import itertools
import operator
from decimal import Decimal

import pytest

from killswitch.policy.diagnostics import Position
from killswitch.policy.ordering import field_order
from killswitch.policy.units import Amount, Duration, Ratio

OPS = (operator.lt, operator.le, operator.gt, operator.ge)
SAMPLES = {
    Duration: [Duration(0), Duration(1), Duration(60_000), Duration(60_000)],
    Ratio: [Ratio(Decimal("-0.05")), Ratio(Decimal("0.045")), Ratio(Decimal("0.0450")), Ratio(Decimal("1"))],
    Amount: [Amount(Decimal("0")), Amount(Decimal("50000")), Amount(Decimal("5E4")), Amount(Decimal("1.5E6"))],
    Position: [Position(1, 1), Position(1, 9), Position(2, 1), Position(2, 1), Position(10, 0)],
}


def _twin(cls: type) -> type:
    """The class as ``order=True`` would have made it: same fields, generated comparisons."""
    fields = [(f.name, f.type, dataclasses.field(compare=f.compare)) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__ + "Twin", fields, frozen=True, order=True)


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_comparisons_equal_the_generated_ones(cls):
    twin = _twin(cls)
    values = SAMPLES[cls]
    for a, b in itertools.product(values, repeat=2):
        ta, tb = (twin(**{f.name: getattr(x, f.name) for f in dataclasses.fields(cls)}) for x in (a, b))
        for op in OPS:
            assert op(a, b) is op(ta, tb), (op.__name__, a, b)
    assert sorted(reversed(values)) == sorted(values, key=lambda x: tuple(dataclasses.astuple(x)))


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_another_class_is_not_ordered(cls):
    a = SAMPLES[cls][0]
    for other in (0, None, "1s", _twin(cls)(*dataclasses.astuple(a))):
        for name in ("__lt__", "__le__", "__gt__", "__ge__"):
            assert getattr(a, name)(other) is NotImplemented
        with pytest.raises(TypeError):
            _ = a < other


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_comparisons_are_not_compiled_at_import(cls):
    # dataclass(order=True) compiles each of them from text, "<string>", as the class is made
    for name in ("__lt__", "__le__", "__gt__", "__ge__"):
        assert getattr(cls, name).__code__.co_filename != "<string>", name
    assert not cls.__dataclass_params__.order


def test_field_order_needs_a_field():
    with pytest.raises(ValueError, match="names of the fields"):
        field_order()
