"""Hyperliquid (``hyperliquid``): perpetuals, orders signed by a wallet.

What it owns
    the Hyperliquid forms the adapter needs, every one of them a ``POST /info`` read or a signed
    ``POST /exchange`` action:

    * the account: ccxt's ``walletAddress`` (the account's address, the ``user`` of every read)
      and ``privateKey`` (the account's own key or an API wallet it approved); with
      ``vault_address``, a vault or a sub-account of that account: read as ``user`` = that
      address and traded with ``vaultAddress`` beside each action (:meth:`HyperliquidDialect.account_options`);
    * the client order id: Hyperliquid's ``cloid`` is 16 bytes, ``0x`` and 32 hex digits. The
      engine's ids are ``ks`` and 30 lowercase hex digits; they travel as ``0x00`` and the same
      30 digits and are read back as ``ks`` and those digits (:func:`to_cloid`,
      :func:`from_cloid`), so that an order is found again by the engine's id after a crash.
      Any other id is refused before it leaves (:meth:`HyperliquidDialect.client_id_fits`);
    * the equity, read from ``clearinghouseState``'s ``marginSummary.accountValue``; positions
      and open orders are ccxt's (``clearinghouseState``'s ``assetPositions``;
      ``frontendOpenOrders``, which lists trigger orders too), each open order's kind read by
      :func:`.orders.listed_kind`;
    * the account-wide dead man's switch ``scheduleCancel`` (:class:`ScheduleCancel`);
    * turning off what ccxt's client would send on its own before the first order or cancel of
      a process (:meth:`HyperliquidDialect.prepare_client`): an approval of ccxt's builder fee and its referral code.

    Its accounts stream (:mod:`.stream`: the ``clearinghouseState`` and
    ``orderUpdates`` channels through ccxt's streaming client), and an order whose stream row
    says no kind asked by its oid (``orderStatus``, :meth:`HyperliquidDialect.stream_order_kind`).

    Hyperliquid has no hedge mode (one position a coin: the account's mode is one-way, read
    without a request), and no market order: a close is the adapter's limit IOC at the
    intent's protected price (ccxt would need a price for a market order too, and refuses one
    without it before anything is sent). Its refusals carry no code, only a sentence
    (``{"error": "Reduce only order would increase position. asset=0"}`` in the action's
    statuses): :data:`REFUSALS` maps them by their text.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`); read HIP-3
    (builder-deployed) perp dexes or spot: their markets are not loaded and their positions not read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

from killswitch.weights import PER_IP, Read, WeightLimit

from ....base import PERMANENT, TRANSIENT, AdapterError, Reason
from ....ccxt_exchange.dialects.base import (
    Dialect,
    Listed,
    Reads,
    read_each,
)
from ....ccxt_exchange.dialects.cancel_hooks import Call, CancelAnswer
from ....ccxt_exchange.dialects.limits import Limits
from ....ccxt_exchange.dialects.refusals import Rule, body_of
from ....ccxt_exchange.dialects.stream_events import StreamEvent
from ....ccxt_exchange.dialects.stream_hooks import ModuleStream
from ....ccxt_exchange.parsing import BadData, dig, order_info
from . import stream as hl_stream
from .orders import ORDER_TYPE_TRIGGERS, OUR_ID, from_cloid, listed_kind, to_cloid, with_our_id
from .positions import unified_position

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

SCHEDULE_CANCEL_MIN_S = 5  # the venue refuses a time less than 5 s ahead

# Hyperliquid's refusals of an order: a status's ``error`` sentence (it has no codes), its code
# here the sentence up to its first period (what follows names the asset or the amounts), the
# texts of its documented and ccxt-recorded answers
REFUSALS: tuple[Rule, ...] = (
    Rule("Reduce only order would increase position", "REDUCE_ONLY_REJECTED", PERMANENT),
    Rule("Insufficient margin to place order", "INSUFFICIENT_MARGIN", TRANSIENT),
    Rule("Order must have minimum value of $10", "INVALID_ORDER", PERMANENT),
    Rule("Order has invalid size", "INVALID_ORDER", PERMANENT),
    Rule("Price must be divisible by tick size", "INVALID_ORDER", PERMANENT),
    # an IOC with nothing to take at its price: the book may be there at the next tick's price
    Rule("Order could not immediately match against any resting orders", "INVALID_ORDER", TRANSIENT),
    Rule("Too many cumulative requests sent", "RATE_LIMITED", TRANSIENT),
    # a cancel of an order no longer open (its words: "Order was never placed, already canceled,
    # or filled.")
    Rule("Order was never placed, already canceled, or filled", "ORDER_NOT_FOUND", PERMANENT),
)


def hyperliquid_refusal(body: Any) -> Optional[tuple[str, str]]:
    """The first ``error`` of an action's statuses (or ``{"status": "err", "response": text}``):
    its first sentence as the code, the whole text as the message."""
    if not isinstance(body, Mapping):
        return None
    text = body.get("response") if body.get("status") == "err" else next(
        (st["error"] for st in statuses_of(body) or () if isinstance(st, Mapping) and st.get("error")), None)
    if not isinstance(text, str) or not text:
        return None
    return text.split(".", 1)[0].strip(), text


def statuses_of(body: Any) -> Optional[list]:
    """An action's ``response.data.statuses`` (None: the answer has none)."""
    rows = dig(body, "response", "data", "statuses")
    return rows if isinstance(rows, list) else None


