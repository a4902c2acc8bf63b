"""The venue watch's audit rows read back: which kinds record what broke a lock or a limit at the
venue, and what each cancel of such an order came to.

What it owns: the kinds (``lock_violation``, ``limit_violation``; ``violation_cancel_result``,
one row per account's cancel with each venue order id's outcome), :func:`cancel_results` (a later
answer for the same order wins: a refused cancel is tried again at the next tick) and
:func:`cancel_outcome` (a violation's cancel in words). Two readers share it: the runner, which
shows the latest violations again after a start or a takeover
(``killswitch/runner/watch/enforcement.py``), and the closure report
(``killswitch/runbooks/halt_breaks.py``).

Pure: audit rows in, plain values out; must not read the store itself.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

VIOLATION_KINDS = ("lock_violation", "limit_violation")
CANCEL_RESULT_KIND = "violation_cancel_result"


def cancel_results(rows: Sequence[Any]) -> dict[tuple[str, str], str]:
    """(account, venue order id) → what its cancel came to (``canceled``, or the venue's refusal),
    from the ``violation_cancel_result`` rows among ``rows`` (chain order: the latest wins)."""
    results: dict[tuple[str, str], str] = {}
    for r in rows:
        if r.kind == CANCEL_RESULT_KIND and isinstance(r.payload, Mapping):
            for oid, outcome in (r.payload.get("outcomes") or {}).items():
                results[(str(r.payload.get("account")), str(oid))] = str(outcome)
    return results


# what a bot's fill that reduced a position under a halt came to (action ``none``): it is done
REDUCED_OUTCOME = "filled under the halt; it reduced the position: nothing sent back"


def cancel_outcome(payload: Mapping[str, Any], results: Mapping[tuple[str, str], str]) -> str:
    """A cancelled violation's outcome: ``dry run: not sent``, the venue's answer, or ``no
    result recorded`` (a stop right after the cancel left, or a stage's own cancel of it); a
    bot's fill that reduced (action ``none``): :data:`REDUCED_OUTCOME`."""
    if payload.get("action") == "none":
        return REDUCED_OUTCOME
    if payload.get("dry_run"):
        return "dry run: not sent"
    answered = results.get((str(payload.get("account")), str(payload.get("order_id"))))
    return answered if answered is not None else "no result recorded"


__all__ = ["CANCEL_RESULT_KIND", "REDUCED_OUTCOME", "VIOLATION_KINDS", "cancel_outcome", "cancel_results"]
