"""The console's pre-trade limits section: each limit of each scope instance with its usage
(unknown never shown as 0), the limits a policy sets that no usage row shows, and the overrides
of the limits, a line each (with what an approval or an end is asked about)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ...figures import figure
from ...overrides import iso as override_iso

# a limit each order is held to alone (no usage to show), by its name in the limits' document
PER_ORDER = ("max_order_notional", "max_order_quantity", "price_collar")
# a symbol's limit by the name its usage rows carry
USAGE_NAME = {"max_position_notional": "max_position_notional", "max_open_orders": "max_open_orders_per_symbol"}


def override_row(o: Any) -> dict:
    """An override of the limits as the console's limits section lists it: a line each."""
    who = f"requested by {o.requester}" + (f", approved by {', '.join(o.approvers)}" if o.approvers else
                                           f", {o.approvals} of {o.needed} approvals")
    tail = f"until {override_iso(o.expires_ms)}" if o.state != "ended" else \
        f"ended {override_iso(o.ended_ms or o.expires_ms)} ({o.end_reason})"
    return {"id": o.id, "state": o.state, "text": f"{o.what} on {o.scope}" + (f" for {o.strategy}" if o.strategy
                                                                             else ""),
            "reason": f"{o.reason_code}: {o.reason}", "who": who, "until": tail,
            # what an approval or an end is asked about, said in its dialog
            "line": f"{o.what} on {o.scope}" + (f" for {o.strategy}" if o.strategy else "") +
                    f"; {o.reason_code}: {o.reason}; {who}; {tail}"}


def limit_rows(limits: Sequence[dict]) -> list[dict]:
    """Each pre-trade limit of each scope instance with its usage, as the lock document has them
    (``usage`` None: an account of the scope not read, shown as unknown, never as 0); then each
    limit of a policy that has no usage row: a per-order one ("per order": every order is held
    to it alone), the message rate, and a limit no instance's usage is read for yet."""
    out = []
    for p in limits:
        for u in p["usage"]:
            used, value = u["usage"], u["value"]
            share = None if used is None or not value else used / value
            out.append({"policy": p["policy"], "scope": u["scope"], "limit": u["limit"], "symbol": u["symbol"],
                        "value": figure(value), "usage": "unknown" if used is None else figure(used),
                        "resting": figure(u["resting"]) if u.get("resting") else None,
                        "share": "-" if share is None else f"{share:.0%}", "over": share is not None and share > 1,
                        "near": share is not None and 0.8 <= share <= 1})
        out += _set_rows(p["policy"], p.get("limits") or {}, {u["limit"] for u in p["usage"]})
    return out


def _set_rows(policy: str, doc: dict, used: set[str]) -> list[dict]:
    """The limits ``policy`` sets (its limits' document) that its usage rows (``used``: their
    names) do not show: each symbol's where it differs from the default."""
    def row(limit: str, symbol: Optional[str], value: str, usage: str) -> dict:
        return {"policy": policy, "scope": None, "limit": limit, "symbol": symbol, "value": value, "usage": usage,
                "resting": None, "share": "-", "over": False, "near": False}

    def shown(name: str, v: Any) -> str:
        return f"{v * 100:g}% of the mark" if name == "price_collar" else figure(v)

    default = doc.get("default") or {}
    out = []
    for symbol, limits in [(None, default), *sorted((doc.get("symbols") or {}).items())]:
        for name, v in limits.items():
            if symbol is not None and default.get(name) == v:
                continue
            if name in PER_ORDER:
                out.append(row(name, symbol, shown(name, v), "per order"))
            elif USAGE_NAME.get(name, name) not in used:
                out.append(row(USAGE_NAME.get(name, name), symbol, figure(v), "no usage read yet"))
    for name in ("max_open_orders", "max_gross_notional"):
        if doc.get(name) is not None and name not in used:
            out.append(row(name, None, figure(doc[name]), "no usage read yet"))
    rate = doc.get("message_rate")
    if rate:
        out.append(row("message_rate", None, f"{rate['per_second']:g}/s (burst {rate['burst']})", "per strategy"))
    return out
