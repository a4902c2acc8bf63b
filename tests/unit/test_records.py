"""The methods :mod:`killswitch.records` makes behave as the ones ``dataclass`` generates — a
record's equality, hash and repr, and :func:`~killswitch.records.field_order`'s comparisons —
and are not compiled from generated text (what they are there to spare every ksctl process); a
record stays frozen; every frozen value class of the policy language and the compiler is one."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import operator
import pickle
from decimal import Decimal
from typing import Any

import pytest

from killswitch.policy.diagnostics import Position
from killswitch.policy.units import Amount, Duration, Ratio
from killswitch.records import field_order, is_record, record

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


# --- records ----------------------------------------------------------------------------------


def _classes(frozen: Any, keywords: Any) -> dict[str, type]:
    """The same class bodies made by ``frozen`` (and ``keywords`` for kw_only): a record's methods
    are held against dataclass's on twins that differ in nothing else."""

    @frozen
    class Empty:
        """No field."""

    @frozen
    class One:
        """One field: compared and hashed as a 1-tuple, as the generated methods do."""

        x: Any

    @frozen
    class Pair:
        """Two fields, one left out of the comparison, one left out of the repr."""

        a: int
        b: str = "b"
        note: str = dataclasses.field(default="", compare=False)
        secret: str = dataclasses.field(default="", repr=False)

    @frozen
    class Child(Pair):
        """A record made from a record: the fields of both."""

        c: tuple[int, ...] = ()

    @keywords
    class Keywords:
        """Made with keywords only."""

        a: int
        b: list[object] = dataclasses.field(default_factory=list)

    @frozen
    class OwnEq:
        """Defines its equality: kept, and hashed by the fields as dataclass hashes it."""

        a: int

        def __eq__(self, other: object) -> bool:
            return isinstance(other, OwnEq) and abs(self.a - other.a) <= 1

    @frozen
    class OwnAll:
        """Defines its hash and repr: both kept."""

        a: int

        def __hash__(self) -> int:
            return 7

        def __repr__(self) -> str:
            return "own"

    return {c.__name__: c for c in (Empty, One, Pair, Child, Keywords, OwnEq, OwnAll)}


RECORDS = _classes(record, record(kw_only=True))
TWINS = _classes(dataclasses.dataclass(frozen=True), dataclasses.dataclass(frozen=True, kw_only=True))
NAN = float("nan")
ARGS: dict[str, list[tuple[tuple, dict]]] = {
    "Empty": [((), {}), ((), {})],
    "One": [((1.0,), {}), ((1.0,), {}), ((2.0,), {}), ((NAN,), {}), ((float("nan"),), {}), ((None,), {})],
    "Pair": [((1,), {}), ((1, "b"), {"note": "other"}), ((1, "c"), {}), ((2,), {"secret": "s"}),
             ((1,), {"secret": "t"})],
    "Child": [((1,), {}), ((1,), {"c": (1,)}), ((1,), {"c": (1,)}), ((1,), {"note": "x", "c": (1,)})],
    "Keywords": [((), {"a": 1}), ((), {"a": 1, "b": [1]}), ((), {"a": 1, "b": [1]}), ((), {"a": 2})],
    "OwnEq": [((1,), {}), ((2,), {}), ((4,), {})],
    "OwnAll": [((1,), {}), ((2,), {})],
}


def _hash(obj: Any) -> Any:
    try:
        return hash(obj)
    except TypeError as e:  # a field that cannot be hashed, or a class without a hash
        return str(e)


def _pairs(name: str) -> list[tuple[Any, Any]]:
    """Each case made as a record and as its generated twin."""
    return [(RECORDS[name](*a, **kw), TWINS[name](*a, **kw)) for a, kw in ARGS[name]]


@pytest.mark.parametrize("name", list(ARGS))
def test_a_records_equality_hash_and_repr_equal_the_generated_ones(name):
    made = _pairs(name)
    for (r1, t1), (r2, t2) in itertools.product(made, repeat=2):
        assert (r1 == r2) is (t1 == t2) and (r1 != r2) is (t1 != t2), (r1, r2)
    for r, t in made:
        assert repr(r) == repr(t)
        assert _hash(r) == _hash(t)
        if name != "OwnEq":
            assert (r.__eq__(object()), r.__eq__(t)) == (NotImplemented, NotImplemented)  # another class, even a twin
        assert dataclasses.astuple(r) == dataclasses.astuple(t)
        assert RECORDS[name].__match_args__ == TWINS[name].__match_args__


