"""The catalogues of kinds and the documents made from them (``Signal``, ``Action``).

What it owns: :func:`build_catalogue` (the kinds the language placed, in their order, then
those :mod:`.kinds` found that it did not, one name once), :class:`OneKind`, the checks a
document of one kind runs (a bare kind name stands for the kind with its defaults; exactly one
kind is given), and :func:`kind_document`, which makes such a model with an optional field for
each kind of a catalogue. The catalogues themselves are :mod:`.signals` and :mod:`.actions`.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from typing import Annotated, Any, ClassVar, Collection, Optional, Self, TypeVar

from pydantic import BeforeValidator, create_model, model_validator
from pydantic_core import PydanticCustomError

from .fields import scalar_to
from .registry import ActionKind, SignalKind, Strict


def _none_is_empty(value: Any) -> Any:
    """``data_age:`` with nothing after it means ``data_age: {}``."""
    return {} if value is None else value


_Kind = TypeVar("_Kind", SignalKind, ActionKind)


def build_catalogue(placed: tuple[str, ...], found: tuple[_Kind, ...]) -> dict[str, _Kind]:
    """The catalogue by name, in the language's order: the kinds named ``placed`` (those the
    language always had, in its order), then the other kinds :mod:`.kinds` found, in their order.
    Two kinds of one name are an error (a kind module would otherwise replace another module's in
    silence), and so is a name placed that no kind has."""
    by_name: dict[str, _Kind] = {}
    for k in found:
        if k.name in by_name:
            raise ValueError(f"two kinds are named {k.name!r}: {by_name[k.name].model.__qualname__} and "
                             f"{k.model.__qualname__} (in {k.model.__module__})")
        by_name[k.name] = k
    unknown = [name for name in placed if name not in by_name]
    if unknown:
        raise ValueError(f"no kind module has the kinds {', '.join(unknown)}")
    return {name: by_name[name] for name in placed} | by_name


# an optional kind whose bare key (``close_all:`` with no value) means its defaults
_NONE_IS_EMPTY = BeforeValidator(_none_is_empty)


class OneKind(Strict):
    """A document of exactly one kind of a catalogue (``Signal``, ``Action``): a subclass names the
    kinds (``kinds``) and what the document is called in a message (``what``), and
    :func:`kind_document` gives it a field for each kind. A bare kind name stands for that kind
    with default parameters: ``close_all`` → ``{close_all: {}}``."""

    kinds: ClassVar[Collection[str]] = ()
    what: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        if isinstance(value, str) and value in cls.kinds:
            return {value: None}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [k for k in self.kinds if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "ks_one_kind",
                "{what} declares exactly one kind, found {found}",
                {"what": self.what, "found": ", ".join(given) if given else "none", "choices": list(self.kinds)},
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in self.kinds if getattr(self, k) is not None)

    @property
    def params(self) -> Strict:
        params: Strict = getattr(self, self.kind)
        return params


def kind_document(base: type[OneKind], name: str, doc: str, kinds: Collection[SignalKind | ActionKind],
                  module: str) -> type[Any]:
    """``base`` with an optional field for each kind of the catalogue (``kinds``), in its order:
    the document ``Signal`` or ``Action`` of the language, made as a class of ``module``. A bare
    key (``close_all:``) is the kind with its defaults; a kind with a short form takes a scalar
    for that field."""
    fields: dict[str, Any] = {}
    for k in kinds:
        short = k.short if isinstance(k, ActionKind) else None
        before = BeforeValidator(scalar_to(short)) if short is not None else _NONE_IS_EMPTY
        fields[k.name] = (Annotated[Optional[k.model], before], None)
    made: type[Any] = create_model(name, __base__=base, __doc__=doc, __module__=module, **fields)
    return made
