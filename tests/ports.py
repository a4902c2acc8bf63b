"""A cancel as the runner sends it: through the one way out, which confirms it
(``killswitch.runner.venue.port``), for tests that hold an adapter."""

from __future__ import annotations

from adapters.base import CancelResult, CancelSelector, ExchangeAdapter
from killswitch.runner.venue.port import Venues


async def confirmed_cancel(adapter: ExchangeAdapter, selector: CancelSelector, timeout_s: float = 10.0) -> CancelResult:
    """``selector`` cancelled at ``adapter``'s venue and confirmed by the open orders listed after."""
    key = f"{adapter.venue}/{adapter.account}"
    return await Venues({key: adapter}, timeout_s=timeout_s).cancel(key, selector)
