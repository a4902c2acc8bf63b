"""The ccxt adapter's side of the venue's switch of the bots' trading permission.

What it owns
    :class:`MasterSwitch`: a ccxt client of its own, signed with the account's master credential
    (``revoke.master_credentials``; built at the first use, so that an unreadable master
    credential fails the revoke with ``AUTH`` and never the account's snapshots), and the two
    operations of :class:`adapters.base.ExchangeAdapter`'s ``set_trading`` and ``read_trading``
    over the dialect's switch (its shape :mod:`.dialects.switches`; each venue's in its folder,
    ``adapters/venues/<venue>/switches.py``):

    * ``set_trading(allowed)``: every listed key in turn (or the sub-account once, for a freeze),
      paced at the switch's rate, each change fenced by the caller's send gate
      (:func:`adapters.base.last_look`) and retried on network errors only (a change is
      idempotent at the venue: revoking a revoked key is success); then, where the venue offers
      a read, the state read back, which rules over the change's answer;
    * ``read_trading()``: the venue's read, every key ``unknown`` with ``readable`` False where
      it offers none.

    Each key's outcome is kept apart: a state only as the venue said it, a refusal with the
    venue's own code and message (read from its error body by the switch), a failure (no answer,
    an answer it cannot read) with its reason code. Before anything is sent it refuses, locally,
    a list that names the runner's own key (``REVOKE_OWN_KEY``): its closes would be refused too.

What it must not do
    know a venue (the dialect's switch does), send with the account's own credential, print a
    secret (every message is scrubbed of the master credential), or report a state the venue
    did not give.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any, Optional

from ..base import (
    UNKNOWN_STATE,
    AdapterError,
    PermissionResult,
    Reason,
    Refusal,
)
from ..credentials import Secret
from .budget import OrderBudget
from .calls import Calls, Op
from .client import Factory, Urls, client_config, configure_client, create_client
from .dialects import Dialect
from .dialects.switches import PermissionSwitch, Target

log = logging.getLogger(__package__)

# reason codes of the venue's refusals kept as they are; any other refusal is REVOKE_REFUSED
_KEPT = (Reason.AUTH, Reason.RATE_LIMITED)
# reason codes that mean no answer (or none we can read): the outcome is unknown, not refused
_NO_ANSWER = (Reason.TIMEOUT, Reason.EXCHANGE_UNAVAILABLE, Reason.BAD_RESPONSE, Reason.LIST_INCOMPLETE)


class MasterSwitch:
    """One account's switch of its bots' keys, with the account's master credential."""

    def __init__(self, account: Any, dialect: Dialect, *, timeout: float, urls: Urls, factory: Factory,
                 own_key: Optional[str], max_retries: int = 2, backoff_s: float = 0.25, max_backoff_s: float = 2.0,
                 ccxt_rate_limit: bool = True):
        self.venue: str = account.venue
        self.spec = getattr(account, "revoke", None)
        self.switch: Optional[PermissionSwitch] = None
        if self.spec is not None:
            self.switch = dialect.permission_switches().get(self.spec.method)
        self._account = account
        self._dialect = dialect
        self._timeout = float(timeout)
        self._urls = urls
        self._factory = factory
        self._own_key = own_key
        self._retry = (max_retries, backoff_s, max_backoff_s)
        self._rate_limit = ccxt_rate_limit
        self._calls: Optional[Calls] = None
        self._secrets: list[Secret] = []
        self._lock = asyncio.Lock()  # one request at a time: the venue's error body is read after it

    @property
    def supported(self) -> bool:
        """The venue has the switch and the account declares it (its ``revoke:`` block)."""
        return self.switch is not None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.spec.api_keys) if self.spec is not None else ()

    def _require(self) -> PermissionSwitch:
        if self.switch is None:
            why = "the account has no revoke: block" if self.spec is None else \
                f'{self.venue} has no "{self.spec.method}" switch of its keys\' trading permission'
            raise AdapterError(Reason.REVOKE_UNSUPPORTED, f"{self._account.name}: {why}", venue=self.venue)
        return self.switch

    def _client(self, switch: PermissionSwitch) -> Calls:
        """The master client, built on first use (AUTH for an unreadable master credential)."""
        if self._calls is None:
            assert self.spec is not None
            master = SimpleNamespace(credentials=self.spec.master_credentials)
            config, self._secrets = client_config(master, self._dialect, timeout=self._timeout,
                                                  rate_limit=self._rate_limit)
            config["enableLastJsonResponse"] = True  # the venue's error body: its code and message
            secrets = [s.reveal() for s in self._secrets]
            ex = create_client(self._factory, config, venue=self.venue, secrets=secrets)
            configure_client(ex, self._dialect, market_type=self._account.market_type,
                             sandbox=getattr(self._account, "sandbox", False), urls=self._urls, secrets=secrets)
            retries, backoff, max_backoff = self._retry
            self._calls = Calls(ex, venue=self.venue, budget=OrderBudget(switch.rate, burst=1.0),
                                timeout=self._timeout, max_retries=retries, backoff_s=backoff,
                                max_backoff_s=max_backoff, secrets=lambda: [s.reveal() for s in self._secrets])
        return self._calls

    def _target(self) -> Target:
        assert self.spec is not None
        return Target(sub_account=self.spec.sub_account, market_type=self._account.market_type)

    # --- the operations -------------------------------------------------------------------------

    async def set_trading(self, allowed: bool) -> PermissionResult:
        switch = self._require()
        if self._own_key is not None and self._own_key in self.keys:
            raise AdapterError(Reason.REVOKE_OWN_KEY, f"{self._account.name}: revoke.api_keys lists the key the "
                               "runner itself trades with: its closes would be refused too; give the runner a "
                               "key of its own", venue=self.venue)
        async with self._lock:
            calls = self._client(switch)
            target = self._target()
            states: dict[str, str] = {k: UNKNOWN_STATE for k in self.keys}
            refusals: dict[str, Refusal] = {}
            failures: dict[str, tuple[Reason, str]] = {}
            for key in (self.keys if switch.per_key else (None,)):
                who = key if key is not None else f"sub-account {target.sub_account}"
                try:
                    state = await self._run(calls, f"{'restore' if allowed else 'revoke'} {who}",
                                            lambda op, k=key: switch.set(self._changing(calls, op), target, k, allowed))
                except AdapterError as e:
                    self._outcome(calls, e, [key] if key is not None else list(self.keys), refusals, failures)
                    continue
                for k in ([key] if key is not None else self.keys):
                    states[k] = state
            if switch.readable:
                read, read_refusals, read_failures = await self._read(switch, calls, target)
                for k, s in read.items():  # the read rules over the change's answer
                    if s != UNKNOWN_STATE or states[k] == UNKNOWN_STATE:
                        states[k] = s
                for k, r in read_refusals.items():
                    refusals.setdefault(k, r)
                for k, f in read_failures.items():
                    if k not in refusals:
                        failures.setdefault(k, f)
        result = PermissionResult(states=states, refusals=refusals, failures=failures, readable=switch.readable,
                                  method=switch.method)
        log.info("%s/%s %s: %s", self.venue, self._account.name, "restore" if allowed else "revoke",
                 result.describe())
        return result

    async def read_trading(self) -> PermissionResult:
        switch = self._require()
        if not switch.readable:
            return PermissionResult(states={k: UNKNOWN_STATE for k in self.keys}, readable=False,
                                    method=switch.method)
        async with self._lock:
            calls = self._client(switch)
            states, refusals, failures = await self._read(switch, calls, self._target())
        return PermissionResult(states=states, refusals=refusals, failures=failures, method=switch.method)

    async def _read(self, switch: PermissionSwitch, calls: Calls, target: Target
                    ) -> tuple[dict[str, str], dict[str, Refusal], dict[str, tuple[Reason, str]]]:
        refusals: dict[str, Refusal] = {}
        failures: dict[str, tuple[Reason, str]] = {}
        try:
            states = await self._run(calls, "read trading permission",
                                     lambda op: switch.read(calls.bind(op), target, self.keys))
        except AdapterError as e:
            self._outcome(calls, e, list(self.keys), refusals, failures)
            states = {}
        return {k: states.get(k, UNKNOWN_STATE) for k in self.keys}, refusals, failures

    # --- plumbing ---------------------------------------------------------------------------------

    @staticmethod
    def _changing(calls: Calls, op: Op) -> Any:
        """``call`` for a switch's change: a read goes as it is; a POST (the change) is paced at
        the switch's rate and asks the send gate last (``order=True``)."""

        async def call(method: str, *args: Any) -> Any:
            change = method.startswith("privatePost") or (method == "request" and len(args) > 2 and args[2] == "POST")
            return await calls.call(op, method, *args, order=change)

        return call

    async def _run(self, calls: Calls, name: str, body: Any) -> Any:
        client = calls.client
        if hasattr(client, "last_json_response"):
            client.last_json_response = None  # so that a body read after a failure is this request's
        return await calls.run(name, body)

    def _outcome(self, calls: Calls, e: AdapterError, keys: list[str], refusals: dict[str, Refusal],
                 failures: dict[str, tuple[Reason, str]]) -> None:
        """A failed request of ``keys``: the venue's refusal where its body says one, else a failure."""
        assert self.switch is not None
        said = self.switch.refusal(getattr(calls.client, "last_json_response", None))
        if said is not None and e.reason not in (Reason.TIMEOUT, Reason.EXCHANGE_UNAVAILABLE):
            kept: Reason = e.reason if e.reason in _KEPT else Reason.REVOKE_REFUSED
            for k in keys:
                refusals[k] = Refusal(said[0], said[1], kept)
            return
        reason: Reason = e.reason if e.reason in _NO_ANSWER or e.reason in _KEPT or e.reason is Reason.REVOKE_REFUSED \
            else Reason.REVOKE_REFUSED
        for k in keys:
            failures[k] = (reason, e.message)

    async def close(self) -> None:
        if self._calls is None:
            return
        closer = getattr(self._calls.client, "close", None)
        if closer is None:
            return
        try:
            await asyncio.wait_for(closer(), self._timeout)
        except Exception as e:  # noqa: BLE001
            log.debug("%s master client close: %s", self.venue, type(e).__name__)


__all__ = ["MasterSwitch"]
