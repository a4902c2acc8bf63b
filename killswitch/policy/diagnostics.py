"""Diagnostics: the one shape every policy problem takes.

Owns the catalogue of diagnostic codes (``KSnnn``), the :class:`Diagnostic` value, and the
did-you-mean helper. It formats nothing for a terminal: renderers in :mod:`killswitch.render`
do that. A diagnostic never carries a secret: messages are built from keys, names and
positions, never from the value of a credential or a notification URL.

Codes are stable: tests, CI logs and runbooks grep for them. Add new ones at the end of
their block; never renumber.
"""

from __future__ import annotations

from dataclasses import field
from enum import Enum
from typing import Any, Iterable

from ..records import field_order, record


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@record
class Code:
    """A diagnostic code (``KS104``), its severity and its title, as the codes page lists them."""

    code: str
    title: str
    severity: Severity = Severity.ERROR


# --- KS0xx: reading files and YAML ------------------------------------------------------
KS001 = Code("KS001", "file cannot be read")
KS002 = Code("KS002", "YAML syntax error")
KS003 = Code("KS003", "duplicate key")
KS004 = Code("KS004", "document is not a mapping")
KS005 = Code("KS005", "missing or unknown apiVersion")
KS006 = Code("KS006", "missing or unknown kind")
KS007 = Code("KS007", "no documents found")  # an error: a CI job pointed at the wrong place must fail
KS008 = Code("KS008", "YAML anchors, aliases and tags are not allowed")
# the loader's bound on nesting (killswitch.policy.yamlbounds.MAX_DEPTH); the file is not read further
KS009 = Code("KS009", "YAML nested too deeply")
# over the size limit (killswitch.sources.MAX_FILE_BYTES, or --max-file-size): refused unread
KS010 = Code("KS010", "file too large")

# --- KS1xx: document structure and values -----------------------------------------------
KS101 = Code("KS101", "unknown key")
KS102 = Code("KS102", "missing required key")
KS103 = Code("KS103", "invalid value")
# a reference that resolves to nothing, with did-you-mean (an interval name, a runbook template too)
KS104 = Code("KS104", "unknown reference")
# two things with one name (policies, stages, receivers, groups, accounts)
KS105 = Code("KS105", "duplicate name")
KS110 = Code("KS110", "invalid duration")
KS111 = Code("KS111", "invalid percentage")
KS112 = Code("KS112", "invalid amount")
KS113 = Code("KS113", "invalid confirmation count")
# a label pattern RE2 refuses (killswitch.policy.patterns): at the character it is about
KS114 = Code("KS114", "invalid label pattern")
KS120 = Code("KS120", "condition syntax error")
KS121 = Code("KS121", "condition type error")
KS122 = Code("KS122", "condition reads an unknown signal")
# past the parser's bounds (killswitch.policy.expr.MAX_LENGTH, MAX_DEPTH, MAX_OPERANDS): a trigger's
# when: or a position condition's where:, at the character that crosses one
KS123 = Code("KS123", "condition too long or nested too deeply")
# a condition's arithmetic (killswitch.policy.expr.check): units that do not combine (a ratio plus a
# duration, a ratio² compared with a ratio), a division by a constant 0, a function that does not
# exist, a function given too few or too many values
KS124 = Code("KS124", "condition units do not combine")
KS125 = Code("KS125", "condition divides by zero")
KS126 = Code("KS126", "condition calls an unknown function")
KS127 = Code("KS127", "condition calls a function with the wrong number of values")
KS130 = Code("KS130", "reference cannot be checked", Severity.WARNING)
# a route that can carry critical pages with mute_time_intervals or active_time_intervals (a time
# zone the zone database lacks is KS103, looked up through the compiler's zone_known)
KS131 = Code("KS131", "time intervals can silence critical pages", Severity.WARNING)
KS140 = Code("KS140", "invalid input series")
# runbook templates (checked by ``ksctl validate`` against the runbooks/ directory; an unknown
# template name is KS104)
KS150 = Code("KS150", "runbook template syntax error")
# KS151: on a sample incident of the stage it serves (an undefined variable, an attribute the sandbox
# refuses, a type error); KS152: named without a runbooks/ directory to check it in
KS151 = Code("KS151", "runbook template fails on a sample incident")
KS152 = Code("KS152", "runbook template cannot be checked", Severity.WARNING)
# a line of a route's or an inhibit rule's matchers: (Alertmanager's text), at the matcher at fault
KS160 = Code("KS160", "invalid label matcher")

