"""The real ccxt client of a venue answered by path, for the venues' tests that run ccxt's own
requests and parsing against the venue's recorded or documented bodies (Kraken spot's rig,
MEXC spot's tests).

- :class:`PathVenue`: the answers by path (``METHOD path`` first), each request kept (``sent``),
  each answer passed through ccxt's own error check of a body (``handle_errors``), as the venue's
  would be: an error inside HTTP 200 is a refusal. A venue's subclass names its defaults and what
  a request sent (``params``).
- :func:`answered_adapter`: the adapter over a client whose ``fetch`` the venue answers;
  :func:`using`: one adapter's work, closed after it.
- :func:`sale`: the engine's close of a spot holding, a market sell.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import parse_qsl, urlsplit

from adapters.ccxt_exchange import CcxtAdapter
from killswitch.orders import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import run

ENGINE_ID = "ks" + "0123456789abcdef0123456789abcd"


class PathVenue:
    """Answers ccxt's ``fetch`` from ``answers``: ``METHOD path`` or ``path`` to a body (a tuple:
    one body a call, in turn, the last kept for every call after); a request no answer names fails
    the test."""

    def __init__(self, answers: dict[str, Any]):
        self.answers = answers
        self.requests: list[tuple[str, str, dict]] = []
        self.ex: Any = None  # the client, set when the adapter builds it

    def params(self, url: str, body: Optional[str]) -> dict:
        """What a request sent: its query's parameters."""
        return dict(parse_qsl(urlsplit(url).query))

    def sent(self, path: str, method: Optional[str] = None) -> list[dict]:
        return [q for m, p, q in self.requests if p == path and method in (None, m)]

    async def fetch(self, url, method="GET", headers=None, body=None, **kw):
        path = urlsplit(url).path
        self.requests.append((method, path, self.params(url, body)))
        key = f"{method} {path}" if f"{method} {path}" in self.answers else path
        answer = self.answers.get(key)
        if answer is None:
            raise AssertionError(f"unexpected request {method} {path}")
        if isinstance(answer, tuple):
            answer, rest = answer[0], answer[1:]
            self.answers[key] = rest if rest else answer
        self.ex.handle_errors(200, "OK", url, method, {}, json.dumps(answer), answer, headers, body)  # ccxt's check
        return copy.deepcopy(answer)


def answered_adapter(venue: PathVenue, client: Callable[[dict], Any], acc: Account, **kw) -> CcxtAdapter:
    """The adapter of ``acc`` over ``client(config)`` (the venue's ccxt client, its markets set),
    whose requests ``venue`` answers."""
    def build(config: dict):
        ex = client(config)
        ex.fetch = venue.fetch
        venue.ex = ex
        return ex

    return CcxtAdapter(acc, exchange_factory=build, **kw)


def using(make: Callable[[], CcxtAdapter], work: Callable[[CcxtAdapter], Awaitable[Any]]) -> Any:
    """What ``work`` returns of an adapter ``make`` builds in the loop, closed after it."""
    async def body():
        a = make()
        try:
            return await work(a)
        finally:
            await a.close()

    return run(body())


def sale(venue: str, amount: float, price: float, cid: str, symbol: str) -> OrderIntent:
    """The engine's close of ``amount`` of ``symbol`` held on ``venue``'s spot account ``main``:
    a market sell, valued at ``price``."""
    return OrderIntent(decision_id="d1", client_order_id=cid, venue=venue, account="main", symbol=symbol,
                       side="sell", position_side=None, amount=amount, reduce_only=False, limit_price=None,
                       notional=amount * price, chunk=1, chunks=1, not_before_ms=0, action="close_all",
                       reason="test")
