"""Names resolved exactly: the catalog of scopes, accounts, symbols and policies a human or a bot
may type, and the resolution that refuses anything else (the catalog is built from the runner's
parts in :mod:`.venue.catalog_build`).

A kill switch that accepts a typo fails open: ``ksctl lock --scope binanceusdm/SIM-MAIN`` answered
``LOCKED`` while the real account ``binanceusdm/sim-main`` went on trading. Every place a name is
typed (the pre-trade gate, lock and unlock, reset, close; later the console) resolves it here
against a :class:`Catalog` built from what the runner actually has, and an unknown name is refused
with a reason code (``UNKNOWN_SCOPE``, ``UNKNOWN_ACCOUNT``, ``UNKNOWN_SYMBOL``, ``UNKNOWN_POLICY``)
and the closest known names as a hint.

Scope names are exact: no wildcards, no case folding, no trimming. The forms, all as the lock
file and the policies write them:

- ``global``: everything;
- a venue (``binanceusdm``) and an account (``binanceusdm/sim-main``), from the Accounts document;
- a strategy (a policy's ``scope.strategies`` or ``heartbeat_age`` source, an account's strategies
  in the Accounts document, an armed dead man's switch source, or a strategy the venue reports on
  a position or an order; a heartbeat is taken only from a source named so, so a beat never adds
  one: :mod:`.effects.beat_sources`);
- a symbol (``BTC/USDT:USDT``) that a venue lists for one of the accounts;
- a policy's scope instance (its key, one of the above).

A name that holds a lock in force stays known, so a lock can always be lifted. ``*``,
``binanceusdm/*`` and friends are refused: ``global`` is the one way to say everything.

Pure: builds values from what it is given; no I/O, no clock.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional

from ..events import scope_labels
from .lock.lock import GLOBAL_SCOPE

SCOPE_FORMS = ("global, a venue, an account (venue/account), a strategy, a symbol or a policy's scope; "
               "names are exact: no wildcards")


@dataclass(frozen=True)
class Unknown:
    """A name the runner does not know: the reason code and a message with the close matches."""

    code: str
    message: str

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


def close_matches(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Known names a person probably meant: same letters in another case first, then similar ones."""
    pool = sorted(set(known))
    folded = name.strip().casefold()
    same = [k for k in pool if k.casefold() == folded]
    similar = difflib.get_close_matches(name.strip(), pool, n=n, cutoff=0.6)
    similar += difflib.get_close_matches(folded, [k.casefold() for k in pool], n=n, cutoff=0.6)
    by_fold = {k.casefold(): k for k in pool}
    return list(dict.fromkeys(k for k in same + [by_fold.get(s, s) for s in similar] if k in pool))[:n]


