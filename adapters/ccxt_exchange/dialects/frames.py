"""Reading a venue's stream frames field by field: the readers every streaming dialect shares.

What it owns
    * what a field of a frame's row must be (:func:`has_field`: present, or a number where its
      spec ends ``#``) and, where the dialect says why a frame is malformed, what is wrong with
      the first field a row lacks (:func:`missing_field`);
    * :func:`latest_ms`: a frame's time, the latest of the stamps it carries;
    * :class:`FrameFields`, the readers of a channel's rows as a dialect reads them into events:
      a field that is not what the stream reads (missing, not a text, not a number, a value
      outside the venue's enum, rows that are not a list of objects) is BAD_RESPONSE naming the
      venue, ``websocket <channel>`` and the field (:func:`.base.bad_field`), so that the stream
      drops the frame whole and counts it malformed — never an event read from half a row.

What it must not do
    import ccxt, know a venue's channels or fields (each venue's ``dialect.stream`` names them),
    or keep any state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Container, Iterable, Mapping, Optional

from ...base import AdapterError
from ..parsing import num
from .base import bad_field, documented, unknown_value


def has_field(row: Mapping[str, Any], spec: str) -> bool:
    """Whether a stream frame's ``row`` has the field ``spec`` names (a number, ending ``#``)."""
    key = spec.rstrip("#")
    value = row.get(key)
    if spec.endswith("#"):
        return num(value) is not None
    return value is not None and value != ""


def latest_ms(stamps: Iterable[Any]) -> Optional[int]:
    """The latest of a frame's ``stamps`` (numbers or digits, milliseconds) as an int; None where
    none is a positive number."""
    latest = max((n for n in map(num, stamps) if n is not None and n > 0), default=None)
    return None if latest is None else int(latest)


def missing_field(row: Mapping[str, Any], fields: tuple[str, ...]) -> Optional[str]:
    """The first of ``fields`` (``#``: a number) ``row`` lacks, with what is wrong
    (``key: missing``, ``key: not a number: '...'``); None when it has them all."""
    for spec in fields:
        key = spec.rstrip("#")
        value = row.get(key)
        if value is None or value == "":
            return f"{key}: missing"
        if spec.endswith("#") and num(value) is None:
            return f"{key}: not a number: {str(value)[:20]!r}"
    return None


@dataclass(frozen=True)
class FrameFields:
    """The readers of one venue's websocket rows; each error is BAD_RESPONSE naming the venue,
    the channel and the field (``<venue> websocket <channel>: field <name>: <problem>``)."""

    venue: str

    def bad(self, channel: str, name: str, problem: str) -> AdapterError:
        """:func:`.base.bad_field` of ``channel``'s field ``name``."""
        return bad_field(self.venue, f"websocket {channel}", name, problem)

    def unknown(self, channel: str, name: str, value: Any) -> AdapterError:
        """:func:`.base.unknown_value` of ``channel``'s field ``name`` (a value outside the
        venue's enum, or absent)."""
        return unknown_value(self.venue, f"websocket {channel}", name, value)

    def documented(self, channel: str, row: Mapping[str, Any], name: str, known: Container[Any]) -> Any:
        """``row[name]`` read through the venue's documented values (:func:`.base.documented`)."""
        return documented(self.venue, f"websocket {channel}", name, row.get(name), known)

    def text(self, channel: str, row: Mapping[str, Any], name: str) -> str:
        """``row[name]``, a text that is not empty."""
        value = row.get(name)
        if not isinstance(value, str) or not value:
            raise self.bad(channel, name, "missing" if value in (None, "") else f"not a text: {value!r}")
        return value

    def number(self, channel: str, row: Mapping[str, Any], *names: str) -> float:
        """The first of ``names`` in ``row`` that is a number (or its text); the error names the
        first of them."""
        for name in names:
            value = num(row.get(name))
            if value is not None:
                return value
        value = row.get(names[0])
        raise self.bad(channel, names[0], "missing" if value in (None, "") else f"not a number: {value!r}")

    def rows(self, channel: str, value: Any, name: str) -> list:
        """``value``, the field ``name`` of a frame or a row, as a list (its rows are checked as
        they are read, :meth:`row`)."""
        if not isinstance(value, list):
            raise self.bad(channel, name, "missing" if value is None else "not a list")
        return value

    def row(self, channel: str, value: Any, name: str) -> Mapping[str, Any]:
        """``value``, one row of the list ``name``, as an object."""
        if not isinstance(value, Mapping):
            raise self.bad(channel, name, "a row is not an object")
        return value


__all__ = ["FrameFields", "has_field", "latest_ms", "missing_field"]
