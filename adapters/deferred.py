"""An account whose adapter cannot be built yet: an unreadable credential is a failed account, not a
dead runner.

Building a venue adapter reads the account's credentials (``{env: NAME}``, ``{file: PATH}``). If
one cannot be read at start, crashing the runner would leave every other account unguarded, and a
pod restarting in a loop guards nothing either. :class:`DeferredAdapter` stands in for that
account instead: every snapshot is a failed one (``fetch.ok`` false, the reason code of the error,
``AUTH`` for a credential) — a signal the policies react to like any other unreadable account —
and every call that needs the venue (an order, a cancel, a read of the open orders or the fills)
is refused with the same error, so nothing is ever sent. Each call tries to build the adapter
again, so a mounted Secret fixed in place is picked up without a restart; from then on every such
call is the real adapter's (:class:`~.stand_in.StandIn` lists them).

:func:`unreadable_snapshot` is that failed snapshot, for previews (``ksctl plan``) too.

What it must not do: hold or print the credential (the builder's error names the reference, never
the value), or pretend an account is readable.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from killswitch.snapshot import FetchStatus, Snapshot

from .base import AdapterError, Capabilities
from .ccxt_exchange.dialects import quote_currency
from .stand_in import StandIn


def unreadable_snapshot(account: Any, error: AdapterError, now_ms: int) -> Snapshot:
    """The snapshot of an account that could not be read at all: failed, with the error's reason."""
    ic = account.initial_capital
    return Snapshot(venue=account.venue, account=account.name, market_type=account.market_type, ts_event=now_ms,
                    ts_observed=now_ms, quote_currency=quote_currency(account), labels=dict(account.labels),
                    initial_capital=None if ic is None else float(getattr(ic, "value", ic)),
                    stablecoins=list(account.stablecoins), strategies=tuple(account.strategy_names()),
                    fetch=FetchStatus(ok=False, error_code=error.reason.value, error=error.message))


class DeferredAdapter(StandIn):
    """Builds its adapter with ``make()`` on first use, and again on every call while that fails."""

    def __init__(self, account: Any, make: Callable[[], Any], error: AdapterError,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)):
        self.venue: str = account.venue
        self.account: str = account.name
        self.labels: dict[str, str] = dict(account.labels)  # as declared: before the adapter is built too
        self._spec = account
        self._make = make
        self._clock_ms = clock_ms
        self.error = error  # why the adapter could not be built (the last time it was tried)
        self._inner: Optional[Any] = None

    def _ready(self) -> Optional[Any]:
        if self._inner is None:
            try:
                self._inner = self._make()
            except AdapterError as e:
                self.error = e
        return self._inner

    def _require(self) -> Any:
        inner = self._ready()
        if inner is None:
            raise self.error
        return inner

    @property
    def capabilities(self) -> Capabilities:
        inner = self._inner
        return inner.capabilities if inner is not None else Capabilities()

    @property
    def trading_keys(self) -> tuple[str, ...]:
        inner = self._inner
        return tuple(inner.trading_keys) if inner is not None else ()

    async def snapshot(self) -> Snapshot:
        inner = self._ready()
        if inner is None:
            return unreadable_snapshot(self._spec, self.error, self._clock_ms())
        return await inner.snapshot()

    def symbols(self) -> Optional[frozenset[str]]:
        return self._inner.symbols() if self._inner is not None else None

    def strategy_names(self) -> frozenset[str]:
        names = getattr(self._spec, "strategy_names", None)
        return frozenset(names() if callable(names) else getattr(self._spec, "strategies", None) or ())

    def client_id_prefixes(self) -> dict[str, str]:
        prefixes = getattr(self._spec, "client_id_prefixes", None)
        return dict(prefixes()) if callable(prefixes) else {s: s for s in self.strategy_names()}

    async def hand_on(self, method: str, *args: Any) -> Any:
        """A call that needs the venue: the built adapter's, else the error it could not be built with."""
        return await getattr(self._require(), method)(*args)

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


__all__ = ["DeferredAdapter", "unreadable_snapshot"]
