"""The trading lock book: the locks every bot reads before it sends an order.

Owns :class:`LockBook`, a pure value: the locks that stage entries (``lock_trading``) put on
scopes. A lock is a *hold* of one policy's stage on one scope (``global``, a venue,
``venue/account``, a strategy or a symbol, as the engine names scope instances). Holds merge by
one rule: the most restrictive wins (``halted`` > ``reducing`` > ``active``); among equals, a
manual hold beats a ttl, then the later expiry. A hold of a manual-reset stage stays until its
reset releases it, whatever its ttl; any other hold also ends at its ttl. Two holds come from
elsewhere than a policy, and say so in their ``policy`` field with a name no policy can have:
:data:`OPERATOR` (``ksctl lock``, until ``ksctl unlock`` or its ttl) and
:data:`DEAD_MANS_SWITCH` (a silent source, until it is re-armed or an operator unlocks).

Also owns the book's documents, read strictly (anything off fails closed): the lock file's
document (``to_doc`` / ``from_doc``; the file itself is :mod:`.file`'s) and the runner's
state (``to_json`` / ``from_json``). Which holds a tick's evaluation adds and removes is
:mod:`.evaluation`'s.

Must not: read the clock (every time is an argument), decide *when* to lock (the engine's
stage machine does), talk to bots or exchanges, or write anything.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Optional, Union

from ...figures import iso_ms
from ...holds import DEAD_MANS_SWITCH as DEAD_MANS_SWITCH, OPERATOR as OPERATOR

LOCK_FORMAT_VERSION = 1
MODES = ("active", "reducing", "halted")
_RANK = {m: i for i, m in enumerate(MODES)}
GLOBAL_SCOPE = "global"
# The ``policy`` of holds no policy placed (see :mod:`killswitch.holds`).
NOT_A_POLICY = (OPERATOR, DEAD_MANS_SWITCH)


def mode_rank(mode: str) -> int:
    """0 active, 1 reducing, 2 halted: higher is more restrictive."""
    return _RANK[mode]


def parse_iso_ms(text: str) -> int:
    """The inverse of :func:`iso_ms` (any ISO-8601 time with a zone); exact to the millisecond."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO-8601 time, got {type(text).__name__}")
    t = _dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if t.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    delta = t - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


# --- values -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockHold:
    """One policy stage's lock on one scope."""

    scope: str
    mode: str  # reducing | halted
    policy: Optional[str]
    stage: Optional[int]
    reason: str
    created_ms: int
    expires_ms: Optional[int]  # None: until released (manual, or no ttl)
    manual: bool = False
    details: dict = field(default_factory=dict, hash=False)

    @property
    def key(self) -> tuple:
        return (self.scope, self.policy or "", self.stage if self.stage is not None else -1)

    def in_force(self, now_ms: Optional[int]) -> bool:
        """Whether the hold still applies at ``now_ms`` (None: do not expire anything)."""
        if now_ms is None or self.manual or self.expires_ms is None:
            return True
        return now_ms < self.expires_ms

    def to_doc(self) -> dict:
        return {
            "mode": self.mode,
            "policy": self.policy,
            "stage": self.stage,
            "reason": self.reason,
            "manual": self.manual,
            "created_ts": iso_ms(self.created_ms),
            "expires_ts": iso_ms(self.expires_ms) if self.expires_ms is not None else None,
            "details": dict(self.details),
        }


def hold_strength(h: LockHold) -> tuple:
    """Sort key: the strongest hold sorts first (the one that binds when holds merge)."""
    expiry = math.inf if h.manual or h.expires_ms is None else h.expires_ms
    return (-_RANK[h.mode], not h.manual, -expiry, h.created_ms, h.key)


