"""An operator's write the API refused before any command saw it, audited: who tried what, and why.

A write a command refuses (an unknown scope, a stage's lock, a duplicate approver ...) is audited
by that command with its target. One refused before its handler reached a command is audited
here instead (``api_write_refused``): a caller without the role (``ROLE_REQUIRED``), a token
refused (``AUTH_INVALID``, ``AUTH_REQUIRED``), a body that does not parse (``BAD_REQUEST``), an
approval named for someone else (``APPROVER_NOT_CALLER``) ... — the route, the action it is, the
caller (its identity, or none when the token was refused) and its address, what it named in the
body it sent (:func:`typed_target`: ``scope=binanceusdm/sim-main``, from the fields that name a
target alone, each bounded), and the refusal. So
an approver who tries an operator's lock leaves a trace, and the closure report's *Operator
actions* lists it.

Such a refusal costs the caller nothing, so a flood is bounded as the trusted proxy's refusals
are (:mod:`.proxy.ledger`): at most one row per caller (identity, or address without one) and
action in a window of :data:`WINDOW_S`, and :data:`ROWS_PER_WINDOW` rows in a window in all; a
refusal given no row of its own is counted into its caller's next row (``folded_since_last_row``),
or, beyond :data:`TRACKED` callers remembered, into the next row written (``folded_other``).

Must not: audit a heartbeat (the bots', never an operator's write), write a row per request, or
quote a token (nor a value sent that is one: it is left out of the target), or read a body larger
than :data:`TARGET_BODY_MAX` to name it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Awaitable, Callable, Optional

from aiohttp import web

from .proxy.ledger import ROWS_PER_WINDOW, TRACKED, WINDOW_S, FoldedRows, audit_later

log = logging.getLogger("killswitch.face.api")

# what the runner could not write, a flood's shedding (counted on /metrics), and the proxy's headers
# from elsewhere (audited by the proxy's own ledger): no row here
NOT_AUDITED = ("AUDIT_SINK_DOWN", "RATE_LIMITED", "QUEUE_FULL", "PROXY_HEADER_UNTRUSTED")


# the body's fields that name what a write is aimed at (never its reason, comment or a credential),
# each value cut to TARGET_VALUE_MAX characters, the whole to TARGET_MAX; a larger body is not read
TARGET_FIELDS = ("policy", "scope", "account", "strategy", "symbol", "leg", "incident", "source", "id", "matchers")
TARGET_VALUE_MAX, TARGET_MAX, TARGET_BODY_MAX = 80, 240, 16_384


def _cut(text: str, limit: int) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def typed_target(request: web.Request, is_token: Callable[[str], bool]) -> Optional[str]:
    """What a refused write named in its JSON body, as the person typed it: ``scope=binanceusdm/sim-main``
    (``TARGET_FIELDS`` in that order, strings and lists of strings alone); None when there is no
    such body, it is larger than :data:`TARGET_BODY_MAX` or does not parse. A value ``is_token``
    says is a credential is never named."""
    size = request.content_length
    if not request.can_read_body or size is None or size > TARGET_BODY_MAX:
        return None
    try:
        body = json.loads(await request.read())
    except Exception:  # noqa: BLE001 - a body that does not parse names nothing: the route stands alone
        return None
    if not isinstance(body, dict):
        return None
    named = []
    for name in TARGET_FIELDS:
        value = body.get(name)
        values = value if isinstance(value, list) else [value]
        kept = [v for v in values if isinstance(v, str) and v.strip() and not is_token(v.strip())]
        if kept:
            named.append(f"{name}={_cut(', '.join(kept), TARGET_VALUE_MAX)}")
    return _cut("; ".join(named), TARGET_MAX) if named else None


def action_of(path: str) -> str:
    """The action a write's route is, as the report names it: ``/v1/lock`` → ``lock``,
    ``/v1/revoke/restore`` → ``revoke restore``, ``/v1/close-rejections/accept`` → ``close accept``."""
    words = path.removeprefix("/v1/").replace("close-rejections", "close").replace("silences", "silence")
    return " ".join(w for w in words.split("/") if w) or path


class RefusedWrites(FoldedRows):
    """Counts the refused writes and writes their bounded audit rows through ``audit`` (the desk's
    :meth:`~killswitch.face.desk.desk.Desk.audit_write_refusal`); see the module doc."""

    def __init__(self, audit: Optional[Callable[[dict], Awaitable[Any]]], clock: Callable[[], float] = time.monotonic,
                 window_s: float = WINDOW_S, rows_per_window: int = ROWS_PER_WINDOW, tracked: int = TRACKED):
        super().__init__(clock, window_s, rows_per_window, tracked)
        self.audit = audit
        self._writing: set[asyncio.Task] = set()

    def note(self, *, by: Optional[str], source: str, method: str, path: str, code: str, reason: str,
             target: Optional[str] = None) -> Optional[dict]:
        """Count a refused write; the row to audit for it now, or None (folded into a later row)."""
        if code in NOT_AUDITED:
            return None
        action = action_of(path)
        admitted = self._admit((by or f"address {source}", action))
        if admitted is None:
            return None
        row = {"action": action, "route": f"{method} {path}", "by": by, "source": source,
               "refused": (f"{code}: {reason}" if reason else code)[:500],
               "folded_since_last_row": admitted[0]}
        if target:
            row["target"] = target
        if admitted[1]:
            row["folded_other"] = admitted[1]
        return row

    def refused(self, **kw: Any) -> None:
        """Note a refused write and audit its row, if it gets one, without holding the answer."""
        row = self.note(**kw)
        if row is not None and self.audit is not None:
            audit_later(self.audit, row, self._writing, lambda e: log.error(
                "API_WRITE_REFUSED: the audit row for %s by %s could not be written: %s", row["route"],
                row["by"] or row["source"], e))


__all__ = ["NOT_AUDITED", "RefusedWrites", "action_of", "typed_target"]
