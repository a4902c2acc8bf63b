"""``order=True``'s four comparisons for a dataclass, made without compiling code.

Python 3.11's ``dataclass`` writes each method it generates as source text and compiles it with
one ``exec`` when the class is made: ``order=True`` adds four of them, about 2 M instructions a
class, paid by every ``ksctl`` process that imports the class. :func:`field_order` returns the
same four comparisons as closures, which cost nothing to make: the class declares them with
``__lt__, __le__, __gt__, __ge__ = field_order("a", "b")``, naming its compared fields in order.

They behave as the generated ones do: the fields' values compared as tuples, and
``NotImplemented`` (so ``TypeError`` from the operator) for anything that is not of the very
same class (tests/unit/test_ordering.py holds each user equal to a generated twin).

Pure: no I/O.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Callable

Compare = Callable[[Any, Any], Any]


def field_order(*names: str) -> tuple[Compare, Compare, Compare, Compare]:
    """``__lt__``, ``__le__``, ``__gt__``, ``__ge__`` over the fields ``names``, in that order."""
    if not names:
        raise ValueError("field_order needs the names of the fields compared")
    get = attrgetter(*names)
    key: Callable[[Any], tuple[Any, ...]] = get if len(names) > 1 else (lambda obj: (get(obj),))

    def __lt__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) < key(other)
        return NotImplemented

    def __le__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) <= key(other)
        return NotImplemented

    def __gt__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) > key(other)
        return NotImplemented

    def __ge__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) >= key(other)
        return NotImplemented

    return __lt__, __le__, __gt__, __ge__
