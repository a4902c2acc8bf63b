"""Who holds a lock: the ``policy`` field of a hold no policy placed, a hold as the lock document
says it (:class:`LockHold`), and who holds it and until when, in the words status, the console
and the runbooks use (:func:`holder`, :func:`held_until`); and an account a revoke's scope reached
but could not revoke, in the same words everywhere (:func:`unreached_text`).

Kept apart from the lock book (:mod:`killswitch.runner.lock.lock`) at the bottom of the package,
so that the typed client, the runbooks and the policies read these names without importing the
lock book ("@" is never part of a policy name, so neither can be mistaken for one).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Iterable, Mapping, Optional

from .figures import iso_ms
from .records import record

# a revoke's account without the switch: nothing sent there (the report's permission table says so)
OUT_OF_REACH = "out of reach"

OPERATOR = "@operator"
DEAD_MANS_SWITCH = "@dms"
# the firm-wide kill's hold (``ksctl kill --firm``): no operator's unlock and no reset lifts it, only
# its release by two distinct approvers (killswitch/firm/kill.py)
KILL_HOLD = "firm:kill"
KILL_RELEASE = "ksctl kill --firm --release"

ORIGIN_POLICY, ORIGIN_OPERATOR, ORIGIN_DMS = "policy", "operator", "dead man's switch"


@record
class LockHold:
    """One hold on a scope (``GET /v1/lock`` ``scopes.<scope>.holds``): a policy's stage, an
    operator (``policy`` "@operator") or the dead man's switch ("@dms"); ``expires_ts`` None: no
    ttl (a manual-reset stage, or an operator lock until ``ksctl unlock``)."""

    mode: str  # reducing | halted
    policy: Optional[str]
    stage: Optional[int]
    reason: str
    manual: bool
    created_ts: Optional[str]
    expires_ts: Optional[str]
    details: dict = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """Who holds it: ``policy``, ``operator`` or ``dead man's switch``."""
        return {OPERATOR: ORIGIN_OPERATOR, DEAD_MANS_SWITCH: ORIGIN_DMS}.get(self.policy or "", ORIGIN_POLICY)


def held_until(h: LockHold) -> str:
    """Until when a hold binds, in words: ``until ksctl unlock``, ``until <ts>``, ...."""
    if h.policy == KILL_HOLD:
        return f"until two approvers release it ({KILL_RELEASE})"
    if h.manual:
        return "held until a manual reset (ksctl reset)"
    if h.expires_ts is not None:
        return f"until {h.expires_ts}"
    if h.origin == ORIGIN_OPERATOR:
        return "until ksctl unlock"
    if h.origin == ORIGIN_DMS:
        return "until the source is armed again or ksctl unlock"
    if h.details.get("while_blind"):
        return "until the scope is armed again (spec.while_blind)"
    return "until its stage resets"


def holder(h: LockHold) -> str:
    """Who holds a hold, in words: ``operator alice``, ``policy quick-watch stage 1``, ...."""
    if h.origin == ORIGIN_OPERATOR:  # who, when the runner recorded it (the caller's identity)
        return h.origin + (f" {h.details['by']}" if isinstance(h.details.get("by"), str) else "")
    if h.origin == ORIGIN_DMS:
        return h.origin
    if h.policy == KILL_HOLD:
        return "the firm-wide kill"
    if h.details.get("while_blind"):
        return f"policy {h.policy} while blind"
    if isinstance(h.details.get("window"), str):  # no stage's: the window itself is in its reason
        return f"policy {h.policy}'s trading window (spec.lock_trading)"
    return f"policy {h.policy}" + (f" stage {h.stage}" if h.stage is not None else "")


# a scope no lock binds: its mode is ``active``, which a person reads as the opposite of a lock
TRADING_ALLOWED = "trading allowed"


def mode_text(mode: str) -> str:
    """A lock mode in words: ``halted``, ``reducing``, or ``trading allowed`` for ``active``."""
    return TRADING_ALLOWED if mode == "active" else mode


def lock_change_text(scope: str, before: Optional[str], after: Optional[str], relatch: bool) -> str:
    """What a previewed change does to the lock binding ``scope``, as ``ksctl`` and the console's
    preview say it: ``Lock binding acc: halted now, trading allowed after, then halted again at
    the next tick (a trigger still fires).`` (``after`` None: unchanged; ``relatch``: a trigger
    still fires, so a weaker lock lasts until the next tick); "" when ``before`` is not known."""
    if before is None:
        return ""
    again = (f", then {mode_text(before)} again at the next tick (a trigger still fires)"
             if relatch and after is not None and after != before else "")
    said = "unchanged" if after is None else mode_text(after)
    return f"Lock binding {scope}: {mode_text(before)} now, {said} after{again}."


def binding_text(h: LockHold) -> str:
    """A hold in words: its mode, who holds it and until when (as status says it), e.g.
    ``reducing by policy futures-book while blind until the scope is armed again
    (spec.while_blind; expected at <ts>)`` (``details.until_ms``: when it is expected to end)."""
    until = held_until(h)
    expected = h.details.get("until_ms") if h.details.get("while_blind") else None
    if isinstance(expected, int):
        until = until.removesuffix(")") + f"; expected at {iso_ms(expected)})"
    return f"{h.mode} by {holder(h)} {until}"


def others_binding(holds: Iterable[Mapping[str, Any]], scope: str, policy: str) -> list[str]:
    """Every hold of ``holds`` (lock documents with their ``scope``: ``scope``'s and
    ``global``'s, the strongest first) but ``policy``'s own on ``scope``, in words
    (:func:`binding_text`, ``(via global)`` for another scope's, then its reason; an
    operator's in the words it was typed in): what still binds ``scope`` when a reset of
    ``policy`` lifts its own lock. The reset preview and the runbooks say the same."""
    out = []
    for d in holds:
        if d.get("scope") == scope and d.get("policy") == policy:
            continue
        h = LockHold(mode=str(d.get("mode")), policy=d.get("policy"), stage=d.get("stage"),
                     reason=str(d.get("reason") or ""), manual=bool(d.get("manual")), created_ts=d.get("created_ts"),
                     expires_ts=d.get("expires_ts"), details=dict(d.get("details") or {}))
        via = f" (via {d.get('scope')})" if d.get("scope") != scope else ""
        out.append(f"{binding_text(h)}{via}: {h.details.get('reason') or h.reason}")
    return out


# why an account a revoke's scope reaches is not revoked: no switch of its bots' keys (a venue
# without one takes no revoke: block either: the compiler refuses one there, KS260)
NO_SWITCH = "no revoke: block in the Accounts document"


def unreached_text(account: str) -> str:
    """An account a revoke's scope reached that it could not revoke, as status, the console,
    the previews, the start-up log and the report say it."""
    return f"{account}: OUT OF REACH, not revoked ({NO_SWITCH})"
