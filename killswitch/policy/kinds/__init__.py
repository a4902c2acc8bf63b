"""The signal and action kinds that live in a module of their own: one line each, here.

A kind module (``open_order_count.py`` …) holds everything of its kind — the parameters' model
(with its documentation, which the JSON schema carries), the frozen parameters the compiler keeps,
and the evaluation — and exposes its :class:`~killswitch.policy.registry.SignalKind` (or
``ActionKind``) as ``KIND``. Listing it below adds it to the language: the ``Signal`` document
takes it as a field, the schema, the compiler, the engine and the coverage read its entry. It
imports nothing above :mod:`killswitch.policy` (the layer test checks it), so every layer may.

Pure: no I/O.
"""

from ..registry import ActionKind, SignalKind

SIGNALS: tuple[SignalKind, ...] = ()
ACTIONS: tuple[ActionKind, ...] = ()