EXCHANGE = "POST /exchange cancel"
OPEN_ORDERS = "POST /info frontendOpenOrders"
ORDER_STATUS = "POST /info orderStatus"
# the /info types the venue weighs 2 (every other weighs 20, userRole 60; ccxt's table has these)
INFO_WEIGHT_2 = frozenset({"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState",
                           "exchangeStatus"})
POSITIONS = "POST /info clearinghouseState"


@dataclass(frozen=True)
class ScheduleCancel:
    """``scheduleCancel``: one for the account (or the vault traded), every open order cancelled
    at ``time`` (ms) unless pushed out again; at least 5 s ahead. Without ``time`` it is removed.

    Armed through ccxt's ``cancel_all_orders_after`` (``time`` = its nonce + the milliseconds).
    Disarmed by signing the action without ``time`` on the account's client: ccxt's
    ``cancel_all_orders_after(0)`` would send ``time`` = now, which the venue refuses."""

    client: Any = field(compare=False, repr=False)
    per_symbol = False
    disarm_refusal = None

    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        ms = max(math.ceil(seconds * 1000), SCHEDULE_CANCEL_MIN_S * 1000)
        await call("cancel_all_orders_after", ms)
        return ms / 1000

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        ex = self.client
        action = {"type": "scheduleCancel"}
        vault = vault_of(ex)
        nonce = ex.incrementing_nonce()
        request: dict[str, Any] = {"action": action, "nonce": nonce,
                                   "signature": ex.sign_l1_action(action, nonce, vault)}
        if vault is not None:
            request["vaultAddress"] = vault
        await call("privatePostExchange", request)


def vault_of(client: Any) -> Optional[str]:
    """The vault or sub-account address the client trades for, as ccxt sends it (no ``0x``)."""
    opts = getattr(client, "options", None) or {}
    vault = opts.get("vaultAddress")
    return client.format_vault_address(vault) if isinstance(vault, str) and vault else None


