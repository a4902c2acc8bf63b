"""Reading the runner's answers back: :func:`decode` turns the API's JSON into the values of
:mod:`killswitch.view`, for clients (:mod:`killswitch.client`).

``decode(T, json.loads(body))`` is the ``T`` the view answered, for every value whose floats are
finite (the API sends a non-finite float as null). A field an older runner does not send takes
its default; one a newer runner added is left out.

Must not: import the runner's parts (a client reads answers with it alone).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar, Union

T = TypeVar("T")


class DecodeError(ValueError):
    """An answer that is not the value it should be; says where (``RunnerStatus.scopes[0].stage``)."""


@functools.cache
def _hints(cls: type) -> tuple[tuple[dataclasses.Field, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


def _missing(f: dataclasses.Field, tp: Any, where: str) -> Any:
    # An older runner may not send a field added since: its default (or None) stands in, as the
    # commands always read such fields with a fallback.
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    if type(None) in typing.get_args(tp):
        return None
    raise DecodeError(f"{where}: missing")


def _decode(tp: Any, doc: Any, where: str) -> Any:
    if tp is Any:
        return doc
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a dataclass, not one of its values
        if not isinstance(doc, dict):
            raise DecodeError(f"{where}: expected an object, not {type(doc).__name__}")
        # Fields a newer runner added are not this client's to read: they are left out.
        return tp(**{f.name: _decode(t, doc[f.name], f"{where}.{f.name}") if f.name in doc
                     else _missing(f, t, f"{where}.{f.name}") for f, t in _hints(tp)})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if doc is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"{where}: cannot decode {tp}")
        return _decode(inner[0], doc, where)
    if tp is bool or tp is str:
        if not isinstance(doc, tp):
            raise DecodeError(f"{where}: expected {tp.__name__}, not {type(doc).__name__}")
        return doc
    if tp is int or tp is float:
        # JSON has one kind of number: a whole float or an int where the other is declared is
        # kept as sent, so that the value written back out is the runner's, byte for byte.
        if isinstance(doc, bool) or not isinstance(doc, (int, float)):
            raise DecodeError(f"{where}: expected a number, not {type(doc).__name__}")
        return doc
    if tp is dict or origin is dict:
        return _decode_object(args, doc, where)
    if origin is tuple or origin is list:
        return _decode_array(tp, origin, args, doc, where)
    raise TypeError(f"{where}: cannot decode {tp}")


def _decode_object(args: tuple, doc: Any, where: str) -> dict:
    if not isinstance(doc, dict):
        raise DecodeError(f"{where}: expected an object, not {type(doc).__name__}")
    if not args:
        return doc
    return {k: _decode(args[1], v, f"{where}[{k!r}]") for k, v in doc.items()}


def _decode_array(tp: Any, origin: Any, args: tuple, doc: Any, where: str) -> Any:
    if not isinstance(doc, list):
        raise DecodeError(f"{where}: expected an array, not {type(doc).__name__}")
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        raise TypeError(f"{where}: cannot decode {tp}")
    items = [_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(doc)]
    return tuple(items) if origin is tuple else items


def decode(cls: type[T], doc: Any) -> T:
    """``doc`` (parsed JSON) as a ``cls``, a dataclass of this module (or one shaped like them):
    arrays become tuples, nested objects their dataclasses. A field the document lacks takes its
    default, or None when it may be None; one it holds that ``cls`` does not know is left out.
    Raises :class:`DecodeError` on anything else that does not fit."""
    return _decode(cls, doc, cls.__name__)