@dataclass(frozen=True)
class LockStatus:
    """The lock in force for a scope (or for everything: the summary), as bots read it."""

    locked: bool
    mode: str
    scope: Optional[str]
    stage: Optional[int] = None
    policy: Optional[str] = None
    reason: str = "ACTIVE"
    created_ms: Optional[int] = None
    expires_ms: Optional[int] = None
    manual: bool = False
    details: dict = field(default_factory=dict, hash=False)

    @staticmethod
    def unlocked(scope: Optional[str], reason: str = "ACTIVE") -> "LockStatus":
        return LockStatus(False, "active", scope, reason=reason)

    @staticmethod
    def of(hold: LockHold) -> "LockStatus":
        return LockStatus(True, hold.mode, hold.scope, hold.stage, hold.policy, hold.reason, hold.created_ms,
                          None if hold.manual else hold.expires_ms, hold.manual, dict(hold.details))

    @property
    def rank(self) -> int:
        return _RANK[self.mode]

    @property
    def since(self) -> Optional[str]:
        return iso_ms(self.created_ms) if self.created_ms is not None else None

    @property
    def until(self) -> Optional[str]:
        return iso_ms(self.expires_ms) if self.expires_ms is not None else None

    def to_doc(self) -> dict:
        """As bots read it: ``manual`` is true for a lock a person placed (an operator's) or one
        only a person lifts (a manual-reset stage); ``expires_ts`` says whether it ends by itself."""
        return {
            "locked": self.locked,
            "mode": self.mode,
            "scope": self.scope,
            "stage": self.stage,
            "policy": self.policy,
            "reason": self.reason,
            "created_ts": self.since,
            "expires_ts": self.until,
            "manual": self.manual or (self.locked and self.policy == OPERATOR),
            "details": dict(self.details),
        }


def _merge(holds: Iterable[LockHold], scope: Optional[str]) -> LockStatus:
    best = min(holds, key=hold_strength, default=None)
    return LockStatus.unlocked(scope) if best is None else LockStatus.of(best)


