"""Value classes whose methods are made without compiling code: :func:`record`, a frozen
dataclass made with one compiled method instead of six, and :func:`field_order`, ``order=True``'s
four comparisons the same way.

Python 3.11's ``dataclass`` writes each method it generates as source text and compiles it with
one ``exec`` when the class is made, about 0.4 M instructions a method: a frozen class gets six
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``), and
``order=True`` four more. Every ``ksctl`` process pays them for every class it imports: the
policy language's and the compiler's value classes, which ``ksctl validate`` imports, were a
tenth of its instructions. A :func:`record` has its ``__init__`` compiled by ``dataclass`` (as a
mutable dataclass's, assigning each field) and the other five made as closures over the class's
fields, which cost nothing to make. (Python 3.13 compiles a class's methods with one ``exec``,
python/cpython#109870; on it a record could be a plain frozen dataclass again.)

They behave as the generated ones do: equal when of the very same class with equal fields
compared as tuples (``NotImplemented`` for anything else), the hash of that tuple, the repr
``Name(field=value, …)`` of the fields shown (``'...'`` where it would recurse), and
:class:`~dataclasses.FrozenInstanceError` for any assignment or deletion once made. The one
assignment a record takes is each field's first, which its ``__init__`` makes; no record has a
field that ``__init__`` leaves unset (``init=False`` without a default), where that would let one
assignment through. A method the class body defines is kept, as ``dataclass`` keeps it.
Making one costs a fifth more than a frozen dataclass's (0.74 µs for five fields against 0.6 µs):
a record is a value of the policy, the graph or a source map, made while reading and compiling.
``tests/unit/test_records.py`` holds each method against a generated twin. What ``dataclass``
did not write it does not report: a record's ``__dataclass_params__`` says ``eq``, ``repr`` and
``frozen`` are False (:func:`is_record` tells a record), so :mod:`pprint` prints it on one line.

Pure: no I/O, imports nothing of the project.
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, Callable, Optional, TypeVar, dataclass_transform, overload

T = TypeVar("T")
Compare = Callable[[Any, Any], Any]


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The fields ``names`` of an object as a tuple (what the generated methods compare and hash)."""
    if not names:
        return lambda obj: ()
    get = attrgetter(*names)
    return get if len(names) > 1 else (lambda obj: (get(obj),))


# what type checkers are told: a class made by record is a frozen dataclass (its __init__ taken
# from its fields, dataclasses.field for their options)
@overload
@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(cls: None = None, /, *, kw_only: bool = False) -> Callable[[type[T]], type[T]]: ...


def record(cls: Optional[type[Any]] = None, /, *, kw_only: bool = False) -> Any:
    """``@dataclass(frozen=True)`` (or ``(frozen=True, kw_only=True)``) with ``__eq__``,
    ``__hash__``, ``__repr__``, ``__setattr__`` and ``__delattr__`` made as closures."""

    def make(cls: type[Any]) -> type[Any]:
        own = cls.__dict__
        has_eq, has_repr = "__eq__" in own, "__repr__" in own
        # a body defining __eq__ alone gets __hash__ = None from Python: not a hash of its own
        has_hash = "__hash__" in own and not (own["__hash__"] is None and has_eq)
        if "__setattr__" in own or "__delattr__" in own:
            raise TypeError(f"a record keeps itself frozen: {cls.__qualname__} may not define "
                            "__setattr__ or __delattr__")
        made = dataclasses.dataclass(cls, eq=False, repr=False, kw_only=kw_only)
        fields = dataclasses.fields(made)
        key = _key(tuple(f.name for f in fields if f.compare))
        if not has_eq:
            made.__eq__ = _eq(key)  # type: ignore[assignment]
        if not has_hash:
            made.__hash__ = _hash(key)  # type: ignore[assignment]
        if not has_repr:
            made.__repr__ = _repr(tuple(f.name for f in fields if f.repr))  # type: ignore[assignment]
        made.__setattr__, made.__delattr__ = _frozen(frozenset(f.name for f in fields))  # type: ignore[assignment]
        return made

    return make if cls is None else make(cls)


def is_record(cls: type) -> bool:
    """Whether ``cls`` (or the class of an instance) was made by :func:`record`."""
    return getattr(getattr(cls, "__setattr__", None), "__module__", None) == __name__


def _frozen(names: frozenset[str]) -> tuple[Callable[[Any, str, Any], None], Callable[[Any, str], None]]:
    """``__setattr__`` taking a field's first assignment only (its ``__init__``'s), and
    ``__delattr__`` taking none."""

    def __setattr__(self: object, name: str, value: Any) -> None:
        # straight into the instance's dict (a field has no descriptor on its class): half the
        # cost of object.__setattr__, which made a record twice as slow to make as a dataclass
        values = self.__dict__
        if name in values or name not in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        values[name] = value

    def __delattr__(self: object, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    return __setattr__, __delattr__


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Compare:
    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: object) -> int:
        return hash(key(self))

    return __hash__


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    @recursive_repr()
    def __repr__(self: object) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def field_order(*names: str) -> tuple[Compare, Compare, Compare, Compare]:
    """``order=True``'s ``__lt__``, ``__le__``, ``__gt__``, ``__ge__`` over the fields ``names``,
    in that order: the class declares them with ``__lt__, __le__, __gt__, __ge__ =
    field_order("a", "b")``. ``NotImplemented`` (so ``TypeError`` from the operator) for anything
    that is not of the very same class."""
    if not names:
        raise ValueError("field_order needs the names of the fields compared")
    key = _key(names)

    def __lt__(self: object, other: object) -> bool:
        if other.__class__ is self.__class__:
            return key(self) < key(other)
        return NotImplemented

    def __le__(self: object, other: object) -> bool:
        if other.__class__ is self.__class__:
            return key(self) <= key(other)
        return NotImplemented

    def __gt__(self: object, other: object) -> bool:
        if other.__class__ is self.__class__:
            return key(self) > key(other)
        return NotImplemented

    def __ge__(self: object, other: object) -> bool:
        if other.__class__ is self.__class__:
            return key(self) >= key(other)
        return NotImplemented

    return __lt__, __le__, __gt__, __ge__


__all__ = ["field_order", "is_record", "record"]