@dataclass(frozen=True, kw_only=True)
class HyperliquidDialect(ModuleStream, Dialect):
    max_client_id_length: int = 32
    client_id_alphabet: str = "0-9a-fks"  # exactly ks and 30 lowercase hex digits (client_id_fits)
    client_options: Mapping[str, Any] = field(default_factory=lambda: {
        # the main perp dex only: ccxt's default also loads spot and every HIP-3 dex (a request each)
        "fetchMarkets": {"types": ["swap"]},
        # a close must not wait on, nor sign, a referral code of ccxt's own (set once for good)
        "refSet": True,
    })
    reduce_only_rejections: tuple[str, ...] = (r"reduce only order would increase position",)
    refusal_rules: tuple[Rule, ...] = REFUSALS
    # Streams: ccxt.pro's hyperliquid (clearinghouseState, orderUpdates; :mod:`.stream`).
    # Nothing to keep alive; at each connect ccxt's watchBalance asks the account's abstraction
    # once (userAbstraction, an /info read of 20)
    streams: bool = True
    stream_marks_shared: bool = False  # the marks come in each account's clearinghouse state
    stream_open_weight: float = 20.0
    stream_order_parser: str = "parse_order"  # ccxt.pro's hyperliquid reads order rows with its REST parser
    stream_quote: Optional[str] = hl_stream.QUOTE  # the equity is USDC's, whatever quote the account declares


    def cancel_batch_size(self, kind: str) -> int:
        # one cancel action of many oids (a batch of n weighs 1 + n // 40 against the address's
        # requests): 40 a batch
        return 40

    def cancel_batch_spans_symbols(self, kind: str) -> bool:
        return True  # a cancel action names each oid's asset: one action for every coin's orders

    async def cancel_batch(self, call: Call, orders: Sequence[Any], market_id: str) -> Any:
        """ccxt's ``cancel_orders_for_symbols`` (one action naming each order's asset; it signs
        it), read as the venue's answer: ccxt hands it back whole as its one order's ``info``;
        where it raised for a refused status, its error holds the whole answer, every status in
        the order sent."""
        try:
            got = await call("cancel_orders_for_symbols", [{"id": o.id, "symbol": o.symbol} for o in orders])
        except AdapterError as e:
            body = body_of(e.message)
            if statuses_of(body) is None:
                raise
            return body
        if isinstance(got, list) and len(got) == 1 and isinstance(got[0], Mapping) \
                and isinstance(got[0].get("info"), Mapping) and statuses_of(got[0]["info"]) is not None:
            return got[0]["info"]
        return got

    def cancel_answer(self, how: str, answer: Any, sent: Sequence[Any]) -> CancelAnswer:
        """A cancel action's ``statuses``, one per order in the order sent: ``"success"``, or
        ``{"error": text}`` (its first sentence the code)."""
        if how != "batch":
            return super().cancel_answer(how, answer, sent)
        rows = statuses_of(answer) if isinstance(answer, Mapping) else (
            [o.get("info") for o in answer] if isinstance(answer, list) else None)
        if rows is None or len(rows) != len(sent):
            raise self.bad_field(EXCHANGE, "response.data.statuses",
                            f"{'missing' if rows is None else len(rows)} for {len(sent)} cancels")
        done, refused = set(), {}
        for o, st in zip(sent, rows):
            if st == "success":
                done.add(o.id)
            elif isinstance(st, Mapping) and isinstance(st.get("error"), str):
                refused[o.id] = self.cancel_refusal(st["error"].split(".", 1)[0].strip(), st["error"])
            else:
                raise self.bad_field(EXCHANGE, "response.data.statuses", f"unknown value {st!r}")
        return CancelAnswer(frozenset(done), refused)

    one_way_source: Optional[str] = "Hyperliquid (one position a coin)"
    position_size_field: Optional[str] = "position.szi"
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=lambda: {
        ("order", "id"): "oid", ("order", "symbol"): "coin", ("order", "type"): "orderType",
        ("order", "amount"): "origSz", ("order", "triggerPrice"): "triggerPx",
        ("position", "symbol"): "coin", ("position", "contracts"): "szi", ("position", "side"): "szi"})

    # --- accounts ------------------------------------------------------------------------------

    def account_options(self, credentials: Any) -> Mapping[str, Any]:
        wallet = getattr(credentials, "wallet_address", None)
        if credentials is None:
            return {}
        if wallet is None or getattr(credentials, "private_key", None) is None:
            raise AdapterError(Reason.AUTH, "Hyperliquid signs with a wallet: its credentials are wallet_address "
                               "and private_key, not an api_key and a secret", venue=self.id)
        vault = getattr(credentials, "vault_address", None)
        for name, address in (("wallet_address", wallet), ("vault_address", vault)):
            if address is not None and not ADDRESS.match(str(address)):
                raise AdapterError(Reason.AUTH, f"{name} {str(address)[:46]!r} is not 0x and 40 hex digits",
                                   venue=self.id)
        if vault is None:
            return {}
        # reads ask for the vault's or the sub-account's state (user), actions carry vaultAddress
        return {"user": vault, "vaultAddress": vault}

    def prepare_client(self, client: Any) -> None:
        # ccxt's hyperliquid, before the first order or cancel of a process, signs and sends an
        # approval of ccxt's builder fee (then names ccxt's builder in every order) and its
        # referral code, and asks the account's abstraction: none of it asked by the operator,
        # each a request on the way of a close. This client does without.
        if hasattr(client, "initialize_client"):
            async def initialized() -> bool:
                return True

            client.initialize_client = initialized

    # --- orders --------------------------------------------------------------------------------

    def client_id_fits(self, client_order_id: str) -> bool:
        return OUR_ID.match(client_order_id) is not None

    def order_params(self, client_order_id: str, *, futures: bool, hedge_leg: Optional[str],
                     reduce_only: bool) -> dict:
        params = super().order_params(client_order_id, futures=futures, hedge_leg=None, reduce_only=reduce_only)
        params[self.client_id_param] = to_cloid(client_order_id)
        return params

    def order_answer(self, answer: Any) -> Any:
        # the venue echoes the cloid in a filled or resting status: the engine's id is ks...
        return with_our_id(answer) if isinstance(answer, Mapping) else answer

    async def find_by_client_id(self, call: Call, symbol: str, client_order_id: str) -> Any:
        if not OUR_ID.match(client_order_id):
            return None  # never sent: no cloid of ours carries it
        got = await call("fetch_order", None, symbol, {"clientOrderId": to_cloid(client_order_id)})
        if not isinstance(got, Mapping) or got.get("id") is None:
            return None  # orderStatus answers {"status": "unknownOid"} (ccxt: OrderNotFound)
        return with_our_id(got)

    # --- reads ---------------------------------------------------------------------------------

    # ccxt's fetch_balance reads the account's clearinghouseState, which lists its positions too:
    # one read of it a snapshot (2 of the IP's weight), not a second through fetch_positions
    positions_in_balance: bool = True

    async def balance_positions(self, raw_balance: Any, reads: Reads) -> Any:
        """``assetPositions`` of the balance's answer (ccxt keeps the venue's whole state in its
        ``info``), each row read by :func:`.positions.unified_position`; an answer
        without them (a unified account's balance is its spot state) asks ccxt's
        ``fetch_positions``."""
        rows = dig(raw_balance, "info", "assetPositions")
        if not isinstance(rows, list):
            return await self.fetch_positions(reads)
        return await read_each(rows, unified_position)

    def request_weight(self, api: str, method: str, path: str, params: Any, ccxt_cost: float) -> float:
        # ccxt charges an /info request of a type its table does not list 10; the venue charges 20
        # (frontendOpenOrders among them): those it lists (clearinghouseState: 2) are the venue's
        if path == "info" and isinstance(params, Mapping) and params.get("type") not in INFO_WEIGHT_2:
            return max(ccxt_cost, 20.0)
        return ccxt_cost

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        """``frontendOpenOrders`` (one list, not paged: resting and trigger orders alike)."""
        got = await reads.call("fetch_open_orders", symbol)
        if got is None:
            return []
        if not isinstance(got, list):
            raise BadData(f"{OPEN_ORDERS}: the answer is not a list")
        return [self._listed(o) for o in got]

    def _listed(self, order: Any, endpoint: str = OPEN_ORDERS, field: str = "") -> Listed:
        """A row of ``frontendOpenOrders`` (:func:`.orders.listed_kind`), its ``orderType`` one the venue
        documents, its ``side`` A or B, and a trigger order by that type or by ``isTrigger``: a row whose type and
        flags disagree is read as the trigger order either says it is, never as a resting one. (``endpoint``,
        ``field``: another answer that carries the same row, under ``field``: ``orderStatus``'s.)"""
        said = order_info(order)
        trigger = self.documented(endpoint, field + "orderType", said.get("orderType"), ORDER_TYPE_TRIGGERS)
        # its side A (ask) or B (bid): ccxt reads anything but A as a buy
        self.documented(endpoint, field + "side", said.get("side"), ("A", "B"))
        return Listed(*listed_kind(order, trigger), endpoint)

    async def stream_order_kind(self, call: Call, order_id: str, symbol: str) -> Optional[Listed]:
        """``orderStatus`` of one oid (weight 2; ccxt's ``fetch_order``): ``{"status": "order",
        "order": {"order": {...}, "status", "statusTimestamp"}}``, the inner row with
        ``frontendOpenOrders``' fields (``orderType``, ``isTrigger``, ``triggerPx``,
        ``reduceOnly``, ``isPositionTpsl``), read as that list reads a row; ``{"status":
        "unknownOid"}`` (ccxt: OrderNotFound) is None. The stream's ``orderUpdates`` rows say
        no kind (:mod:`.stream`): a bot's order the stream never knew is asked here,
        not left for the next list of every open order (weight 20, every 5 s at most)."""
        try:
            got = await call("fetch_order", order_id, symbol)
        except AdapterError as e:
            if e.reason is Reason.ORDER_NOT_FOUND:
                return None
            raise
        row = dig(got, "info", "order")
        if not isinstance(row, Mapping):
            raise self.bad_field(ORDER_STATUS, "order.order", "missing")
        return self._listed({**got, "info": row}, ORDER_STATUS, "order.order.")

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        # a row of assetPositions says its mode: "oneWay", the only one the venue has
        return "BOTH" if info.get("type") == "oneWay" and isinstance(info.get("position"), Mapping) else None

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        return [dig(info, "marginSummary", "accountValue")]

    # --- the stream (:mod:`.stream`) -------------------------------------------------

    stream_module: ClassVar[ModuleType] = hl_stream  # its frames read there (ModuleStream)

    def stream_events(self, message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                      held: Optional[Container[str]] = None) -> list[StreamEvent]:
        return hl_stream.stream_events(message, ccxt_order, held)  # (its rows name their coin)

    # --- dead man's switch ---------------------------------------------------------------------

    countdown_method: Optional[str] = "cancel_all_orders_after"
    countdown_futures_only: bool = True

    def venue_countdown(self, client: Any, market_type: str, method: str) -> ScheduleCancel:
        return ScheduleCancel(client)


