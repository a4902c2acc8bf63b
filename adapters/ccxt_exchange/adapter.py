"""The ccxt adapter: one account on one real venue, behind :class:`adapters.base.ExchangeAdapter`.

What it owns
    * one ccxt client per account (``Account.venue`` is the ccxt id), built by :mod:`.client`,
      its markets loaded once (:mod:`.markets`), the calls over it (:mod:`.calls`: a hard
      ``asyncio.wait_for(timeout)`` around every public operation, retries, the order budget);
    * :class:`CcxtAdapter`, built from its parts, each a module sharing the account's state
      (declared in :mod:`.core`, which also reads the venue's rows with the account's dialect):

      - the snapshot over REST (:mod:`.snapshots`): balances, positions, open orders and equity
        read in one go and parsed by :mod:`.parsing` (a failed fetch is a snapshot too:
        ``fetch.ok`` false, ``equity`` None, the reason code — a snapshot never raises);
      - the private stream (:mod:`.streamed`), where the account's ``stream`` block asks for it
        and its dialect streams: the snapshot then answers from the stream while it is live and
        reads REST at the reconcile cadence (beside the ticks), after a reconnect, while it is
        stale or down and while its reconcile is overdue (in front; REST wins); the optional
        ``stream_health()``, ``set_wake()`` and ``start_streams()`` of
        :class:`adapters.base.StreamHealth`'s contract;
      - the positions and holdings a close is checked against between snapshots
        (:mod:`.known`);
      - orders (:mod:`.orders`): the local safety net before an order leaves the process
        (:func:`adapters.base.check_close`, the amount rounded *down* to the market's step, the
        minimums), the account's position mode as the venue reads it (:mod:`.modes`: read at
        start, every few minutes and after a refusal for the mode; a close the venue refuses for
        the mode is rebuilt for the mode read again, once), the lookup of an order by client
        order id;
      - cancels (:mod:`.cancels`);
    * here: the account's settings and parts built, its capabilities, the venue's own dead
      man's switch (countdown, :mod:`.countdowns`) where the venue has one, and, where the
      account has a ``revoke:`` block and its dialect a switch, the venue's switch of the bots'
      keys' trading permission (:mod:`.permissions`, with the master credential).

What it must not do
    tell venues apart. Whatever differs between venues — order parameters, client order id keys,
    countdown endpoints, order rates — is asked of the account's dialect, and the venues' raw
    fields are read by the dialects' readers (:mod:`.dialects`); a venue's quirk never becomes an
    ``if venue == ...`` here. Nor may it retry an order (:mod:`.orders`).

Secrets are handed to ccxt only; every message the adapter raises or reports is scrubbed
(:func:`.errors.scrub`) and never chained to the original exception.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from ..base import Capabilities, DmsStatus, ExchangeAdapter, PermissionResult
from .budget import OrderBudget, WeightMeter, meter_requests
from .calls import Calls
from .cancels import Cancels
from .client import Factory, Urls, client_config, configure_client, create_client, default_factory, pro_factory
from .countdowns import Countdowns
from .dialects import dialect_for
from .fills import FillReads
from .markets import Markets
from .modes import AccountMode
from .orders import OrderPlacement
from .permissions import MasterSwitch
from .streamed import StreamedSnapshots
from .streaming.hub import close_client
from .streaming.stream import now_ms


class CcxtAdapter(StreamedSnapshots, OrderPlacement, Cancels, FillReads, ExchangeAdapter):
    """One account of an Accounts document on a ccxt venue.

    ``account`` is a :class:`killswitch.policy.accounts_doc.Account`; its client is paced at the
    limits of its ``rate_tier`` where the venue's dialect has tiers (the lowest where it names
    none: :meth:`~.dialects.base.Dialect.for_tier`). Options:

    * ``timeout`` — seconds; bounds every public operation as a whole (``asyncio.wait_for``),
      retries and order-budget waits included; also ccxt's per-request timeout.
    * ``urls`` — override of the venue's endpoints: a base URL string (``http://127.0.0.1:8765``)
      re-hosts every REST URL of the venue onto it, keeping paths; a dict is deep-merged into
      ccxt's ``urls`` (e.g. ``{"api": {"fapiPrivate": ...}}``). For tests and the simulated
      exchange's HTTP face.
    * ``orders_per_second`` — our order budget on this account (default: the dialect's
      ``limits.orders``). Creates and cancels spend it; the capabilities report it, and the runner
      hands it to the planner, which spaces the venue's closes by it. Without it, a venue that
      limits its cancel endpoints apart (the dialect's ``limits.cancels``) has its cancels spend a
      budget of their own at that rate, never queued behind creates.
    * ``max_retries`` / ``backoff_s`` / ``max_backoff_s`` — retries of reads and cancels on
      network errors: ``backoff_s · 2^n`` capped at ``max_backoff_s``, no jitter; a venue's
      ``Retry-After`` is honoured when it fits in the deadline.
    * ``position_max_age_s`` — a position known from an older snapshot is re-fetched before a close.
    * ``bybit_dcp_websocket`` — the caller keeps a private websocket open. Bybit's
      disconnected-cancel-all (DCP) only fires when a *private websocket subscribed to the "dcp"
      topic* drops; this adapter speaks REST only, so DCP is reported unsupported unless the
      caller declares that it keeps such a websocket.
    * ``open_orders_max_age_s`` — how old the list of every open order a snapshot carries may be
      (default: the dialect's; 0 lists them at every snapshot). Where listing them all is the
      heavy read for the venue's weight limit (Binance: 40 of a snapshot's 50), a snapshot
      younger than that keeps the last list: the orders this adapter sent or cancelled since
      make the next snapshot list them again, but a bot's order placed since is not in it.
    * ``ccxt_rate_limit`` — ccxt's own request pacing (``enableRateLimit``), on by default. Off
      only against a venue that enforces its limits in a time of its own, such as the simulated
      exchange's HTTP face in simulated time; the order budget still applies.
    * ``exchange_factory`` — ``config dict → exchange object``; the default builds
      ``ccxt.async_support.<venue>(config)``. Tests inject a ccxt-like fake here.
    * ``stream_factory`` — the same for the streaming client of an account whose ``stream``
      block is enabled on a dialect that streams; the default builds ``ccxt.pro.<venue>(config)``,
      configured as the REST client (credentials, timeout, strict JSON, ``urls``).
    * ``stream_clock`` — the private stream's clock (UTC ms): when it last heard from the venue,
      when it was last reconciled, and so when it is stale or its reconcile overdue. Tests hand
      a fake one; the default is the wall clock.
    * ``share_marks`` — the stream reads its marks from the venue's subscription it shares with
      the runner's other accounts on the same endpoint (:mod:`.streaming.hub`), not from a
      subscription of its own; the runner sets it where two or more accounts stream there.

    Raises :class:`~adapters.base.AdapterError` on construction for an unreadable credential (``AUTH``) or a
    venue ccxt does not know (``UNSUPPORTED``) — never with a secret in it.

    The protocol's calls are the parts' (see the module's docstring); this class builds them
    over one ccxt client, sharing its markets, the positions a close is checked against and the
    order budget.
    """

    def __init__(
        self,
        account: Any,
        *,
        timeout: float = 10.0,
        urls: Urls = None,
        orders_per_second: Optional[float] = None,
        max_retries: int = 2,
        backoff_s: float = 0.25,
        max_backoff_s: float = 2.0,
        position_max_age_s: float = 15.0,
        bybit_dcp_websocket: bool = False,
        open_orders_max_age_s: Optional[float] = None,
        ccxt_rate_limit: bool = True,
        exchange_factory: Optional[Factory] = None,
        stream_factory: Optional[Factory] = None,
        stream_clock: Callable[[], int] = now_ms,
        share_marks: bool = False,
    ):
        self.venue = account.venue
        self.account = account.name
        self.market_type = account.market_type
        self.hedge_mode = bool(account.hedge_mode)
        self.labels = dict(account.labels)
        names = getattr(account, "strategy_names", None)
        self.strategies = list(names() if callable(names) else getattr(account, "strategies", []) or [])
        prefixes = getattr(account, "client_id_prefixes", None)
        # client order id prefix → its strategy (the Accounts document's map; a bare name maps to itself)
        self.strategy_prefixes = dict(prefixes()) if callable(prefixes) else {
            s: s for s in self.strategies}
        self.stablecoins = list(account.stablecoins)
        self.settle_coins = tuple(getattr(account, "settle_coins", ()) or ())
        ic = account.initial_capital
        self.initial_capital = None if ic is None else float(getattr(ic, "value", ic))
        # the venue's dialect at the account's rate tier (its lowest where the account names none)
        self.dialect = dialect_for(self.venue).for_tier(getattr(account, "rate_tier", None))
        self.quote_currency = account.quote_currency or self.dialect.quote_currency  # (None: the venue's)
        self.position_max_age_s = float(position_max_age_s)
        self.bybit_dcp_websocket = bool(bybit_dcp_websocket)
        self.open_orders_max_age_s = float(self.dialect.open_orders_max_age_s if open_orders_max_age_s is None
                                           else open_orders_max_age_s)
        rate = orders_per_second if orders_per_second is not None else self.dialect.limits.orders
        budget = OrderBudget(rate)
        # cancels paced apart where the venue limits them apart (unless the caller set one budget)
        cancel_rate = self.dialect.limits.cancels if orders_per_second is None else None
        cancel_budget = OrderBudget(cancel_rate) if cancel_rate is not None else None

        config, self._secret_values = client_config(account, self.dialect, timeout=float(timeout),
                                                    rate_limit=bool(ccxt_rate_limit))
        factory = exchange_factory or default_factory(self.venue)
        ex = create_client(factory, config, venue=self.venue, secrets=self._secrets)
        self._ex = ex
        configure_client(ex, self.dialect, market_type=self.market_type, sandbox=getattr(account, "sandbox", False),
                         urls=urls, secrets=self._secrets)
        # the weight its requests cost the venue over the last minute (the runner sums a venue's)
        self.weight_limit = self.dialect.weight_limit_for(self.market_type)
        self.weight_meter = WeightMeter()
        self.weight_meter.windows = getattr(ex, "endpoint_windows", None)  # (the stream's client shares them)
        meter_requests(ex, self.weight_meter, self.weight_limit, self.dialect.request_weight)
        self._calls = Calls(ex, venue=self.venue, budget=budget, timeout=timeout, max_retries=max_retries,
                            backoff_s=backoff_s, max_backoff_s=max_backoff_s, secrets=lambda: self._secrets,
                            refusal=self.dialect.venue_refusal, cancel_budget=cancel_budget)
        self._mode = AccountMode(self.dialect, self.hedge_mode, venue=self.venue, account=self.account)

        self._markets = Markets(ex, self._calls, venue=self.venue, market_type=self.market_type)
        self._countdowns = Countdowns(
            self._calls, self._markets,
            lambda: self.dialect.countdown(ex, self.market_type, keeps_private_websocket=self.bybit_dcp_websocket),
            exposed=self._exposed_symbols)
        self._positions = {}
        self._margin_modes = {}
        self._positions_at = {}
        self._sent_at = {}
        self._positions_all_at = None
        self._holdings = {}
        self._holdings_at = None
        self._fill_reads = {}
        self._orders = {}
        self._orders_at = None
        # the venue's switch of the bots' keys, with the account's master credential (revoke:)
        self._master = MasterSwitch(account, self.dialect, timeout=timeout, urls=urls, factory=factory,
                                    own_key=config.get("apiKey"), max_retries=max_retries, backoff_s=backoff_s,
                                    max_backoff_s=max_backoff_s, ccxt_rate_limit=bool(ccxt_rate_limit))
        self._watching_entries = False
        self._watch_list_due = False  # the watch began: list every open order once, when the weight allows
        self._watch_deferral_said = False  # WATCH_LIST_DEFERRED logged since the watch began
        self.watch_lists_deferred = 0  # snapshots that listed no open order for want of the weight
        futures = self.market_type == "futures"
        self._caps = Capabilities(
            positions=futures and self._has("fetchPositions"),
            reduce_only=futures,
            hedge_mode=self.hedge_mode,
            cancel_all_after=self._countdowns.supported(),
            close_position=self._has("closePosition"),
            client_order_id=True,
            fetch_order_by_client_id=self.dialect.can_fetch_by_client_id(self._has),
            max_client_id_length=self.dialect.max_client_id_length,
            orders_per_second=float(rate),
            revoke_trading=self._master.supported,
        )
        self._stream_spec = getattr(account, "stream", None)
        self._stream = None
        self._stream_clock = stream_clock
        self._share_marks = share_marks
        self._shed_factor = 1  # the calm cadences' multiple under load (shed)
        self._behind = None
        self._behind_reading = False
        if self.dialect.streams_for(self.market_type) and self._stream_spec is not None and self._stream_spec.enabled:
            self._stream = self._make_stream(config, stream_factory or pro_factory(self.venue),
                                             urls=urls, sandbox=getattr(account, "sandbox", False))
        self._stream_said = False

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    # --- dead man's switch ---------------------------------------------------------------------------

    async def arm_cancel_all_after(self, seconds: float, symbols: tuple[str, ...] = ()) -> DmsStatus:
        return await self._countdowns.arm(seconds, symbols)

    async def disarm_cancel_all_after(self, symbols: tuple[str, ...] = ()) -> DmsStatus:
        return await self._countdowns.disarm(symbols)

    @property
    def trading_keys(self) -> tuple[str, ...]:
        return self._master.keys

    async def set_trading(self, allowed: bool) -> PermissionResult:
        return await self._master.set_trading(allowed)

    async def read_trading(self) -> PermissionResult:
        return await self._master.read_trading()

    # --- lifecycle ------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the private stream, close ccxt's HTTP session (bounded by the timeout; errors are
        swallowed)."""
        if self._behind is not None:
            self._behind.cancel()
            await asyncio.gather(self._behind, return_exceptions=True)
        if self._stream is not None:
            await self._stream.stop()
        if self._gather is not None:
            await self._gather.aclose()
        await self._master.close()
        await close_client(self._ex, f"{self.venue}/{self.account}", self.timeout)

    def __repr__(self) -> str:
        return f"CcxtAdapter(venue={self.venue!r}, account={self.account!r}, market_type={self.market_type!r})"


__all__ = ["CcxtAdapter"]
