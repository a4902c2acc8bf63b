"""Render ``ksctl routes test``: where a notification would go, and receiver checks.

Text for people; JSON (``format_version`` 1) for scripts::

    {"format_version": 1, "labels": {...},
     "documents": [{"routes", "chosen_by", "labels", "inhibited", "inhibited_by" (null or {"rule",
                    "source_matchers", "target_matchers", "source_match", "target_match", "equal",
                    "active"}), "active_given",
                    "fallback_receiver", "matches": [{"receiver", "route", "path": [{"route", "matchers"}],
                    "continue", "group_key", "group_by", "group_wait", "group_interval",
                    "repeat_interval", "targets", "send_resolved", "mute_time_intervals",
                    "active_time_intervals"}]}],
     "verify": [{"routes", "receiver", "targets", "result", "ok", "elapsed_ms", "problems", "cause"}]}

``cause`` (null when delivered) says why a check failed in fixed words: ``connection refused``,
``DNS lookup failed``, ``TLS error``, ``HTTP 401``, ``timeout after 10s``, ``secret not resolved: …``.

Receivers appear by name and targets by reference (``{env: VAR}``, ``{file: PATH}``, a plain URL
cut to scheme, host and port): the values behind them are secrets and never reach this module.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ..policy.matchers import quoted

JSON_FORMAT_VERSION = 1


def _labels(labels: dict) -> str:
    """``k=v k=v``; a value that is empty or holds a space, a quote or a backslash is quoted, so
    that what is shown is the value the routes saw (``reason=" x"``)."""
    return " ".join(f"{k}={_value(v)}" for k, v in labels.items()) or "(none)"


def _value(v: str) -> str:
    plain = v and all(c.isprintable() and not c.isspace() and c not in '"\\' for c in v)
    return v if plain else quoted(v)


def _path(match: dict) -> str:
    steps = []
    for step in match["path"]:
        m = ",".join(step["matchers"])
        steps.append(step["route"].rsplit(".", 1)[-1] + (f" {{{m}}}" if m else ""))
    return " → ".join(steps)


def routes_text(answer: Optional[dict], verify: list[dict]) -> str:
    out: list[str] = []
    if answer is not None:
        out.append(f"Notification with labels: {_labels(answer['labels'])}")
        if not answer["documents"]:
            out.append("  reaches no routes document: nobody would be notified")
        for doc in answer["documents"]:
            out.append("")
            out.append(f'routes "{doc["routes"]}" (chosen by: {doc["chosen_by"]})')
            if doc["labels"] != answer["labels"]:
                out.append(f"  effective labels: {_labels(doc['labels'])}")
            width = max((len(m["receiver"]) for m in doc["matches"]), default=0)
            for m in doc["matches"]:
                pad = " " * (width + 6)
                cont = "  (continue)" if m["continue"] else ""
                out.append(f"  → {m['receiver'].ljust(width)}  via {_path(m)}{cont}")
                out.append(f"{pad}group {m['group_key']}")
                out.append(f"{pad}group_by [{', '.join(m['group_by'])}] · wait {m['group_wait']} · "
                           f"interval {m['group_interval']} · repeat {m['repeat_interval']}")
                out.append(f"{pad}targets {', '.join(m['targets']) or '(none)'} · "
                           f"resolved notices {'yes' if m['send_resolved'] else 'no'}")
                if m["mute_time_intervals"] or m["active_time_intervals"]:
                    out.append(f"{pad}muted during [{', '.join(m['mute_time_intervals'])}] · "
                               f"active only during [{', '.join(m['active_time_intervals']) or 'any time'}]")
            if doc["inhibited"]:
                ib = doc["inhibited_by"]
                out.append(f"  inhibited: YES, muted by inhibit_rules[{ib['rule']}] "
                           f"(source {{{', '.join(ib['source_matchers'])}}}, equal [{', '.join(ib['equal'])}]) "
                           f"while active: {_labels(ib['active'])}")
            elif doc["active_given"]:
                out.append(f"  inhibited: no ({doc['active_given']} active label set(s) given)")
            else:
                out.append("  inhibited: not checked (give the active alerts with --active k=v,k=v)")
            if doc["fallback_receiver"]:
                out.append(f"  fallback receiver (gets failed pages): {doc['fallback_receiver']}")
    for v in verify:
        if out:
            out.append("")
        head = f'verify receiver "{v["receiver"]}" of routes "{v["routes"]}": '
        if v["problems"]:
            out.append(head + "NOT RESOLVED")
            out += [f"  {p}" for p in v["problems"]]
        else:
            out.append(head + _verdict(v) + f" in {v['elapsed_ms']}ms to {', '.join(v['targets'])}")
    return "\n".join(out) + "\n"


def _verdict(v: dict) -> str:
    """``delivered``; ``PARTIAL: <cause>`` (some targets failed); ``FAILED: <cause>``. The cause is
    the sentence (connection refused, HTTP 401, timeout after 10s); a result without one says so."""
    if v["result"] == "delivered":
        return "delivered"
    cause = v.get("cause") or f"no cause reported (the send ended {v['result']!r})"
    if v["result"] == "partial":
        return f"PARTIAL: some targets failed: {cause}"
    return f"FAILED: {cause}"


def routes_json(answer: Optional[dict], verify: list[dict]) -> str:
    body: dict[str, Any] = {"format_version": JSON_FORMAT_VERSION}
    if answer is not None:
        body.update(answer)
    body["verify"] = verify
    return json.dumps(body, indent=1, ensure_ascii=False)
