"""One account's calls into its ccxt client: budget, retries, deadline, and nothing raw escaping.

What it owns
    * :class:`Op`: one public operation's deadline and the calls it made (a snapshot reports them);
    * :class:`Calls`: every ccxt call of the adapter goes through :meth:`Calls.call` — orders spend
      the order budget (cancels the cancel budget, where the venue limits them apart), reads and
      cancels are retried on *network* errors only (``backoff_s · 2^n`` capped at
      ``max_backoff_s``, no jitter, a venue's ``Retry-After`` honoured when it fits in the
      deadline), and every failure becomes a scrubbed :class:`adapters.base.AdapterError`
      (but :class:`adapters.base.SendWithheld`: an order held back by the caller's send gate
      after the order budget's wait, or the request pacer's, passes through as it is);
      :meth:`Calls.run` bounds a whole operation by ``asyncio.wait_for(timeout)``.

What it must not do
    retry an order (``retry=False``: an order that timed out may have reached the venue; the caller
    reconciles by client order id), decide what to call (the adapter and the dialects do), or
    import ccxt.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from ..base import AdapterError, Reason, SendWithheld, VenueRefusal, last_look
from .budget import OrderBudget
from .dialects.base import Call
from .errors import adapter_error, is_network, reason_for, retry_after, scrub

log = logging.getLogger(__package__)

# What ccxt raises when a venue's answer is not of the shape it parses (an object for a list, a
# field of another type): the answer is unreadable (BAD_RESPONSE), never an empty list.
UNREADABLE = (TypeError, KeyError, IndexError, AttributeError)


@dataclass
class Op:
    """Bookkeeping of one public operation: its deadline and the calls it made."""

    name: str
    deadline: float
    calls: int = 0
    failed: int = 0


class Calls:
    """The call machinery of one account's ccxt client ``client``."""

    def __init__(self, client: Any, *, venue: str, budget: OrderBudget, timeout: float, max_retries: int,
                 backoff_s: float, max_backoff_s: float, secrets: Callable[[], Iterable[str]],
                 refusal: Optional[Callable[[str], Optional[VenueRefusal]]] = None,
                 cancel_budget: Optional[OrderBudget] = None):
        self.client = client
        self.venue = venue
        self.budget = budget
        self.cancel_budget = cancel_budget  # None: cancels spend ``budget``
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self._secrets = secrets  # revealed only to scrub messages
        # the venue's refusal in a venue error's text (its dialect's reader and table)
        self._refusal = refusal or (lambda text: None)

    @property
    def cancels_budget(self) -> OrderBudget:
        """What cancels spend: a budget of their own where the venue limits them apart, else the
        order budget."""
        return self.cancel_budget or self.budget

    def error(self, exc: BaseException, what: str, reason: Optional[Reason] = None,
              retry_after_s: Optional[float] = None) -> AdapterError:
        refusal = None
        if not isinstance(exc, AdapterError) and not is_network(exc):  # the venue answered, and said no
            refusal = self._refusal(scrub(str(exc), self._secrets()))
        return adapter_error(exc, what, venue=self.venue, secrets=self._secrets(), reason=reason,
                             retry_after_s=retry_after_s, refusal=refusal)

    def op(self, name: str) -> Op:
        return Op(name, asyncio.get_running_loop().time() + self.timeout)

    def bind(self, op: Op) -> Call:
        """``call`` for a dialect: one ccxt call within ``op``."""
        return functools.partial(self.call, op)

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * (2 ** attempt))

    async def call(self, op: Op, method: str, *args: Any, retry: bool = True, order: bool = False,
                   cancel: bool = False, spend: float = 1.0, **kwargs: Any) -> Any:
        """One ccxt call: order budget (``cancel``: the cancel budget where there is one;
        ``spend``: the orders' worth it costs, a batch's more than one), retries of network
        errors (never for ``retry=False``), every failure turned into a scrubbed AdapterError."""
        fn = getattr(self.client, method, None)
        if fn is None:
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} has no {method}", venue=self.venue)
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            if order:
                await (self.cancels_budget if cancel else self.budget).acquire(spend)
                last_look(method, self.venue)  # the budget may have made it wait; the pacer looks again
            op.calls += 1
            try:
                return await fn(*args, **kwargs)
            except (asyncio.CancelledError, SendWithheld):
                raise
            except Exception as e:  # noqa: BLE001 — everything becomes a reason code
                op.failed += 1
                network = is_network(e)
                reason = reason_for(e)
                if reason is Reason.UNKNOWN and isinstance(e, UNREADABLE):
                    reason = Reason.BAD_RESPONSE  # ccxt met an answer of a shape it cannot read
                hint = retry_after(getattr(self.client, "last_response_headers", None)) \
                    if reason is Reason.RATE_LIMITED else None
                err = self.error(e, method, reason, hint)
            delay = max(self._backoff(attempt), hint or 0.0)
            if not retry or not network or attempt >= self.max_retries or loop.time() + delay >= op.deadline:
                raise err
            log.debug("%s %s: %s, retry %d in %.2fs", self.venue, method, err.reason.value, attempt + 1, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def run(self, name: str, body: Callable[[Op], Any]) -> Any:
        """Run one public operation under ``asyncio.wait_for(timeout)``."""
        op = self.op(name)
        try:
            return await asyncio.wait_for(body(op), self.timeout)
        except (AdapterError, SendWithheld):
            raise
        except (asyncio.TimeoutError, TimeoutError):
            err = AdapterError(Reason.TIMEOUT, f"{name}: no answer within {self.timeout:g}s", venue=self.venue)
        except Exception as e:  # noqa: BLE001
            err = self.error(e, name)
        raise err

    @staticmethod
    async def gather(*coros: Any) -> list:
        """Run reads together; the first failure cancels the rest and is raised as it is."""
        tasks: list[asyncio.Task] = []
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(c) for c in coros]
        except BaseExceptionGroup as eg:  # noqa: F821 — builtin in 3.11
            first = eg.exceptions[0]
            while isinstance(first, BaseExceptionGroup):  # noqa: F821
                first = first.exceptions[0]
            raise first from None
        return [t.result() for t in tasks]