# --- KS2xx: static safety checks of the compiler ----------------------------------------
KS201 = Code("KS201", "duplicate stage level")
KS202 = Code("KS202", "stages out of order")
# a reset_after on it, or an automatically resetting stage above it whose reset would drop the latch
KS203 = Code("KS203", "manual-reset stage can be left without a reset")
# no trigger declared, or every trigger of it also reaches a higher stage (the highest triggered wins)
KS204 = Code("KS204", "stage is unreachable")
KS205 = Code("KS205", "unused trigger", Severity.WARNING)
# KS206 (two policies claiming one scope with different stages at one level) is retired: each
# policy keeps its own stage machines, so policies selecting the same accounts never conflict
KS207 = Code("KS207", "higher stage fires before a lower one", Severity.WARNING)
KS208 = Code("KS208", "trigger without a missing-data rule")
KS209 = Code("KS209", "literal secret in a document")
KS210 = Code("KS210", "dry_run is not the boolean false", Severity.WARNING)
KS211 = Code("KS211", "unused signal", Severity.WARNING)
# a threshold a signal can never reach, or always exceeds
KS212 = Code("KS212", "threshold out of range")
KS213 = Code("KS213", "approvals need a manual reset")
KS214 = Code("KS214", "no stage has actions", Severity.WARNING)
KS215 = Code("KS215", "duplicate correlation-group member")
KS216 = Code("KS216", "risk-score weights do not sum to 1")
# a sample or horizon shorter than the interval: the signal would never have enough returns
KS217 = Code("KS217", "returns sampled more often than the policy ticks")
# a scope selector (venues, account names, match_labels) that selects no account the Accounts
# documents declare; allow_empty: true in the scope opts out; checked only against accounts known whole
KS218 = Code("KS218", "scope selects no declared account")
# a hold trigger reading a windowed signal that has no value for longer after a deployment than
# the policy's interval times the trigger's confirmations (the trigger cannot fire meanwhile)
KS219 = Code("KS219", "trigger blind after a deployment", Severity.WARNING)
# an account's settle_coins entry its venue does not read: a coin it does not settle in, or any
# on a venue that lists every settle coin at once (or a spot account)
KS220 = Code("KS220", "settle coin the venue does not read")
# an account's venue that is no exchange id of the locked ccxt (a typo the runner would refuse
# only when it builds the account's adapter)
KS221 = Code("KS221", "unknown venue")
# an account's venue (a ccxt id) without a dialect of the adapter's own: served by ccxt's unified
# calls, whose pages, settle-coin splits and conditional-order lists are not read (the runner
# serves it and says VENUE_GENERIC at start; a warning, as there)
KS222 = Code("KS222", "venue without a dialect", Severity.WARNING)
# an account's credentials of a kind its venue does not sign with (an API key on a wallet-signed
# venue, a wallet on a venue of API keys), or without the password or uid the venue requires
KS223 = Code("KS223", "credentials the venue does not sign with")
# an account that says its venue paces requests itself (paced_by_venue) without the api_url of the
# venue that does (a simulator, a gateway enforcing the limits): the public venue's limits would be
# left to nobody, and a venue bans a client that exceeds them
KS224 = Code("KS224", "paced_by_venue without an api_url")
# an account's rate_tier its venue does not declare: a tier not among its dialect's (a typo), or
# any on a venue whose limits are the same for every account
KS225 = Code("KS225", "rate tier the venue does not declare")
# an account on a venue with rate tiers that names none: paced at the lowest (fail closed; the
# runner says RATE_TIER_ASSUMED at start; a warning, as there)
KS226 = Code("KS226", "no rate tier: paced at the venue's lowest", Severity.WARNING)
# the accounts one runner polls need more of a venue's per-IP REST weight a minute than the venue
# allows at the interval the policies tick at (or an endpoint faster than its per-UID limit)
KS230 = Code("KS230", "polling exceeds the venue's REST weight budget")
# ... or more than 80 % of it: little is left for orders, retries and other clients of the IP
KS231 = Code("KS231", "polling near the venue's REST weight budget", Severity.WARNING)
# an account whose venue (or market type there) declares no snapshot cost or limit: its polling is
# not counted against any budget, which is said rather than taken for free
KS232 = Code("KS232", "REST weight not counted", Severity.WARNING)
# more streamed accounts than one runner holds on two cores within its goals (bench/firm.py): shard them
KS233 = Code("KS233", "more accounts than one runner holds", Severity.WARNING)
# an account that two shards' selectors select (spec.shards of the Accounts document): two runners
# would guard it, and act on it, each with its own lease
KS240 = Code("KS240", "account in two shards")
# an account that no shard's selector selects: no runner would guard it
KS241 = Code("KS241", "account in no shard")
# two shards with one name: one lease, one schema, for two sets of accounts
KS242 = Code("KS242", "duplicate shard name")
# a firm-wide policy (its scope spans shards) that reads a signal or takes an action the firm
# lease holder cannot: it has each account's published facts (equity, data age), not its books
KS243 = Code("KS243", "firm-wide policy needs what facts do not carry")
# a firm-wide policy whose interval is under the firm's floor (1 s): the firm lease holder reads
# a shard's facts for 1.5 intervals, which leaves a shard too little margin over its interval for
# its tick's reads and writes; the policy would be blind whenever a tick is slow
KS244 = Code("KS244", "firm-wide policy interval under the firm's floor")
# a stage that revokes the bots' trading permission at the venue (revoke_trading) but resets by
# itself: the permission comes back only through the stage's reset, which it would never ask for
KS250 = Code("KS250", "revoke_trading on a stage that resets by itself")
# an account's revoke: block its venue cannot serve: a venue without an endpoint that removes its
# keys' trading permission, or a method (permissions, freeze) the venue has not
KS260 = Code("KS260", "revoke block the venue cannot serve")
# a revoke_trading action whose scope selects an account it cannot reach (a venue without the
# switch, or an account without a revoke: block): the revoke would be skipped at the venue
KS261 = Code("KS261", "revoke_trading on an account without the venue's switch")
# an arm_exchange_dms action whose scope selects an account whose venue keeps no countdown (MEXC's
# contract API, Bitget's classic account, a venue without a dialect): it arms nothing there
KS262 = Code("KS262", "arm_exchange_dms on an account without a venue countdown", Severity.WARNING)

