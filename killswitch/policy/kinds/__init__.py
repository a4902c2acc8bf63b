"""The signal and action kinds that live in a module of their own: found here, none listed by hand.

Every module of this package is a kind: it exposes its
:class:`~killswitch.policy.registry.SignalKind` or :class:`~killswitch.policy.registry.ActionKind`
as ``KIND``, and adding the file adds it to the language (:data:`SIGNALS` and :data:`ACTIONS`
are what :func:`discover` finds, in the order of the modules' names, so the language's order does
not depend on the file system's). A module without a ``KIND``, or with a ``KIND`` of another
type, fails the import of the package, naming the module: a file here that is not a kind is a
mistake, never a kind left out in silence. A module whose name starts with ``_`` is not a kind
(a helper two kinds share).

A signal kind module (``open_orders.py`` …) holds everything of its kind — the parameters' model
(its docstring is the schema's description and the kinds page's), the frozen parameters the
compiler keeps (its ``build``) and the evaluation (its ``evaluate``). The ``Signal`` document
takes it as a field; the schema, the kinds page, the compiler, the engine and the coverage read
its entry. It imports nothing above :mod:`killswitch.policy` (the layer test checks it), so every
layer may read it.

An action kind module (``reduce_all_by.py`` …) holds its parameters' model, the frozen
parameters the compiler keeps (its ``build``) and its planning (its ``plan``): on a stage entry
the planner hands it an :class:`~killswitch.policy.registry.ActionPlanning`, through which it
reads the scope's positions (and the side attribution names as losing) and asks for reduce-only
closes, which the planner rounds, bounds by the position, cancels the entries of, chunks and
spaces as every close (or suggests hedges, which the plan reports: an action that reads what the
stage's closes leave open says ``after_closes``, and is planned after them); it asks for cancels
of the scope's open orders and for a lock of the bots' trading the same way (``cancel_orders.py``,
``lock_trading.py``): the planner sends the cancels before the closes, the runner puts the lock on
the scope, a firm-wide policy's shards carry both out (:mod:`killswitch.policy.asked`). It is a
field of ``Action``, in the schema, the kinds page and the policy tests; the compiler makes its
node and the planner plans it from its entry. The closes the planner ranks by what it alone
holds ask for them the same way (``reduce_top_risk.py``, ``close_positions.py``,
``close_all.py``: ``close_top_risk``, ``close_selected``, ``close_all``), and so do the kinds
the runner and the sinks carry out (``arm_exchange_dms.py``, ``revoke_trading.py``,
``notify.py``, ``runbook.py``: ``arm_countdown``, ``revoke``, ``notify``, ``runbook``): what
reads a stage without planning it — the runner's countdowns, the notification routes, the
runbooks, a firm's directives, the checks — reads what its actions ask
(:mod:`killswitch.policy.asked`), never which kind they are.

A signal kind that reads the scope's position aggregates (``gross_exposure.py`` …) reads them
through :meth:`~killswitch.policy.registry.SignalInputs.position_aggregates` and says which it reads
(its entry's ``aggregates``): the engine's one pass over the positions, made once a scope and tick
when a signal first asks, computes what the scope's signals read.

A signal kind that keeps a state between ticks (``consecutive_losses.py``) gives a
:class:`~killswitch.policy.registry.KeptState` in place of ``evaluate``: the engine keeps the state
per scope instance and signal, hands it to the evaluation and saves it with its own.

A signal kind that keeps a window of samples saves it through its ``KeptState`` (``save``,
``load``) under the name and form the engine always saved it under: ``equity_drawdown.py``,
the returns kinds (``realized_volatility.py``, ``value_at_risk.py``, ``expected_shortfall.py``,
which share ``_returns.py``) and the API kinds (``api_error_rate.py``, ``api_latency.py``, which
share ``_api_calls.py``); the windows are :mod:`killswitch.policy.windows`. No kind is built in.

The kinds the language always had keep their place: the catalogues
(:data:`killswitch.policy.signals.SIGNALS`, :data:`killswitch.policy.actions.ACTIONS`) name
their entries in the language's order and append only the kinds they did not place, so the
language's order, the schema and the kinds page stay as they were.

Import cost: one listing of this directory (:func:`pkgutil.iter_modules`) and the kind modules
themselves, which the catalogues (``killswitch.policy.signals``, ``.actions``) import anyway;
``ksctl validate`` pays nothing more.

Pure: no I/O beyond importing this package's own modules.
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
