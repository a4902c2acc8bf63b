"""Positions left open whose refused close a person accepted: not an error, kept on the first
screen so that a position left open on purpose is not forgotten."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from . import Fact, Line, When, counted, names
from .residuals import residual_facts

RANK = 150


def facts(st: Any) -> Iterator[Fact]:
    return residual_facts(st, accepted=True)


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    return Line(counted(len(facts), "POSITION", "POSITIONS") + " LEFT OPEN, ACCEPTED",
                "by " + ", ".join(sorted({f.data["by"] for f in facts})) + ": " + names([f.label for f in facts]),
                sep=" ")
