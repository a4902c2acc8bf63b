"""A policy's pre-trade limits, compiled: :class:`LimitsNode`, every limit a number, each
symbol's limits resolved over the defaults once, so a check reads a table and parses nothing.

What it owns: the node (:func:`limits_node` builds it from ``spec.limits``), its document form
(what the lock document and ``ksctl status`` show), and KS267 — a ``symbols:`` entry on a symbol
no venue the policy reads lists (:func:`unlisted_symbols`, given the symbol lists by whoever has
read them: ``ksctl plan`` over live accounts).

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Iterable, Mapping, Optional

from ..policy import diagnostics as d
from ..policy.diagnostics import Diagnostic, Position
from ..policy.documents import SourceMap
from ..policy.limits import Limits, SymbolLimits
from ..policy.time_intervals import Window
from ..records import record


@record
class SymbolLimitsNode:
    """The per-symbol limits in force for one symbol (None: not limited)."""

    max_order_notional: Optional[float] = None
    max_order_quantity: Optional[float] = None
    max_position_notional: Optional[float] = None
    price_collar: Optional[float] = None  # a fraction of the mark, in (0, 1)
    max_open_orders: Optional[int] = None  # open orders of this symbol in the scope instance

    def to_doc(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@record
class SymbolSource:
    """Where a ``symbols:`` entry is written (for KS267, found after the compiler)."""

    file: str
    line: int
    col: int


@record
class LimitsNode:
    """A policy's pre-trade limits, compiled: the default, each symbol's over it, and the scope's."""

    default: SymbolLimitsNode = SymbolLimitsNode()
    symbols: Mapping[str, SymbolLimitsNode] = field(default_factory=dict)  # resolved over the default
    max_open_orders: Optional[int] = None  # per scope instance
    max_gross_notional: Optional[float] = None  # per scope instance, resting entries and the order counted
    message_rate: Optional[float] = None  # order messages a second, per strategy
    message_burst: Optional[int] = None
    mark_max_age_ms: int = 30_000
    override_max_ms: int = 3_600_000  # the longest expiry an override may ask (``override.max_duration``)
    override_approvals: int = 2  # the people an override needs, its requester counted
    sources: Mapping[str, SymbolSource] = field(default_factory=dict, compare=False, repr=False)
    window: Optional[Window] = None  # during/outside: in force only while open

    def in_force(self, now_ms: int) -> bool:
        """Whether the limits bind at ``now_ms`` (always, without a window)."""
        return self.window is None or self.window.is_open(now_ms)

    def for_symbol(self, symbol: str) -> SymbolLimitsNode:
        return self.symbols.get(symbol, self.default)

    @property
    def needs_positions(self) -> bool:
        """Whether a check reads the scope's positions (position and gross limits)."""
        return self.max_gross_notional is not None or self.default.max_position_notional is not None or any(
            s.max_position_notional is not None for s in self.symbols.values())

    def to_doc(self) -> dict[str, Any]:
        """The limits in force, as the lock document and ``ksctl status`` show them."""
        doc: dict[str, Any] = {"default": self.default.to_doc(), "mark_max_age_s": self.mark_max_age_ms / 1000}
        if self.symbols:
            doc["symbols"] = {k: v.to_doc() for k, v in sorted(self.symbols.items())}
        for key in ("max_open_orders", "max_gross_notional"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        if self.message_rate is not None:
            doc["message_rate"] = {"per_second": self.message_rate, "burst": self.message_burst}
        if self.window is not None:
            doc[self.window.kind] = list(self.window.names)
        doc["override"] = {"max_duration_s": self.override_max_ms / 1000, "approvals": self.override_approvals}
        return doc


def _symbol_node(s: SymbolLimits | Limits, base: SymbolLimitsNode) -> SymbolLimitsNode:
    def pick(v: Any, default: Any) -> Any:
        return default if v is None else v

    open_orders = s.max_open_orders if isinstance(s, SymbolLimits) else s.max_open_orders_per_symbol
    return SymbolLimitsNode(
        max_order_notional=pick(s.max_order_notional and s.max_order_notional.value, base.max_order_notional),
        max_order_quantity=pick(None if s.max_order_quantity is None else float(s.max_order_quantity),
                                base.max_order_quantity),
        max_position_notional=pick(s.max_position_notional and s.max_position_notional.value,
                                   base.max_position_notional),
        price_collar=pick(s.price_collar and s.price_collar.fraction, base.price_collar),
        max_open_orders=pick(open_orders, base.max_open_orders))


def limits_node(limits: Optional[Limits], sm: Optional[SourceMap] = None, file: str = "") -> Optional[LimitsNode]:
    """``spec.limits`` compiled (None: the policy sets none)."""
    if limits is None:
        return None
    default = _symbol_node(limits, SymbolLimitsNode())
    sources = {}
    if sm is not None:
        for name in limits.symbols:
            pos = sm.key(("spec", "limits", "symbols", name))
            sources[name] = SymbolSource(file, pos.line, pos.col)
    rate = limits.message_rate
    return LimitsNode(default=default,
                      symbols={k: _symbol_node(v, default) for k, v in limits.symbols.items()},
                      max_open_orders=limits.max_open_orders,
                      max_gross_notional=limits.max_gross_notional.value if limits.max_gross_notional else None,
                      message_rate=rate.per_second if rate else None, message_burst=rate.bucket if rate else None,
                      mark_max_age_ms=limits.mark_max_age.ms,
                      override_max_ms=limits.override.max_duration.ms if limits.override else 3_600_000,
                      override_approvals=limits.override.approvals if limits.override else 2, sources=sources)


def unlisted_symbols(policy: str, node: LimitsNode, listed: Iterable[frozenset[str]]) -> list[Diagnostic]:
    """KS267 for every ``symbols:`` entry of ``policy`` that none of ``listed`` (the symbol lists
    of the accounts the policy selects, each as its venue lists them) names. Nothing is said when
    no list is given: a symbol is judged only against a list read whole."""
    lists = list(listed)
    if not lists:
        return []
    known: set[str] = set().union(*lists)
    out = []
    for name, src in sorted(node.sources.items()):
        if name in known:
            continue
        near = d.did_you_mean(name, known)
        hint = (f'did you mean "{near}"? ' if near else "") + \
            "write the symbol as the venue's unified symbol (ccxt's), e.g. BTC/USDT:USDT for a USDT perpetual"
        out.append(Diagnostic.make(d.KS267, src.file, Position(src.line, src.col),
                                   f'policy "{policy}": limits.symbols names "{name}", which no venue the policy '
                                   f"selects lists", hint))
    return out


__all__ = ["LimitsNode", "SymbolLimitsNode", "SymbolSource", "limits_node", "unlisted_symbols"]
