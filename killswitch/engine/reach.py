"""What a trigger can still fire on while some of the signals it reads have no value.

A condition is evaluated in three values (Kleene, :mod:`killswitch.policy.expr`): with ``dd_1h``
unknown, ``dd_15m >= 4.5% || dd_1h >= 7%`` is true as soon as ``dd_15m`` reaches 4.5%, and
``dd_15m >= 4.5% && dd_1h >= 7%`` can never be. Coverage calls the first trigger blind all the
same (it cannot fire on ``dd_1h``), but a person reading "blind" beside a policy that just acted
on ``dd_15m`` is misled: it is *partly* blind. :func:`fires_on` says which of the known signals
the condition can still become true through, from the condition's shape alone (never its values
this tick, which would make the answer flap with them).

A comparison of two conditions (``(a >= 1) == (b >= 2)``) is taken whole: it can be true or
false only when every signal it reads is known.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import AbstractSet, Optional

from ..policy.expr import And, Compare, Literal, Node, Not, Or, Ref, refs


def _reach(node: Node, unknown: AbstractSet[str], want: bool) -> Optional[frozenset[str]]:
    """The known signals through which ``node`` can evaluate to ``want`` while ``unknown`` have
    no value; None when it cannot (an unknown signal stands in the way)."""
    if isinstance(node, Literal):
        return frozenset() if bool(node.value) == want else None
    if isinstance(node, (Ref, Compare)):
        names = frozenset(r.name for r in refs(node))
        return None if names & unknown else names
    if isinstance(node, Not):
        return _reach(node.item, unknown, not want)
    if isinstance(node, (And, Or)):
        parts = [_reach(x, unknown, want) for x in node.items]
        # true through every part of an And (false through any one); the other way round for an Or
        every = isinstance(node, And) == want
        if every:
            return None if any(p is None for p in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
        found = [p for p in parts if p is not None]
        return frozenset().union(*found) if found else None
    raise AssertionError(node)  # pragma: no cover


def fires_on(condition: Node, unknown: AbstractSet[str]) -> tuple[str, ...]:
    """The known signals ``condition`` can still become true through while the signals in
    ``unknown`` have no value, in the order the condition reads them; empty when it cannot
    become true (or only through a constant)."""
    found = _reach(condition, unknown, True)
    if not found:
        return ()
    return tuple(dict.fromkeys(r.name for r in refs(condition) if r.name in found))
