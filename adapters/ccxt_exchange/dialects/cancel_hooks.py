"""What a dialect says of its venue's cancels: the endpoint each kind of order is cancelled
through, the call that cancels a whole symbol, a batch's size and request, and how the venue's
answer to a cancel reads, order by order (:class:`CancelAnswer`).

What it owns: :class:`CancelHooks`, the base of :class:`~.base.Dialect` that holds the cancel
hooks with their generic defaults (ccxt's unified ``cancel_order`` and ``cancel_all_orders``,
an answer that did not raise read as the venue's word for what was asked), and
:class:`CancelAnswer`, what one answer said.

What it must not do: import ccxt, or read a venue's answer (each venue's module does); count an
order done that the answer does not name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, NamedTuple, Sequence

from ...base import VenueRefusal
from .refusals import Rule, mapped

# ``call(method, *args)``: one call of the account's ccxt client, through the adapter's budget,
# retries and deadline.
Call = Callable[..., Awaitable[Any]]


class CancelAnswer(NamedTuple):
    """What a venue's answer to a cancel said, order by order (:meth:`CancelHooks.cancel_answer`).

    ``done``: the ids it names as cancelled; ``refused``: the ids it refused, each with its own
    code and words (mapped by the venue's refusal table: an order already filled or gone reads
    ``ORDER_NOT_FOUND``); ``whole``: an answer that names no order but says every order of the
    request went (Binance's ``DELETE /fapi/v1/allOpenOrders``: code 200, "done"), which only the
    open orders listed after it confirm. An id of ``sent`` in neither set, without ``whole``, is
    unconfirmed: a cap, a race, or an answer cut short; the list read after it decides."""

    done: frozenset[str]
    refused: Mapping[str, VenueRefusal] = {}
    whole: bool = False


class CancelHooks:
    """A dialect's cancels: ccxt's unified forms by default; a venue overrides what differs."""

    if TYPE_CHECKING:  # the dialect's own fields (:class:`~.base.Dialect`)
        id: str
        refusal_rules: tuple[Rule, ...]

    def cancel_params(self, kind: str) -> Mapping[str, Any]:
        """The ccxt parameters that cancel an order of ``kind`` through the venue's own endpoint
        for it (``cancel_order`` and ``cancel_all_orders``); empty: the regular one cancels it."""
        return {}

    def order_cancel_params(self, order: Any) -> Mapping[str, Any]:
        """The ccxt parameters that cancel this open order (a :class:`killswitch.snapshot.Order`):
        :meth:`cancel_params` of its kind, unless the venue's cancel names more of the order
        (Bitget's plan orders: their own ``planType``, which their ``type`` carries)."""
        return self.cancel_params(order.kind)

    def cancels_itself(self, kind: str) -> bool:
        """Whether orders of ``kind`` are out of reach of ccxt's unified cancels: they go only
        through :meth:`cancel_batch` (MEXC's Stop-Limit orders), one or many, never a symbol's
        ``cancel_all_orders``."""
        return False

    def cancel_one_request(self, order: Any, market: Mapping[str, Any]) -> tuple[str, tuple]:
        """The ccxt method, and its arguments, that cancel one open ``order`` (a
        :class:`killswitch.snapshot.Order`; ``market``: ccxt's market of its symbol): ccxt's
        ``cancel_order`` told :meth:`order_cancel_params`, unless ccxt's parse of its answer drops
        what :meth:`cancel_answer` must read, where the dialect names the venue's raw method (and
        :meth:`cancel_answer` of ``one`` is handed the venue's body)."""
        return "cancel_order", (order.id, order.symbol, dict(self.order_cancel_params(order)))

    def cancel_all_request(self, symbol: str, market_id: str, params: Mapping[str, Any]) -> tuple[str, tuple]:
        """The ccxt method, and its arguments, that cancel every open order of ``symbol``
        (``market_id``: the venue's id of it) through the endpoint ``params`` name
        (:meth:`cancel_params`): ccxt's ``cancel_all_orders``, unless the dialect names the
        venue's raw method (as :meth:`cancel_one_request`)."""
        return "cancel_all_orders", (symbol, dict(params))

    def cancel_answer(self, how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        """What the venue's answer to a cancel says of each order ``sent`` (the
        :class:`killswitch.snapshot.Order` s it was meant to cancel; :class:`CancelAnswer`):
        ``how`` is ``one`` (:meth:`cancel_one_request` of ``sent[0]``: ccxt's parsed order, or the
        venue's body where the dialect names its raw method), ``symbol`` (``cancel_all_orders``
        of their symbol: ccxt's list of parsed orders, each with the venue's row in ``info``)
        or ``batch`` (the venue's raw answer to :meth:`cancel_batch`'s request). An answer that
        lacks the list its venue documents raises :func:`.base.bad_field` (BAD_RESPONSE), and
        the orders are listed again, never assumed gone. The generic reading: an order's cancel
        that did not raise is done; a symbol's is the venue's word for "everything"."""
        if how == "one":
            return CancelAnswer(frozenset(o.id for o in sent[:1]))
        return CancelAnswer(frozenset(), whole=True)

    def cancel_batch_size(self, kind: str) -> int:
        """The most orders of ``kind`` one batch cancel (:meth:`cancel_batch`) takes; 0: the
        venue's orders are cancelled one a call (or a whole symbol at once)."""
        return 0

    def cancel_batch_spans_symbols(self, kind: str) -> bool:
        """Whether one batch cancel of ``kind`` may hold orders of several symbols (a request
        that names each order's market): one batch for the account's orders of the kind, not one
        a symbol, so that orders spread over many markets do not each spend a request."""
        return False

    def cancel_batch_cost(self, size: int) -> float:
        """What one batch cancel of ``size`` orders spends of the account's order budget, in
        orders: one request's by default; a venue that weighs a batch by its size says so
        (Kraken Futures: ``batchorder`` costs 9 + its size where one order's request costs 10)."""
        return 1.0

    async def cancel_batch(self, call: Call, orders: Sequence[Any], market_id: str) -> Any:
        """One batch cancel of ``orders`` (one symbol unless :meth:`cancel_batch_spans_symbols`,
        one kind's endpoint, at most :meth:`cancel_batch_size`), sent as the venue's own request
        (ccxt's parse drops rows it refused), its raw answer for :meth:`cancel_answer` (``how``
        ``batch``); ``market_id``: the first order's market."""
        raise NotImplementedError(f"{self.id}: no batch cancel")

    def cancel_refusal(self, code: Any, message: Any) -> VenueRefusal:
        """A refused row of a cancel's answer (its code and words), mapped by :attr:`refusal_rules`."""
        return mapped(code, message, self.refusal_rules)


__all__ = ["Call", "CancelAnswer", "CancelHooks"]
