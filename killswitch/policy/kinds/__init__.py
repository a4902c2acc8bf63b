"""Every signal and action kind of the language, a module each: found here, none listed by hand.

Every module of this package is a kind: it exposes its
:class:`~killswitch.policy.registry.SignalKind` or :class:`~killswitch.policy.registry.ActionKind`
as ``KIND``, and adding the file adds it to the language (:data:`SIGNALS` and :data:`ACTIONS`
are what :func:`discover` finds, in the order of the modules' names). A module without a
``KIND``, or with a ``KIND`` of another type, fails the import of the package, naming it; a
module whose name starts with ``_`` is a helper kinds share, not a kind.

A kind module holds everything of its kind: the parameters' model (its docstring is the
schema's and the kinds page's description), the frozen parameters the compiler keeps (its
``build``), and a signal's evaluation (``evaluate``, or a
:class:`~killswitch.policy.registry.KeptState` the engine keeps per scope and signal, saves and
restores: a streak, a window of :mod:`killswitch.policy.windows`) or an action's planning
(``plan``, through :class:`~killswitch.policy.registry.ActionPlanning`: closes, cancels, a lock,
hedges, the closes the planner ranks, what the runner and the sinks carry out). What reads a
stage without planning it reads what its actions ask (:mod:`killswitch.policy.asked`); nothing
asks which kind a node is. A kind imports nothing above :mod:`killswitch.policy` (the layer
test checks it). The catalogues (:mod:`..signals`, :mod:`..actions`) name the kinds the
language always had in its order, then append the others.

Pure, every module of it: no I/O beyond importing this package's own modules, and no clock (a
signal's ``now`` is the tick's).
"""

import importlib
import pkgutil
from typing import Iterable

from ..registry import ActionKind, SignalKind


class KindModuleError(ImportError):
    """A module of a kinds package that is not a kind (no ``KIND``, or one of another type)."""


def discover(path: Iterable[str], package: str) -> tuple[tuple[SignalKind, ...], tuple[ActionKind, ...]]:
    """The signal kinds and the action kinds of the modules of ``package`` (found on ``path``),
    in the order of the modules' names; raises :class:`KindModuleError` for a module that is not
    a kind."""
    signals: list[SignalKind] = []
    actions: list[ActionKind] = []
    for name in sorted(m.name for m in pkgutil.iter_modules(path)):
        if name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{name}")
        kind = getattr(module, "KIND", None)
        if isinstance(kind, SignalKind):
            signals.append(kind)
        elif isinstance(kind, ActionKind):
            actions.append(kind)
        elif kind is None:
            raise KindModuleError(f"{package}.{name}: a kind module exposes its SignalKind or ActionKind as KIND, "
                                  f"and this one has no KIND (a helper module's name starts with '_')",
                                  name=f"{package}.{name}")
        else:
            raise KindModuleError(f"{package}.{name}: KIND is a {type(kind).__name__}, not a SignalKind or an "
                                  f"ActionKind", name=f"{package}.{name}")
    return tuple(signals), tuple(actions)


SIGNALS, ACTIONS = discover(__path__, __name__)