# --- the book ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockBook:
    """Every lock of one runner: a pure value; each change returns a new book."""

    holds: tuple[LockHold, ...] = ()

    # changes

    def apply(self, scope: str, mode: str, *, now_ms: int, policy: Optional[str] = None,
              stage: Optional[int] = None, reason: str = "", ttl_ms: Optional[int] = None,
              manual: bool = False, details: Optional[Mapping[str, Any]] = None) -> "LockBook":
        """Lock ``scope`` (``mode`` reducing or halted) for ``policy``'s ``stage``.

        ``manual``: the stage resets only by hand, so the lock holds until :meth:`release`,
        whatever ``ttl_ms``. Applying again for the same scope, policy and stage (a re-entry
        after a cooldown) keeps the original start and the stronger of the two: the more
        restrictive mode, the later expiry.
        """
        if mode not in ("reducing", "halted"):
            raise ValueError(f'lock mode must be "reducing" or "halted", not {mode!r} (release a lock to go active)')
        if not isinstance(scope, str) or not scope:
            raise ValueError("a lock needs a scope")
        if isinstance(now_ms, bool) or not isinstance(now_ms, int):
            raise ValueError(f"now_ms must be whole milliseconds, not {now_ms!r}")
        if ttl_ms is not None and (isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms <= 0):
            raise ValueError(f"ttl_ms must be a positive whole number of milliseconds, not {ttl_ms!r}")
        d = dict(details or {})
        if manual and ttl_ms is not None:
            d.setdefault("ttl_ignored", "manual reset: held until released")
        new = LockHold(scope, mode, policy, stage, reason or f"LOCK_TRADING: mode={mode}", now_ms,
                       None if manual or ttl_ms is None else now_ms + ttl_ms, manual, d)
        out = []
        for h in self.holds:
            if h.key != new.key:
                out.append(h)
            elif h.in_force(now_ms):
                new = _combine(h, new)
        out.append(new)
        return LockBook(tuple(sorted(out, key=lambda h: h.key)))

    def release(self, scope: str, policy: Optional[str] = None, stage: Optional[int] = None) -> "LockBook":
        """Remove the holds of ``scope`` (of one policy, of one stage of it): a stage reset."""
        return LockBook(tuple(h for h in self.holds if not (
            h.scope == scope and (policy is None or h.policy == policy) and (stage is None or h.stage == stage))))

    def expire(self, now_ms: int) -> "LockBook":
        """Drop the holds whose ttl has run out (never a manual one)."""
        kept = tuple(h for h in self.holds if h.in_force(now_ms))
        return self if len(kept) == len(self.holds) else LockBook(kept)

    # queries

    def in_force(self, now_ms: Optional[int] = None) -> tuple[LockHold, ...]:
        return tuple(h for h in self.holds if h.in_force(now_ms))

    def scopes(self, now_ms: Optional[int] = None) -> list[str]:
        return sorted({h.scope for h in self.in_force(now_ms)})

    def entry(self, scope: str, now_ms: Optional[int] = None) -> LockStatus:
        """The lock on exactly ``scope`` (its holds merged), not counting ``global``."""
        return _merge((h for h in self.in_force(now_ms) if h.scope == scope), scope)

    def effective(self, scopes: Iterable[str], now_ms: Optional[int] = None) -> LockStatus:
        """The most restrictive lock over several scope keys (an order touches several)."""
        keys = set(scopes)
        first = next(iter(sorted(keys)), None)
        return _merge((h for h in self.in_force(now_ms) if h.scope in keys), first)

    def for_scope(self, scope: str, now_ms: Optional[int] = None) -> LockStatus:
        """The lock a bot of ``scope`` must obey: that scope's holds and ``global``'s, merged.
        ``now_ms`` None keeps every ttl hold (the more restrictive reading)."""
        st = self.effective({scope, GLOBAL_SCOPE}, now_ms)
        return st if st.locked else LockStatus.unlocked(scope)

    def scope_doc(self, scope: str, now_ms: int) -> dict:
        """:meth:`for_scope`'s document with its ``holds`` (of ``scope`` and ``global``, the
        strongest first, each with its ``scope``): which lock binds and where it comes from."""
        holds = sorted((h for h in self.in_force(now_ms) if h.scope in (scope, GLOBAL_SCOPE)), key=hold_strength)
        return {**self.for_scope(scope, now_ms).to_doc(), "holds": [{**h.to_doc(), "scope": h.scope} for h in holds]}

    def summary(self, now_ms: Optional[int] = None) -> LockStatus:
        """The most restrictive lock of all scopes."""
        return _merge(self.in_force(now_ms), None)

    # documents

    def to_doc(self, now_ms: int) -> dict:
        """The lock file document at ``now_ms``: the summary, and one entry per locked scope."""
        live = self.in_force(now_ms)
        summary = _merge(live, None)
        locked = sorted({h.scope for h in live})
        doc = {"format_version": LOCK_FORMAT_VERSION, **summary.to_doc(), "written_ts": iso_ms(now_ms)}
        doc["details"] = {**summary.details, "scopes_locked": len(locked)} if summary.locked else {}
        # the summary's mode, policy and reason are the strongest lock's; its scope is none of several
        doc["locked_scopes"] = locked
        if len(locked) > 1:
            doc["scope"] = None
        scopes: dict[str, dict] = {}
        for scope in sorted({h.scope for h in live}):
            mine = [h for h in live if h.scope == scope]
            scopes[scope] = {**_merge(mine, scope).to_doc(),
                             "holds": [h.to_doc() for h in sorted(mine, key=hold_strength)]}
        doc["scopes"] = scopes
        return doc

    @staticmethod
    def from_doc(doc: Any) -> "LockBook":
        """The book a lock file document holds. Strict: raises ``ValueError`` on anything off."""
        _check_version(doc)
        scopes = doc.get("scopes")
        if not isinstance(scopes, dict):
            raise ValueError('"scopes" must be an object')
        holds = []
        for scope, entry in scopes.items():
            if not isinstance(scope, str) or not scope:
                raise ValueError("a scope key must be a non-empty string")
            check_status_doc(entry, f"scopes.{scope}")
            raw = entry.get("holds")
            if not isinstance(raw, list) or not raw:
                raise ValueError(f'scopes.{scope}.holds must be a non-empty list')
            mine = [_hold_from_doc(scope, h, f"scopes.{scope}.holds[{i}]") for i, h in enumerate(raw)]
            if _merge(mine, scope).mode != entry["mode"]:
                raise ValueError(f"scopes.{scope}: mode {entry['mode']} contradicts its holds")
            holds += mine
        return LockBook(tuple(sorted(holds, key=lambda h: h.key)))

    def to_json(self) -> str:
        """The whole book (expired holds too) for the runner's state; see :meth:`from_json`."""
        return json.dumps({"format_version": LOCK_FORMAT_VERSION,
                           "holds": [{"scope": h.scope, **h.to_doc()} for h in self.holds]},
                          sort_keys=True, separators=(",", ":"))

    @staticmethod
    def from_json(text: Union[str, bytes]) -> "LockBook":
        doc = json.loads(text)
        _check_version(doc)
        if set(doc) != {"format_version", "holds"} or not isinstance(doc["holds"], list):
            raise ValueError('a lock book is {"format_version": 1, "holds": [...]}')
        holds = []
        for i, h in enumerate(doc["holds"]):
            if not isinstance(h, dict) or not isinstance(h.get("scope"), str) or not h["scope"]:
                raise ValueError(f"holds[{i}] needs a scope")
            rest = {k: v for k, v in h.items() if k != "scope"}
            holds.append(_hold_from_doc(h["scope"], rest, f"holds[{i}]"))
        return LockBook(tuple(sorted(holds, key=lambda h: h.key)))