# pre-trade limits (spec.limits, killswitch.policy.limits)
KS265 = Code("KS265", "limit unit does not fit")
KS266 = Code("KS266", "limit out of range")
# said where the venues' symbol lists are known (ksctl plan over live accounts)
KS267 = Code("KS267", "limit on a symbol the venue does not list")
# trading windows (spec.time_intervals named by a lock, a stage or the limits: during / outside):
# both given, an empty list, a lock_trading with neither
KS270 = Code("KS270", "trading window written wrong")
# a client order id prefix two strategies of one account claim (spec.accounts[].strategies): an
# order's strategy would be either, and a lock violation's page could name the wrong bot
KS249 = Code("KS249", "client id prefix claimed by two strategies")

# --- KS9xx: internal ----------------------------------------------------------------------
KS900 = Code("KS900", "internal error")

CODES: dict[str, Code] = {c.code: c for c in list(globals().values()) if isinstance(c, Code)}


@record
class Position:
    """1-based line and column in a source file."""

    line: int
    col: int
    __lt__, __le__, __gt__, __ge__ = field_order("line", "col")  # order=True's, made without exec


@record
class Diagnostic:
    """One finding in a policy file: where, which code, what is wrong and what to do."""

    file: str
    pos: Position | None
    code: str
    message: str
    hint: str | None = None
    severity: Severity = field(default=Severity.ERROR)

    @classmethod
    def make(
        cls, code: Code, file: str, pos: Position | None, message: str, hint: str | None = None
    ) -> "Diagnostic":
        return cls(file=file, pos=pos, code=code.code, message=message, hint=hint, severity=code.severity)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        p = self.pos or Position(0, 0)
        return (self.file, p.line, p.col, self.code, self.message)

    def location(self) -> str:
        if self.pos is None:
            return self.file
        return f"{self.file}:{self.pos.line}:{self.pos.col}"

    def to_dict(self) -> dict[str, Any]:

        return {
            "file": self.file,
            "line": self.pos.line if self.pos else None,
            "col": self.pos.col if self.pos else None,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelled ``word``, or None when nothing is close."""
    import difflib  # (only for a finding: a clean run has no use for it)

    cands = sorted(set(candidates))
    match = difflib.get_close_matches(word, cands, n=1, cutoff=0.6)
    if match:
        return match[0]
    lowered = {c.lower(): c for c in cands}
    return lowered.get(word.lower())


def suggestion_hint(word: str, candidates: Iterable[str], what: str) -> str:
    """A hint line: the closest candidate if any, else the list of what is allowed."""
    cands = sorted(set(candidates))
    best = did_you_mean(word, cands)
    if best is not None:
        return f'did you mean "{best}"? {what}'
    if not cands:
        return f"nothing is declared: {what}"
    shown = ", ".join(cands[:12]) + (", ..." if len(cands) > 12 else "")
    return f"expected one of: {shown}; {what}"
