"""The signal and action kinds that live in a module of their own: one line each, here.

A signal kind module (``open_orders.py`` …) holds everything of its kind — the parameters' model
(its docstring is the schema's description and the kinds page's), the frozen parameters the
compiler keeps (its ``build``) and the evaluation (its ``evaluate``) — and exposes its
:class:`~killswitch.policy.registry.SignalKind` as ``KIND``. Listing it below adds it to the
language: the ``Signal`` document takes it as a field; the schema, the kinds page, the compiler,
the engine and the coverage read its entry. It imports nothing above :mod:`killswitch.policy`
(the layer test checks it), so every layer may read it.

An action kind listed here is a field of ``Action``, in the schema, the kinds page and the policy
tests, but what it does is not its module's yet: its node is made in the compiler's
``node_build.ACTION_NODES`` and it is carried out by the planner or the runner (a test fails
while its node is missing).

Pure: no I/O.
"""

from ..registry import ActionKind, SignalKind
from . import open_orders

SIGNALS: tuple[SignalKind, ...] = (
    open_orders.KIND,
)
ACTIONS: tuple[ActionKind, ...] = ()