def _combine(old: LockHold, new: LockHold) -> LockHold:
    manual = old.manual or new.manual
    expires = None if manual or old.expires_ms is None or new.expires_ms is None else \
        max(old.expires_ms, new.expires_ms)
    mode = old.mode if _RANK[old.mode] > _RANK[new.mode] else new.mode
    return replace(new, mode=mode, created_ms=min(old.created_ms, new.created_ms), expires_ms=expires,
                   manual=manual, details={**old.details, **new.details})


# --- document checks (reading is strict: anything off fails closed) -----------------------------------


def _check_version(doc: Any) -> None:
    if not isinstance(doc, dict):
        raise ValueError("the document is not a JSON object")
    v = doc.get("format_version")
    if isinstance(v, bool) or v != LOCK_FORMAT_VERSION:
        raise ValueError(f"unsupported format_version {v!r} (this reader knows {LOCK_FORMAT_VERSION})")


def _opt(doc: dict, key: str, where: str, kind: type = str) -> Any:
    """``doc[key]``: a ``kind`` (a string, or a whole number: never a bool) or None."""
    v = doc.get(key)
    if v is not None and (isinstance(v, bool) or not isinstance(v, kind)):
        raise ValueError(f"{where}.{key} must be {'a string' if kind is str else 'a whole number'} or null")
    return v


def opt_ts(doc: dict, key: str, where: str) -> Optional[int]:
    v = doc.get(key)
    if v is None:
        return None
    try:
        return parse_iso_ms(v)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"{where}.{key}: {e}") from None


def check_status_doc(doc: Any, where: str) -> LockStatus:
    if not isinstance(doc, dict):
        raise ValueError(f"{where} must be an object")
    mode = doc.get("mode")
    if mode not in _RANK:
        raise ValueError(f"{where}.mode must be one of {', '.join(MODES)}, not {mode!r}")
    locked = doc.get("locked")
    if not isinstance(locked, bool):
        raise ValueError(f"{where}.locked must be true or false")
    if locked != (mode != "active"):
        raise ValueError(f"{where}: locked={locked} contradicts mode={mode}")
    reason = doc.get("reason")
    if not isinstance(reason, str):
        raise ValueError(f"{where}.reason must be a string")
    details = doc.get("details", {})
    if not isinstance(details, dict):
        raise ValueError(f"{where}.details must be an object")
    manual = doc.get("manual", False)
    if not isinstance(manual, bool):
        raise ValueError(f"{where}.manual must be true or false")
    return LockStatus(locked, mode, _opt(doc, "scope", where), _opt(doc, "stage", where, int),
                      _opt(doc, "policy", where), reason, opt_ts(doc, "created_ts", where),
                      opt_ts(doc, "expires_ts", where), manual, dict(details))


_HOLD_KEYS = {"mode", "policy", "stage", "reason", "manual", "created_ts", "expires_ts", "details"}


def _hold_from_doc(scope: str, doc: Any, where: str) -> LockHold:
    if not isinstance(doc, dict):
        raise ValueError(f"{where} must be an object")
    if set(doc) != _HOLD_KEYS:
        raise ValueError(f"{where} must have exactly the keys {', '.join(sorted(_HOLD_KEYS))}")
    if doc["mode"] not in ("reducing", "halted"):
        raise ValueError(f"{where}.mode must be reducing or halted")
    if not isinstance(doc["reason"], str) or not isinstance(doc["manual"], bool) \
            or not isinstance(doc["details"], dict):
        raise ValueError(f"{where}: reason, manual or details has the wrong type")
    created = opt_ts(doc, "created_ts", where)
    if created is None:
        raise ValueError(f"{where}.created_ts is required")
    expires = opt_ts(doc, "expires_ts", where)
    if doc["manual"] and expires is not None:
        raise ValueError(f"{where}: a manual hold has no expiry")
    return LockHold(scope, doc["mode"], _opt(doc, "policy", where), _opt(doc, "stage", where, int),
                    doc["reason"], created, expires, doc["manual"], dict(doc["details"]))


__all__ = ["LOCK_FORMAT_VERSION", "MODES", "GLOBAL_SCOPE", "OPERATOR", "DEAD_MANS_SWITCH", "NOT_A_POLICY",
           "LockHold", "LockStatus", "LockBook", "mode_rank", "iso_ms", "parse_iso_ms",
           "check_status_doc", "opt_ts", "hold_strength"]