@pytest.mark.parametrize("name", list(ARGS))
def test_a_record_stays_frozen(name):
    for r, t in _pairs(name):
        for attr in [f.name for f in dataclasses.fields(r)] + ["other", "__dict__", "__class__"]:
            for obj in (r, t):
                with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{attr}'"):
                    setattr(obj, attr, 1)
                with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{attr}'"):
                    delattr(obj, attr)
        assert dataclasses.replace(r) == r and dataclasses.astuple(r) == dataclasses.astuple(t)
        assert copy.copy(r) == r and copy.deepcopy(r) == r


@pytest.mark.parametrize("value", [Duration(60_000), Ratio(Decimal("0.05")), Position(3, 7)], ids=repr)
def test_a_record_is_copied_and_pickled_whole(value):
    for back in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert back == value and hash(back) == hash(value) and repr(back) == repr(value)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(back, dataclasses.fields(back)[0].name, None)


def test_a_record_takes_each_fields_first_assignment_only():
    """What __init__ does, and nothing after: a field assigned twice in a row is refused too."""
    cls = RECORDS["Pair"]
    bare = cls.__new__(cls)
    bare.a = 1  # (as __init__ does)
    with pytest.raises(dataclasses.FrozenInstanceError):
        bare.a = 2
    assert bare.a == 1 and is_record(cls) and is_record(bare) and not is_record(TWINS["Pair"])


def test_a_record_may_not_define_its_own_setattr():
    with pytest.raises(TypeError, match="may not define __setattr__"):
        @record
        class Loose:
            """Would let its fields change."""

            a: int

            def __setattr__(self, name: str, value: Any) -> None:
                object.__setattr__(self, name, value)


def test_no_field_of_a_record_is_left_unset_by_its_init():
    """The one assignment a record takes is a field's first: a field __init__ does not set (and
    that has no default) would take one more after it is made."""
    unset = [f"{c.__qualname__}.{f.name}" for c in _value_classes() for f in dataclasses.fields(c)
             if not f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    assert unset == []


def test_a_repr_that_would_recurse_shows_dots():
    box: list[Any] = []
    one, twin = RECORDS["One"](box), TWINS["One"](box)
    box.append(one)
    shown = repr(one)
    box[0] = twin
    assert shown == repr(twin) and shown.endswith(".One(x=[...])")


@pytest.mark.parametrize("name", list(ARGS))
def test_a_records_methods_are_not_compiled_at_import(name):
    cls = RECORDS[name]
    for method in ("__eq__", "__hash__", "__repr__", "__setattr__", "__delattr__"):
        assert getattr(cls, method).__code__.co_filename != "<string>", method


def _value_classes() -> list[type]:
    """Every dataclass of the policy language, the compiler and the weights table that is a record
    (what it is told from: a dataclass whose fields cannot change)."""
    import importlib
    import pkgutil

    import killswitch.compile
    import killswitch.policy

    names = ["killswitch.weights"]
    for package in (killswitch.policy, killswitch.compile):
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    found = []
    for name in names:
        module = importlib.import_module(name)
        found += [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == name
                  and dataclasses.is_dataclass(c) and (c.__dataclass_params__.frozen or is_record(c))]
    return found


def test_every_frozen_value_class_of_the_language_and_the_compiler_is_a_record():
    classes = _value_classes()
    assert len(classes) > 80  # the walk found them: the compiler's nodes, the units, the kinds' parameters
    assert [f"{c.__module__}.{c.__qualname__}" for c in classes if not is_record(c)] == []
    generated = [f"{c.__module__}.{c.__qualname__}.{m}" for c in classes
                 for m in ("__eq__", "__hash__", "__repr__", "__setattr__", "__delattr__")
                 if getattr(getattr(c, m), "__code__", None) is not None
                 and getattr(c, m).__code__.co_filename == "<string>"]
    assert generated == []
