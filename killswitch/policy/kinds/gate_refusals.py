"""The ``gate_refusals`` signal: how often the pre-trade gate refused the scope's orders in a window.

A bot that keeps breaking a limit is refused at every try, and nothing else acts on it:
``{when: "refused >= 100"}`` on ``refused: {gate_refusals: {window: 1m}}`` fires when the
scope's bots were refused a hundred times in the last minute, and a stage with ``reset:
manual`` and a lock latches the strategy until a person resets it (RTS 6 Art. 15(3)).

Counted by the runner for every refusal of ``POST /v1/check-order`` that names one of the
instance's accounts (or, for a strategy's or a symbol's instance, none) and its strategy and
symbol, by code; ``codes`` picks some (default: every code but those saying the runner does not
know: ``MARKETS_UNKNOWN``, ``LIMITS_UNKNOWN``, ``INTERNAL``). The counts are the engine's
(``engine/tally.py``): saved with its state, so a restart and a takeover count on. Unknown
(``UNCOUNTED``) until counting has covered the whole window — after a first start, or a state
saved before the counts were kept — and (``TALLY_FULL``) when a count was dropped for room:
blind, never zero.
"""

from ..registry import SignalKind
from ._violations import GATE, GATE_CODES, GATE_DEFAULT, CountParams, build, evaluate


class GateRefusals(CountParams):
    """Number of ``POST /v1/check-order`` refusals of the scope's orders within ``window`` (at
    most 1h), of the ``codes`` given (default: every code but ``MARKETS_UNKNOWN``,
    ``LIMITS_UNKNOWN`` and ``INTERNAL``)."""

    source = GATE
    known = GATE_CODES
    default = GATE_DEFAULT


KIND = SignalKind("gate_refusals", GateRefusals, reads_book=False, build=build, evaluate=evaluate)
