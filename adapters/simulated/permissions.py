"""The simulated venue's API keys beyond each account's own, their trading permission, and the
master credential that may change it.

What it owns
    * the keys of an account beside its spec's (:meth:`SimPermissions.add_key`: a runner's key
      apart from the bots', a second bot), each with its secret and passphrase, found by
      :meth:`~.engine.SimExchange.account_for_key` and checked by every face as the account's own;
    * each key's trading permission: spot and futures flags (Binance's ``canTrade`` and
      ``canFuturesTrade``; Bybit's ``readOnly`` and OKX's ``perm`` set both), its bound IPs (Bybit
      keeps them per key, and a change without ``ips`` unbinds them, as Bybit documents), and
      each account's frozen state (Bybit's frozen sub-member);
    * the master credentials (:meth:`SimPermissions.add_master`) that may change the keys of
      every account, each account known by its aliases (Binance: an email; Bybit: a uid; OKX:
      a sub-account name; :meth:`SimPermissions.name_sub`) and by its name;
    * :meth:`SimPermissions.may_trade`: what every face's order endpoints ask of the key that
      signed a request — a revoked key or a frozen account is refused, new orders and cancels
      alike, as the venues refuse every endpoint that needs the trade permission;
    * the fault hook of the switch (:meth:`SimPermissions.refuse`): the next revokes, restores or
      reads are refused with the venue's code and message a test gives. Latency, a request that
      never answers (TIMEOUT) and status faults come from the engine's :class:`~.faults.FaultPlan`, keyed
      on ``revoke_trading``, ``restore_trading``, ``read_trading`` or the endpoint.

What it must not do
    know HTTP or a venue's envelope (the faces do: :mod:`.faces.master` and each venue's
    ``face.master``), read the clock, or hold secrets beyond the test keys it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Protocol


class _Engine(Protocol):
    """What the keys need of the engine (:class:`.engine.SimExchange`, which holds them): its
    accounts (each with its spec's key, secret and passphrase) and its lookup of a key."""

    @property
    def accounts(self) -> Mapping[str, Any]: ...

    def account_for_key(self, api_key: str) -> Optional[str]: ...

# the operations of the switch, as fault plans and refusal hooks name them
REVOKE, RESTORE, READ = "revoke_trading", "restore_trading", "read_trading"

# every face's operations that need the trade permission
TRADE_OPS = frozenset({"place_order", "place_algo_order", "cancel_order", "cancel_all", "cancel_algo_order",
                       "cancel_all_algo", "amend_order", "countdown", "set_leverage", "set_position_mode"})


@dataclass
class SimKey:
    api_key: str
    account: str
    secret: str
    passphrase: str = "sim-passphrase"
    spot: bool = True  # Binance canTrade
    futures: bool = True  # Binance canFuturesTrade
    ips: tuple[str, ...] = ("*",)
    label: str = "sim"


@dataclass
class _Refusal:
    code: str
    message: str
    ops: frozenset[str]
    left: Optional[int]  # None: every time


@dataclass
class SimPermissions:
    """The keys and the switch of one :class:`~.engine.SimExchange` (``engine.permissions``)."""

    engine: _Engine
    extra: dict[str, SimKey] = field(default_factory=dict)  # api key → a key beside the account's own
    state: dict[str, SimKey] = field(default_factory=dict)  # the accounts' own keys' permissions, made on first use
    masters: dict[str, tuple[str, str]] = field(default_factory=dict)  # api key → (secret, passphrase)
    aliases: dict[str, str] = field(default_factory=dict)  # sub-account alias → account
    frozen: set[str] = field(default_factory=set)  # frozen accounts
    refusals: list[_Refusal] = field(default_factory=list)
    changes: list[tuple[str, str, bool]] = field(default_factory=list)  # (op, key or account, allowed) applied
    # (method, path, parameters but the signature) of every signed master request (contract tests)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)

    # --- set up (tests, the demo) ------------------------------------------------------------

    def add_key(self, account: str, api_key: str, secret: str, passphrase: str = "sim-passphrase") -> None:
        """A key of ``account`` beside its own (the engine's spec key)."""
        if account not in self.engine.accounts:
            raise ValueError(f"engine has no account {account!r}")
        if self.engine.account_for_key(api_key) is not None or api_key in self.masters:
            raise ValueError(f"key {api_key!r} is taken")
        self.extra[api_key] = SimKey(api_key, account, secret, passphrase)

    def add_master(self, api_key: str, secret: str, passphrase: str = "sim-passphrase") -> None:
        """A master credential that may change the keys of every account."""
        if self.engine.account_for_key(api_key) is not None:
            raise ValueError(f"key {api_key!r} is an account's")
        self.masters[api_key] = (secret, passphrase)

    def name_sub(self, account: str, *aliases: str) -> None:
        """Other names of ``account`` as a sub-account (an email, a uid, a sub-account name)."""
        if account not in self.engine.accounts:
            raise ValueError(f"engine has no account {account!r}")
        for a in aliases:
            self.aliases[a] = account

    def refuse(self, code: str, message: str, *, ops: tuple[str, ...] = (REVOKE, RESTORE),
               times: Optional[int] = None) -> None:
        """The next ``times`` (None: every) requests of ``ops`` refused with the venue's ``code``
        and ``message``, nothing changed."""
        self.refusals.append(_Refusal(str(code), message, frozenset(ops), times))

    # --- lookups ------------------------------------------------------------------------------

    def account_of(self, api_key: str) -> Optional[str]:
        k = self.extra.get(api_key)
        return k.account if k is not None else None

    def key(self, api_key: str) -> Optional[SimKey]:
        """A key of an account (its own or one beside it), None for another."""
        k = self.extra.get(api_key) or self.state.get(api_key)
        if k is not None:
            return k
        account = self.engine.account_for_key(api_key)
        if account is None:
            return None
        spec = self.engine.accounts[account].spec
        k = self.state[api_key] = SimKey(api_key, account, spec.secret, spec.passphrase)
        return k

    def credentials(self, api_key: str) -> Optional[tuple[str, str]]:
        """(secret, passphrase) of an account's key or a master's."""
        if api_key in self.masters:
            return self.masters[api_key]
        k = self.key(api_key)
        return (k.secret, k.passphrase) if k is not None else None

    def sub_account(self, name: str) -> Optional[str]:
        """The account a sub-account identifier names (an alias, or the account's own name)."""
        if name in self.aliases:
            return self.aliases[name]
        return name if name in self.engine.accounts else None

    def keys_of(self, account: str) -> list[SimKey]:
        own = self.key(self.engine.accounts[account].spec.api_key)
        return [k for k in ([own] if own is not None else [])] + [k for k in self.extra.values()
                                                                   if k.account == account]

    def may_trade(self, api_key: str, futures: bool = True) -> bool:
        """Whether the key that signed a request may trade (its flag, its account not frozen)."""
        k = self.key(api_key)
        if k is None:
            return True  # not an account's key: the face's authentication answers it
        if k.account in self.frozen:
            return False
        return k.futures if futures else k.spot

    # --- the switch ---------------------------------------------------------------------------

    def refusal(self, op: str) -> Optional[tuple[str, str]]:
        """The refusal a test planned for ``op`` (spent once), None when none."""
        for r in self.refusals:
            if op in r.ops and (r.left is None or r.left > 0):
                if r.left is not None:
                    r.left -= 1
                return r.code, r.message
        return None

    def set_flags(self, k: SimKey, *, spot: Optional[bool] = None, futures: Optional[bool] = None) -> None:
        if spot is not None:
            k.spot = spot
        if futures is not None:
            k.futures = futures
        allowed = bool((spot if spot is not None else False) or (futures if futures is not None else False))
        self.changes.append((RESTORE if allowed else REVOKE, k.api_key, allowed))

    def set_frozen(self, account: str, frozen: bool) -> None:
        (self.frozen.add if frozen else self.frozen.discard)(account)
        self.changes.append((REVOKE if frozen else RESTORE, account, not frozen))

    # --- the in-process adapter's switch (no venue envelope) ------------------------------------------

    def switch(self, keys: tuple[str, ...], allowed: bool) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Every key of ``keys`` allowed or revoked: each key's state and each refusal (a planned
        one for them all, nothing changed; a key the venue does not know)."""
        planned = self.refusal(RESTORE if allowed else REVOKE)
        if planned is not None:
            return self.read(keys), {k: planned for k in keys}
        states: dict[str, str] = {}
        refused: dict[str, tuple[str, str]] = {}
        for api_key in keys:
            k = self.key(api_key)
            if k is None:
                states[api_key] = "unknown"
                refused[api_key] = ("-2015", "Invalid API-key, IP, or permissions for action.")
                continue
            self.set_flags(k, spot=allowed, futures=allowed)
            states[api_key] = "allowed" if allowed else "revoked"
        return states, refused

    def read(self, keys: tuple[str, ...]) -> dict[str, str]:
        """Each key's state as the venue holds it (``unknown`` for a key it does not know)."""
        return {api_key: "unknown" if self.key(api_key) is None else "allowed" if self.may_trade(api_key) else "revoked"
                for api_key in keys}


__all__ = ["READ", "RESTORE", "REVOKE", "TRADE_OPS", "SimKey", "SimPermissions"]