# Orders per second of our budget: the venue's REST limit is 1,200 weight a minute per IP, an
# order or a cancel weighing 1 and a snapshot 2 (clearinghouseState, balance and positions) plus 20 for
# frontendOpenOrders; 5 orders a second (300 a minute) leaves the rest to the snapshots and to
# other clients of the IP. The address's own budget (10,000 actions, then one per USDC traded)
# is the operator's to keep. Cancels have a limit of their own there (min(limit + 100000,
# limit * 2), "so that hitting the address-based rate limit will still allow open orders to be
# canceled"): 10 cancel actions a second (each up to 40 orders, still charged to the IP's weight),
# never paced behind the closes and reverts a lock sends. An action (an order, a cancel) weighs 1
# of the IP's 1,200 a minute, the same budget as the reads: charged, but sent at once, never
# behind a reconcile's reads.
LIMITS = Limits(orders=5.0, cancels=10.0, weighed_as_orders=frozenset({("private", "POST", "exchange")}))

HYPERLIQUID = HyperliquidDialect(
    id="hyperliquid", limits=LIMITS, read_endpoints={"*": (POSITIONS, OPEN_ORDERS)}, refusal_of=hyperliquid_refusal,
    # frontendOpenOrders weighs 20 of the 1,200 a minute: listed at every 1 s snapshot it would
    # need 24 a second beside the positions, above the 20 the venue allows; when 5 s old, 8
    open_orders_max_age_s=5.0,
    # A snapshot: clearinghouseState once (fetch_balance's answer lists the positions: 2) and, when
    # listed, frontendOpenOrders (20). 1,200 weight a minute per IP, reads and actions together:
    # https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits-and-user-limits
    snapshot_reads=(Read(POSITIONS, 2), Read(OPEN_ORDERS, 20, orders=True)),
    weight_limit=WeightLimit(1200, 60.0, "weight", PER_IP,
                             "https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/"
                             "rate-limits-and-user-limits"),
)

DIALECTS = (HYPERLIQUID,)

__all__ = ["DIALECTS", "HYPERLIQUID", "HyperliquidDialect", "ScheduleCancel", "from_cloid", "to_cloid"]
