"""The signal and action kinds that live in a module of their own: one line each, here.

A signal kind module (``open_orders.py`` …) holds everything of its kind — the parameters' model
(its docstring is the schema's description and the kinds page's), the frozen parameters the
compiler keeps (its ``build``) and the evaluation (its ``evaluate``) — and exposes its
:class:`~killswitch.policy.registry.SignalKind` as ``KIND``. Listing it below adds it to the
language: the ``Signal`` document takes it as a field; the schema, the kinds page, the compiler,
the engine and the coverage read its entry. It imports nothing above :mod:`killswitch.policy`
(the layer test checks it), so every layer may read it.

An action kind module (``reduce_all_by.py`` …) holds its parameters' model, the frozen
parameters the compiler keeps (its ``build``) and its planning (its ``plan``): on a stage entry
the planner hands it an :class:`~killswitch.policy.registry.ActionPlanning`, through which it
reads the scope's positions and asks for reduce-only closes, which the planner rounds, bounds by
the position, cancels the entries of, chunks and spaces as every close. Listing it below makes it
a field of ``Action``, in the schema, the kinds page and the policy tests; the compiler makes its
node and the planner plans it from its entry. (What the runner carries out by itself — locks,
the venue's dead man's switch, notifications — stays built in.)

A built-in kind moved into a module of its own (``data_age.py``) is not listed below: the
catalogue (:data:`killswitch.policy.model.SIGNALS`) names its entry where the kind always was,
so the language's order, the schema and the kinds page stay as they were.

Pure: no I/O.
"""

from ..registry import ActionKind, SignalKind
from . import open_orders, reduce_all_by

SIGNALS: tuple[SignalKind, ...] = (
    open_orders.KIND,
)
ACTIONS: tuple[ActionKind, ...] = (
    reduce_all_by.KIND,
)
