"""What a signal remembers between ticks, per scope: the holder of a kind's kept state and its JSON.

What it owns: :class:`Kept`, the holder of the state a kind keeps
(:class:`~killswitch.policy.registry.KeptState`: a JSON value, or a state its kind saves and
loads, such as a window of returns; read back as it was saved), and the check that no two kinds
read each other's saved states (:func:`check_kept_states`). The engine state (:mod:`.state`)
stores and loads the holders; the signals (:mod:`.signals`) hand their kinds what they hold.

Must not: import the engine state or the signals (they import this module), or know what a
condition is, or which kind keeps what. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from ..policy.registry import KeptState


@dataclass(slots=True, eq=False)
class Kept:
    """The state of a signal (:class:`~killswitch.policy.registry.KeptState`): the value its
    kind's evaluation gave, saved as it is or as its kind's ``save`` makes it. Read back from a
    saved document it holds the JSON value (``save`` None) until the signal's kind first reads it
    (:meth:`load`)."""

    value: Any
    save: Optional[Callable[[Any], Any]] = None

    def load(self, kept: KeptState) -> None:
        """The saved JSON value made its kind's state again (``kept.load``)."""
        assert kept.load is not None and kept.save is not None
        self.value, self.save = kept.load(self.value), kept.save

    def to_json(self) -> Any:
        return self.value if self.save is None else self.save(self.value)


def check_kept_states(kinds: Iterable[tuple[str, KeptState]]) -> None:
    """Refuses kinds' kept states (``(kind, state)``) whose saved states another kind could read
    back wrongly: a name holding a ``:`` (the key's separator), or two kinds keeping their states
    under one name in two forms (the same name is one form: the same ``load``)."""
    owner: dict[str, tuple[str, Optional[Callable[[Any], Any]]]] = {}
    for kind, state in kinds:
        name = state.name
        if ":" in name:
            raise ValueError(f"signal kind {kind!r}: its kept state's name {name!r} holds a ':'")
        if name in owner and (owner[name][1] is None or owner[name][1] is not state.load):
            raise ValueError(f"signal kinds {owner[name][0]!r} and {kind!r} keep their states under one name, "
                             f"{name!r}")
        owner.setdefault(name, (kind, state.load))