def near_names(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """:func:`close_matches`, then the ``venue/account`` keys whose account part is ``name`` or
    close to it: an account typed by its name alone (``sim-main`` for ``binanceusdm/sim-main``)
    is the likeliest slip, and too short beside the whole key for a close match."""
    pool = sorted(set(known))
    near = close_matches(name, pool, n)
    near += [k for k in pool if "/" in k and k not in near
             and (k.endswith("/" + name) or close_matches(name, [k.rsplit("/", 1)[1]]))]
    return near[:n]


def near_hint(name: str, known: Iterable[str], near: Callable[[str, Iterable[str]], list[str]] = close_matches) -> str:
    """``; did you mean 'a', 'b'?``: the known names ``near`` finds close to ``name``, quoted, or
    nothing when none is close (the tail of every ``UNKNOWN_*`` refusal that names a match)."""
    found = near(name, known)
    return f"; did you mean {', '.join(repr(k) for k in found)}?" if found else ""


@dataclass(frozen=True)
class Catalog:
    """The names the runner knows now. ``symbols``: per account, the symbols its venue lists (None
    while they are not known yet: the account's markets have not been read)."""

    accounts: frozenset[str] = frozenset()
    strategies: frozenset[str] = frozenset()
    symbols: Mapping[str, Optional[frozenset[str]]] = field(default_factory=dict)
    policy_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)  # policy → its scope keys
    held: frozenset[str] = frozenset()  # scopes with a lock in force
    # account → the strategies it declares (Accounts document) or its last snapshot names
    account_strategies: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # account → its declared client order id prefixes (prefix → strategy): whose an order is
    prefixes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def venues(self) -> frozenset[str]:
        return frozenset(a.split("/", 1)[0] for a in self.accounts)

    @property
    def all_symbols(self) -> frozenset[str]:
        return frozenset[str]().union(*filter(None, self.symbols.values()))

    @property
    def policies(self) -> frozenset[str]:
        return frozenset(self.policy_scopes)

    def scopes(self) -> frozenset[str]:
        """Every scope name that resolves."""
        return frozenset({GLOBAL_SCOPE}).union(self.accounts, self.venues, self.strategies, self.all_symbols,
                                               self.held, *self.policy_scopes.values())

    def scope_kind(self, name: str) -> Optional[str]:
        """What ``name`` names (global, venue, account, strategy, symbol, policy scope, lock), or None."""
        if name == GLOBAL_SCOPE:
            return "global"
        if name in self.accounts:
            return "account"
        if name in self.venues:
            return "venue"
        if name in self.strategies:
            return "strategy"
        if name in self.all_symbols:
            return "symbol"
        if any(name in keys for keys in self.policy_scopes.values()):
            return "policy scope"
        if name in self.held:
            return "lock"
        return None

    def labels_of(self, scope: str) -> dict[str, str]:
        """The labels a page about ``scope`` carries for what it names here (a venue its
        ``venue``, an account its ``venue`` and ``account``, ...: :func:`killswitch.events.scope_labels`)."""
        return scope_labels(self.scope_kind(scope), scope)

    def resolve_scope(self, name: str) -> Optional[Unknown]:
        """None when ``name`` is a scope this runner knows; else why not, with close matches."""
        if self.scope_kind(name) is not None:
            return None
        wild = " (no wildcards: use global for everything)" if "*" in name else ""
        return Unknown("UNKNOWN_SCOPE", f"{name!r} is not a scope this runner knows{wild}"
                                        f"{near_hint(name, self.scopes(), near_names)} (a scope is {SCOPE_FORMS})")

    def resolve_account(self, name: str) -> Optional[Unknown]:
        if name in self.accounts:
            return None
        return Unknown("UNKNOWN_ACCOUNT", f"{name!r} is not an account of this runner"
                                          f"{near_hint(name, self.accounts, near_names)} (accounts are venue/account "
                                          "as in the Accounts document)")

    def resolve_policy(self, name: str) -> Optional[Unknown]:
        if name in self.policy_scopes:
            return None
        return Unknown("UNKNOWN_POLICY", f"{name!r} is not a policy this runner runs"
                                         f"{near_hint(name, self.policy_scopes, near_names)}")

    def resolve_policy_scope(self, policy: str, scope: str) -> Optional[Unknown]:
        """``policy`` must be known and ``scope`` one of its scope instances."""
        bad = self.resolve_policy(policy)
        if bad is not None:
            return bad
        keys = self.policy_scopes[policy]
        if scope in keys:
            return None
        return Unknown("UNKNOWN_SCOPE", f"{scope!r} is not a scope of policy {policy}"
                                        f"{near_hint(scope, keys, near_names)}"
                                        f"{'' if keys else ' (it has no scope instance yet)'}")

    def symbols_for(self, accounts: Iterable[str]) -> Optional[frozenset[str]]:
        """The symbols the venues of ``accounts`` list; None if any of them is not known yet. One
        account's are its own set, not a copy (the gate asks it of every order: at 10,000
        symbols a copy was most of a check's cost)."""
        accounts = list(accounts)
        if len(accounts) == 1:
            return self.symbols.get(accounts[0])
        out: set[str] = set()
        for a in accounts:
            s = self.symbols.get(a)
            if s is None:
                return None
            out |= s
        return frozenset(out)

    def accounts_of(self, scope: str) -> frozenset[str]:
        """The accounts an order named by ``scope`` may go to (all of them for a scope that is not
        a venue or an account)."""
        if scope in self.accounts:
            return frozenset([scope])
        if scope in self.venues:
            return frozenset(a for a in self.accounts if a.split("/", 1)[0] == scope)
        return self.accounts

    def strategy_accounts(self, strategy: str) -> frozenset[str]:
        """The accounts ``strategy`` trades on: those that declare it in the Accounts document,
        or whose last snapshot names it on a position or an order."""
        return frozenset(a for a, names in self.account_strategies.items() if strategy in names)


__all__ = ["Catalog", "SCOPE_FORMS", "Unknown", "close_matches", "near_names"]
