"""Orders and positions that broke a lock or a pre-trade limit at the venue (the venue watch):
how many of each, since when, and the latest, newest first. One fact: the count.

Also :func:`counted_text`, the title and the count ``ksctl status`` and the console both give
them (a lock's and a pre-trade limit's counted apart), and what a violation came to and whose it
is (:func:`outcome_text`, :func:`strategies_of`) as status and the closure report say them.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from ..figures import figure
from ..fills import bot_side, orders_text, revert_side
from . import Fact, Line, When, kind_of, stamp

RANK = 40
KIND = kind_of(__name__)
LOCK_KIND = "LOCK_VIOLATION"  # a lock's violation (the others: a limit's)
LATEST = 10  # the violations ksctl status lists
ENDS = "nothing while this runner runs: counted since its start (and the day before it, read back)"


def counted_text(doc: dict) -> tuple[str, str]:
    """The violations of status's ``lock_violations`` as ``ksctl status`` and the console title
    and count them, each kind apart: ``("LOCK VIOLATIONS", "5")``, ``("LIMIT VIOLATIONS", "1")``,
    ``("LOCK AND LIMIT VIOLATIONS", "6 (5 of a lock, 1 of a pre-trade limit)")``. A runner that
    does not count them apart (no ``limits``): a lock's, unless a limit's is among those shown."""
    total = int((doc or {}).get("total") or 0)
    limits = (doc or {}).get("limits")
    if not isinstance(limits, int) or isinstance(limits, bool):
        if not any(v.get("kind") not in (None, LOCK_KIND) for v in (doc or {}).get("recent") or ()):
            return "LOCK VIOLATIONS", str(total)
        return "LOCK AND LIMIT VIOLATIONS", str(total)
    locks = total - limits
    if not limits:
        return "LOCK VIOLATIONS", str(total)
    if not locks:
        return "LIMIT VIOLATIONS", str(total)
    return "LOCK AND LIMIT VIOLATIONS", f"{total} ({locks} of a lock, {limits} of a pre-trade limit)"


def violation_lines(doc: dict) -> list[str]:
    """What broke a lock at the venue (the venue watch): the count, and the latest, newest first."""
    total = int((doc or {}).get("total") or 0)
    if not total:
        return []
    title, count = counted_text(doc)
    lines = [f"  {title}: {count}{_counted(doc, total)} (the latest first)"]
    return lines + ["    " + violation_text(v) for v in list(doc.get("recent") or ())[:LATEST]]


def violation_text(v: dict) -> str:
    """One violation as status lists it and the incident's runbook says it (``v``: its audit row's
    payload with its ``ts_ms`` and ``outcome``)."""
    notional, names = v.get("notional"), strategies_of(v)
    value = f"notional {notional:,.2f}" if isinstance(notional, (int, float)) else "notional unknown"
    # a limit's breach under an active lock says which limit, not "under active"
    broke = (f"breaking {v.get('reason')}" if v.get("kind") == "LIMIT_VIOLATION" and v.get("reason")
             else f"under {v.get('mode')} {v.get('scope')}")
    return (f"{stamp(v.get('ts_ms'))} {v.get('action', '?'):<6} {v.get('account')} {v.get('symbol')} {bot_side(v)} "
            f"{figure(v.get('amount', 0), v.get('amount_step'))} ({value}) "
            f"{'strategy' if len(names) == 1 else 'strategies'} {', '.join(names)} "
            f"{'orders' if len(v.get('orders') or ()) > 1 else 'order'} {_bot_order(v)} {broke}: {outcome_text(v)}")


def _counted(doc: dict, total: int) -> str:
    """Over what the violations are counted, and when the first was: a start (or a takeover)
    reads the 24 h before it back, whose start is no violation's time. The count runs from
    there on: "in the last 24 h" would hold only at the start."""
    since, recent = doc.get("since_ms"), list(doc.get("recent") or ())
    stamps = [v["ts_ms"] for v in recent if isinstance(v.get("ts_ms"), int)]
    first = (f", the first at {stamp(min(stamps))}" if len(stamps) >= total else
             f", the oldest shown at {stamp(min(stamps))}") if stamps else ""
    if not since:
        return f" since this runner started{first}"
    if doc.get("read_back"):
        return f" since {stamp(since)} (24 h before this runner started){first}"
    return f" since this runner started at {stamp(since)}{first}"


def _bot_order(v: dict) -> str:
    """The bot's order that broke the lock: its client order id and the venue's order id; a
    revert's, every bot's order whose fills grew the leg, each with its own strategy."""
    if v.get("orders"):
        return orders_text(v["orders"])
    cid, oid = v.get("client_order_id"), v.get("order_id")
    if cid and oid:
        return f"{cid} (id {oid})"
    return str(cid or (f"id {oid}" if oid else "-"))


def outcome_text(v: dict) -> str:
    """What the watch's action came to; a revert's names the runner's own order apart from the
    bot's: ``the runner's own revert sell ks…: revert filled`` (status, the console and the report)."""
    outcome = v.get("outcome") or ("dry run" if v.get("dry_run") else "pending")
    if v.get("action") != "revert":
        return str(outcome)
    side = v.get("revert_side") or revert_side(v)  # (a report's row has it: its "side" is the bot's)
    return f"the runner's own revert {side} {v.get('revert_client_order_id') or '-'}: {outcome}"


def strategies_of(v: dict) -> list[str]:
    """Every strategy a violation names; a revert's unknown one with why (no fill read, ...)."""
    names = [str(n) for n in v.get("strategies") or ()] or [str(v.get("strategy"))]
    why = v.get("attribution")
    unknown = why if isinstance(why, str) and why.startswith("unknown") else "unknown"
    return [unknown if n == "unknown" else n for n in names]


def facts(st: Any) -> Iterator[Fact]:
    doc = st.lock_violations or {}
    if int(doc.get("total") or 0):
        title, count = counted_text(doc)
        latest = (doc.get("recent") or [None])[0]
        yield Fact(KIND, "error", "global", doc.get("since_ms"), ENDS,
                   "\n".join(line.removeprefix("  ") for line in violation_lines(doc)),
                   data={"title": title, "count": count, "latest": latest and {
                       k: latest.get(k) for k in ("action", "symbol", "account")}})


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    (fact,) = facts
    latest = fact.data["latest"]
    return Line(fact.data["title"], f"{fact.data['count']} at the venue" + (
        f", the latest {latest['action']} {latest['symbol']} on {latest['account']}" if latest else ""))
