"""What a book of standing facts saved with the runner's state shares (:mod:`.residuals`,
:mod:`.still_open`): its facts by key, read in the book's own order, by incident, and written to
and read back from the state's document under the book's key.

Pure data and bookkeeping: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Hashable, Iterable, Iterator, Optional, Protocol, Self, TypeVar


class Fact(Protocol):
    @property
    def key(self) -> Hashable: ...
    @property
    def incident(self) -> Optional[str]: ...
    def to_json(self) -> dict: ...


F = TypeVar("F", bound=Fact)


class FactBook(Generic[F]):
    """The facts in force, by their ``key``. A book names where the state's document keeps it
    (:attr:`DOC_KEY`), the fact it holds (:attr:`FACT`, read back by its ``from_json``) and the
    order it lists them in (:meth:`order`)."""

    DOC_KEY: ClassVar[str]
    FACT: ClassVar[Any]

    def __init__(self, items: Iterable[F] = ()):
        self.items: dict[Hashable, F] = {r.key: r for r in items}

    @staticmethod
    def order(r: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[F]:
        return iter(sorted(self.items.values(), key=self.order))

    def for_incident(self, incident: str) -> list[F]:
        return [r for r in self if r.incident == incident]

    def to_json(self) -> list[dict]:
        return [r.to_json() for r in self]

    @classmethod
    def from_doc(cls, doc: Optional[dict]) -> Self:
        """The book saved with the runner's state (a state saved before the book was: none)."""
        return cls(cls.FACT.from_json(d) for d in (doc or {}).get(cls.DOC_KEY) or [])
