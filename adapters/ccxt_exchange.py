"""The ccxt adapter: one account on one real venue, behind :class:`adapters.base.ExchangeAdapter`.

What it owns
    * one ``ccxt.async_support`` exchange object per account (``Account.venue`` is the ccxt id),
      with ccxt's own ``enableRateLimit`` on, markets loaded once, secrets handed to ccxt only;
    * turning ccxt's unified balance / position / order structures into a killswitch
      :class:`~killswitch.snapshot.Snapshot` (a failed fetch is a snapshot too: ``fetch.ok`` false,
      ``equity`` None, the reason code — :meth:`CcxtAdapter.snapshot` never raises);
    * the local safety net before an order leaves the process: :func:`adapters.base.check_close`
      against the position it knows (refreshed when unknown or stale), the amount rounded *down*
      to the market's step (ccxt ``amount_to_precision``, i.e. TRUNCATE), the minimum amount;
    * the venue-specific order parameters (reduce-only, client order id, hedge-mode leg), the
      cancel paths, and the native dead man's switch where the venue has one;
    * an order budget of its own (an async token bucket, ``orders_per_second``), retries with a
      bounded, deterministic exponential backoff for *network* errors of reads and cancels only,
      and a hard ``asyncio.wait_for(timeout)`` around every public operation;
    * the translation of every exception into :class:`adapters.base.AdapterError` with a
      :class:`adapters.base.Reason` (see :func:`reason_for`).

Orders are never retried by the adapter. A ``create_order`` that times out or loses its
connection may or may not have reached the venue: it surfaces as ``TIMEOUT`` (or
``EXCHANGE_UNAVAILABLE``) and the caller reconciles with :meth:`CcxtAdapter.fetch_order` by
the intent's deterministic client order id before sending anything again.

Secrets: credentials are resolved with :func:`adapters.base.resolve_secret` and passed to
ccxt only. This module never logs them, and every message it raises or reports is scrubbed
(:func:`scrub`) of the key, the secret, the passphrase, the uid and of ``signature=`` /
``apiKey=``-style query parameters; original exceptions are never chained (no ``__cause__`` /
``__context__`` to print). ccxt's own request logger, which writes signed headers at DEBUG, is
pinned at WARNING.

ccxt is imported lazily (about 0.7 s): importing this module does not import it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import sys
import time
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from pydantic import ValidationError

from killswitch.engine.planner import DEFAULT_ORDER_RATE, VENUE_ORDER_RATES, OrderIntent
from killswitch.snapshot import Balance, FetchStatus, MarketRules, Order, Position, Snapshot

from .base import (
    AdapterError,
    CancelResult,
    CancelSelector,
    Capabilities,
    DmsStatus,
    OrderResult,
    Reason,
    Secret,
    check_close,
    resolve_secret,
)

log = logging.getLogger(__name__)

BINANCE_FAMILY = ("binance", "binanceusdm", "binancecoinm")
CLIENT_ID_LENGTH = {"binance": 36, "binanceusdm": 36, "binancecoinm": 36, "bybit": 36, "okx": 32}
OKX_DMS_RANGE = (10, 120)  # seconds; 0 disarms
BYBIT_DCP_RANGE = (3, 300)  # seconds


# --- secrets ------------------------------------------------------------------------------------

_SECRET_PARAM_RE = re.compile(
    r"(?i)\b(signature|sign|apikey|api_key|api-key|secret|secretkey|password|passphrase|"
    r"x-mbx-apikey|x-bapi-api-key|x-bapi-sign|ok-access-key|ok-access-sign|ok-access-passphrase)"
    r"""(["']?\s*[=:]\s*["']?)([^&\s"',}]+)"""
)
MAX_MESSAGE = 600


def scrub(text: Any, secrets: Iterable[str] = ()) -> str:
    """``text`` as a string without any of ``secrets`` and without ``signature=…``-style values;
    cut to a readable length."""
    s = str(text)
    for value in sorted({v for v in secrets if v and len(v) >= 4}, key=len, reverse=True):
        s = s.replace(value, "****")
    s = _SECRET_PARAM_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}****", s)
    if len(s) > MAX_MESSAGE:
        s = s[:MAX_MESSAGE] + "…"
    return s


# --- exception → reason ---------------------------------------------------------------------------

# Venue codes of "the reduce-only order was refused" (the position is smaller than the order,
# already closed, or on the other side). Matched in ccxt's message, which carries the venue body.
_REDUCE_ONLY_PATTERNS = [
    re.compile(p, re.I)
    for p in (
        r'"code"\s*:\s*"?-2022\b',  # binance: ReduceOnly Order is rejected.
        r"reduce\s*-?\s*only order is rejected",
        r"reduceonly order failed",  # binance -4112
        r"reduce_only_margin_check_failed",  # binance -4118
        r'"retCode"\s*:\s*"?1(10017|40017)\b',  # bybit: Reduce-only rule not satisfied (UTA / classic)
        r"reduce\s*-?\s*only rule not satisfied",
        r'"sCode"\s*:\s*"?(51169|51170)\b',  # okx 51169 / 51170
        r'"code"\s*:\s*"?(51169|51170)\b',
        r"reduce\s*-?\s*only order can.?t",
    )
]


def is_reduce_only_rejection(message: str) -> bool:
    """Whether a venue's error message says it refused a reduce-only order (Binance -2022,
    Bybit 110017, OKX 51169/51170 and their texts). A permission limit such as "you can only
    place reduce-only orders" is not one."""
    return any(p.search(message) for p in _REDUCE_ONLY_PATTERNS)


def _ccxt():
    import ccxt  # lazy: about 0.7 s

    return ccxt


def reason_for(exc: BaseException) -> Reason:
    """The reason code of any exception an operation can meet.

    ccxt's hierarchy is walked most specific first (``OrderNotFound`` is an ``InvalidOrder``;
    ``RequestTimeout`` and ``RateLimitExceeded`` are ``NetworkError``\\ s)."""
    if isinstance(exc, AdapterError):
        return exc.reason
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Reason.TIMEOUT
    if isinstance(exc, (json.JSONDecodeError, _BadData, ValidationError)):
        return Reason.BAD_RESPONSE  # malformed JSON, or a structure without what the snapshot needs
    if "ccxt" not in sys.modules:  # no ccxt exception can exist yet
        return Reason.EXCHANGE_UNAVAILABLE if isinstance(exc, ConnectionError) else Reason.UNKNOWN
    e = _ccxt()
    message = str(exc)
    if isinstance(exc, e.OrderNotFound):
        return Reason.ORDER_NOT_FOUND
    if isinstance(exc, (e.AuthenticationError,)):  # PermissionDenied, AccountSuspended, AccountNotEnabled
        return Reason.AUTH
    if isinstance(exc, e.InsufficientFunds):
        return Reason.INSUFFICIENT_MARGIN
    if isinstance(exc, (e.RateLimitExceeded, e.DDoSProtection)):
        return Reason.RATE_LIMITED
    if isinstance(exc, e.RequestTimeout):
        return Reason.TIMEOUT
    if isinstance(exc, e.NetworkError):  # ExchangeNotAvailable, OnMaintenance, InvalidNonce, ...
        return Reason.EXCHANGE_UNAVAILABLE
    if isinstance(exc, e.BadResponse):  # NullResponse
        return Reason.BAD_RESPONSE
    if isinstance(exc, e.BadSymbol):
        return Reason.UNKNOWN_SYMBOL
    if isinstance(exc, e.ExchangeError) and is_reduce_only_rejection(message):
        return Reason.REDUCE_ONLY_REJECTED
    if isinstance(exc, e.InvalidOrder):
        return Reason.INVALID_ORDER
    if isinstance(exc, e.NotSupported):
        return Reason.UNSUPPORTED
    if isinstance(exc, ConnectionError):
        return Reason.EXCHANGE_UNAVAILABLE
    return Reason.UNKNOWN


def _is_network(exc: BaseException) -> bool:
    return "ccxt" in sys.modules and isinstance(exc, _ccxt().NetworkError)


class _BadData(Exception):
    """A ccxt structure without a field the snapshot needs."""


# --- order budget -----------------------------------------------------------------------------


RATE_LIMIT_BURST = 200  # cost units (Binance: request weight) ccxt's limiter may spend at once

# Venues whose order endpoints count against order-count limits, not the request-weight limit
# ccxt's leaky bucket models. Binance USD-M: POST/DELETE /fapi/v1/order weigh 0 on the IP
# weight limit and 1 on the 10 s and 1 min order counts, which :class:`OrderBudget` keeps
# below (planner VENUE_ORDER_RATES). ccxt charges a new order 4 weight units: at its 50 ms a
# unit that paces closes at ~5/s, far below what the venue allows when a book must be flattened.
ORDER_COUNT_LIMITED = {"binanceusdm": {("fapiPrivate", "POST", "order"), ("fapiPrivate", "DELETE", "order")}}


def _orders_off_weight_limiter(ex: Any, endpoints: set) -> None:
    """Let ccxt's weight limiter charge nothing for the venue's order endpoints (paced by our budget)."""
    base = ex.calculate_rate_limiter_cost

    def cost(api, method, path, params, config={}):  # noqa: B006 - ccxt's own signature
        key = (api[0] if isinstance(api, (list, tuple)) and api else api, str(method).upper(), path)
        if key in endpoints:
            return 0
        return base(api, method, path, params, config)

    ex.calculate_rate_limiter_cost = cost


class OrderBudget:
    """An async token bucket: ``rate`` orders per second, bursts of up to ``burst`` (one
    second's worth by default). Callers queue in arrival order."""

    def __init__(self, rate: float, burst: Optional[float] = None, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("orders_per_second must be positive")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        self._tokens = self.burst
        self._clock = clock
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)


# --- helpers ------------------------------------------------------------------------------------------


def _num(value: Any) -> Optional[float]:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _step_of(precision: Any, mode: int) -> Optional[float]:
    """The step an amount or price moves by: ccxt's precision is a tick size (TICK_SIZE = 4,
    most venues) or a number of decimal places (DECIMAL_PLACES = 2)."""
    p = _num(precision)
    if p is None or p < 0:
        return None
    if mode == 4:
        return p if p > 0 else None
    if mode == 2:
        return float(Decimal(1).scaleb(-int(p)))
    return None  # significant digits: no fixed step


def _round_to_step(value: float, step: Optional[float], up: bool) -> float:
    if not step:
        return value
    try:
        q = (_dec(value) / _dec(step)).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    except InvalidOperation:
        return value
    return float(q * _dec(step))


def _venue_time(raw_balance: Any, raw_positions: Any, observed: int) -> int:
    """When the venue says the state held: the balance's timestamp where the venue reports one
    for the whole account, else our receive time; never a time in our future.

    Position ``updateTime``s are not used: on Binance they are the time a position last
    *changed*, so an untouched position would look hours stale and trip data-age triggers."""
    t = raw_balance.get("timestamp") if isinstance(raw_balance, Mapping) else None
    if isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0:
        return min(int(t), observed)
    return observed


def _now_ms() -> int:
    return int(time.time() * 1000)


def _position_side(info: Any, hedged: Any, side: Optional[str]) -> Optional[str]:
    """LONG / SHORT / BOTH from the venue's own field (Binance positionSide, Bybit positionIdx,
    OKX posSide), else from ccxt's ``hedged`` flag."""
    info = info if isinstance(info, Mapping) else {}
    ps = info.get("positionSide")
    if isinstance(ps, str) and ps.upper() in ("LONG", "SHORT", "BOTH"):
        return ps.upper()
    idx = info.get("positionIdx")
    if idx is not None and str(idx) in ("0", "1", "2"):
        return {"0": "BOTH", "1": "LONG", "2": "SHORT"}[str(idx)]
    pos = info.get("posSide")
    if isinstance(pos, str) and pos.lower() in ("long", "short", "net"):
        return {"long": "LONG", "short": "SHORT", "net": "BOTH"}[pos.lower()]
    if hedged is True and side in ("long", "short"):
        return side.upper()
    return None


_ORDER_STATUS = {"open": "open", "closed": "filled", "canceled": "canceled", "cancelled": "canceled",
                 "expired": "expired", "rejected": "rejected"}


@dataclass
class _Op:
    """Bookkeeping of one public operation: its deadline and the calls it made."""

    name: str
    deadline: float
    calls: int = 0
    failed: int = 0


# --- the adapter ----------------------------------------------------------------------------------------


class CcxtAdapter:
    """One account of an Accounts document on a ccxt venue.

    ``account`` is a :class:`killswitch.policy.model.Account`. Options:

    * ``timeout`` — seconds; bounds every public operation as a whole (``asyncio.wait_for``),
      retries and order-budget waits included; also ccxt's per-request timeout.
    * ``urls`` — override of the venue's endpoints: a base URL string (``http://127.0.0.1:8765``)
      re-hosts every REST URL of the venue onto it, keeping paths; a dict is deep-merged into
      ccxt's ``urls`` (e.g. ``{"api": {"fapiPrivate": ...}}``). For tests and the simulated
      exchange's HTTP face.
    * ``orders_per_second`` — our order budget on this account (default: the planner's
      ``VENUE_ORDER_RATES`` for the venue). Creates and cancels spend it.
    * ``max_retries`` / ``backoff_s`` / ``max_backoff_s`` — retries of reads and cancels on
      network errors: ``backoff_s · 2^n`` capped at ``max_backoff_s``, no jitter; a venue's
      ``Retry-After`` is honoured when it fits in the deadline.
    * ``position_max_age_s`` — a position known from an older snapshot is re-fetched before a close.
    * ``bybit_dcp_websocket`` — Bybit's disconnected-cancel-all (DCP) only fires when a *private
      websocket subscribed to the "dcp" topic* drops. This adapter speaks REST only, so DCP is
      reported unsupported unless the caller declares that it keeps such a websocket.
    * ``exchange_factory`` — ``config dict → exchange object``; the default builds
      ``ccxt.async_support.<venue>(config)``. Tests inject a ccxt-like fake here.

    Raises :class:`AdapterError` on construction for an unreadable credential (``AUTH``) or a
    venue ccxt does not know (``UNSUPPORTED``) — never with a secret in it.
    """

    def __init__(
        self,
        account: Any,
        *,
        timeout: float = 10.0,
        urls: Union[str, Mapping[str, Any], None] = None,
        orders_per_second: Optional[float] = None,
        max_retries: int = 2,
        backoff_s: float = 0.25,
        max_backoff_s: float = 2.0,
        position_max_age_s: float = 15.0,
        bybit_dcp_websocket: bool = False,
        exchange_factory: Optional[Callable[[dict], Any]] = None,
    ):
        self.venue: str = account.venue
        self.account: str = account.name
        self.market_type: str = account.market_type
        self.hedge_mode: bool = bool(account.hedge_mode)
        self.quote_currency: str = account.quote_currency
        self.labels: dict[str, str] = dict(account.labels)
        self.strategies: list[str] = list(getattr(account, "strategies", []) or [])
        self.stablecoins: list[str] = list(account.stablecoins)
        ic = account.initial_capital
        self.initial_capital: Optional[float] = None if ic is None else float(getattr(ic, "value", ic))
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.position_max_age_s = float(position_max_age_s)
        self.bybit_dcp_websocket = bool(bybit_dcp_websocket)
        rate = orders_per_second if orders_per_second is not None else VENUE_ORDER_RATES.get(self.venue, DEFAULT_ORDER_RATE)
        self.budget = OrderBudget(rate)

        self._secret_values: list[Secret] = []  # kept masked; revealed only to scrub messages
        config: dict[str, Any] = {
            "enableRateLimit": True,
            # ccxt's leaky bucket starts empty with room for one request, so one expensive call
            # (Binance openOrders without a symbol weighs 40) makes every snapshot wait ~2 s. Let
            # it hold a burst of RATE_LIMIT_BURST cost units: the long-run rate is ccxt's own (half
            # of Binance's published limit), but a snapshot after an idle tick goes through at once.
            "tokenBucket": {"capacity": float(RATE_LIMIT_BURST), "tokens": float(RATE_LIMIT_BURST)},
            "timeout": int(self.timeout * 1000),
            "verbose": False,
            "logger": _quiet_ccxt_logger(),
            "options": {},
        }
        creds = getattr(account, "credentials", None)
        if creds is not None:
            for ccxt_key, ref in (("apiKey", creds.api_key), ("secret", creds.secret),
                                  ("password", creds.password), ("uid", creds.uid)):
                if ref is None:
                    continue
                secret: Secret = resolve_secret(ref)
                self._secret_values.append(secret)
                config[ccxt_key] = secret.reveal()
        if self.venue in BINANCE_FAMILY:
            config["options"]["warnOnFetchOpenOrdersWithoutSymbol"] = False
        factory = exchange_factory or _default_factory(self.venue)
        try:
            ex = factory(config)
        except AdapterError:
            raise
        except Exception as e:  # noqa: BLE001 — reported as a reason, scrubbed
            err = self._error(e, "create exchange")
        else:
            err = None
        if err is not None:
            raise err
        self._ex = ex
        self._configure(ex, account, urls)

        self._markets_loaded = False
        self._markets_lock = asyncio.Lock()
        self._symbols: Optional[frozenset[str]] = None  # built from the loaded markets on first use
        self._positions: dict[tuple[str, str], Position] = {}
        self._positions_at: dict[str, float] = {}  # symbol → monotonic time of its last fetch
        self._positions_all_at: Optional[float] = None  # monotonic time of the last fetch of all
        self._holdings: dict[str, Balance] = {}
        self._holdings_at: Optional[float] = None
        self._orders: dict[str, Order] = {}
        self._armed: dict[str, float] = {}  # Binance: symbol → seconds
        self.capabilities = self._capabilities(rate)

    # --- setup --------------------------------------------------------------------------------------

    def _configure(self, ex: Any, account: Any, urls: Union[str, Mapping[str, Any], None]) -> None:
        if hasattr(ex, "on_json_response"):
            strict_json(ex)
        if self.venue in ORDER_COUNT_LIMITED and hasattr(ex, "calculate_rate_limiter_cost"):
            _orders_off_weight_limiter(ex, ORDER_COUNT_LIMITED[self.venue])
        opts = getattr(ex, "options", None)
        if isinstance(opts, dict):
            # currencies are never needed, and with keys set some venues fetch them from
            # unrelated (spot, margin) endpoints on every market load
            opts["fetchCurrencies"] = False
            if self.market_type == "futures":
                if opts.get("defaultType") not in ("future", "swap", "delivery"):
                    opts["defaultType"] = "swap"
            else:
                opts["defaultType"] = "spot"
        if getattr(account, "sandbox", False) and hasattr(ex, "set_sandbox_mode"):
            try:
                ex.set_sandbox_mode(True)
            except Exception as e:  # noqa: BLE001
                err = self._error(e, "sandbox mode", Reason.UNSUPPORTED)
            else:
                err = None
            if err is not None:
                raise err
        if urls is not None:
            current = getattr(ex, "urls", None)
            if not isinstance(current, dict):
                current = {}
            if isinstance(urls, str):
                current["api"] = _rehost(current.get("api", {}), urls.rstrip("/"))
            else:
                _deep_merge(current, urls)
            ex.urls = current

    @property
    def _secrets(self) -> list[str]:
        return [s.reveal() for s in self._secret_values]

    def _has(self, name: str) -> bool:
        has = getattr(self._ex, "has", None) or {}
        return bool(has.get(name))

    def _capabilities(self, rate: float) -> Capabilities:
        futures = self.market_type == "futures"
        return Capabilities(
            positions=futures and self._has("fetchPositions"),
            reduce_only=futures,
            hedge_mode=self.hedge_mode,
            cancel_all_after=self._dms_kind() is not None,
            close_position=self._has("closePosition"),
            client_order_id=True,
            fetch_order_by_client_id=self._has("fetchOrder") or self.venue == "bybit",
            max_client_id_length=CLIENT_ID_LENGTH.get(self.venue, 32),
            orders_per_second=float(rate),
        )

    def _dms_kind(self) -> Optional[str]:
        ex = self._ex
        if self.venue in ("binanceusdm", "binance") and self.market_type == "futures" \
                and hasattr(ex, "fapiPrivatePostCountdownCancelAll"):
            return "binance_fapi"
        if self.venue == "binancecoinm" and hasattr(ex, "dapiPrivatePostCountdownCancelAll"):
            return "binance_dapi"
        if self.venue == "okx" and hasattr(ex, "privatePostTradeCancelAllAfter"):
            return "okx"
        if self.venue == "bybit" and self.bybit_dcp_websocket and hasattr(ex, "privatePostV5OrderDisconnectedCancelAll"):
            return "bybit"
        return None

    # --- call machinery ---------------------------------------------------------------------------

    def _error(self, exc: BaseException, what: str, reason: Optional[Reason] = None,
               retry_after_s: Optional[float] = None) -> AdapterError:
        if isinstance(exc, AdapterError):
            return AdapterError(exc.reason, scrub(exc.message, self._secrets), venue=self.venue,
                                retry_after_s=exc.retry_after_s)
        r = reason or reason_for(exc)
        detail = str(exc) or type(exc).__name__
        msg = scrub(f"{what}: {type(exc).__name__}: {detail}", self._secrets)
        return AdapterError(r, msg, venue=self.venue, retry_after_s=retry_after_s)

    def _retry_after(self) -> Optional[float]:
        headers = getattr(self._ex, "last_response_headers", None)
        if not isinstance(headers, Mapping):
            return None
        for k, v in headers.items():
            if str(k).lower() == "retry-after":
                return _num(v)
        return None

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * (2 ** attempt))

    async def _call(self, op: _Op, method: str, *args: Any, retry: bool = True, order: bool = False, **kwargs: Any) -> Any:
        """One ccxt call: order budget, retries of network errors (never for ``retry=False``),
        every failure turned into a scrubbed AdapterError."""
        fn = getattr(self._ex, method, None)
        if fn is None:
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} has no {method}", venue=self.venue)
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            if order:
                await self.budget.acquire()
            op.calls += 1
            try:
                return await fn(*args, **kwargs)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 — everything becomes a reason code
                op.failed += 1
                network = _is_network(e)
                reason = reason_for(e)
                hint = self._retry_after() if reason is Reason.RATE_LIMITED else None
                err = self._error(e, method, reason, hint)
            delay = max(self._backoff(attempt), hint or 0.0)
            if not retry or not network or attempt >= self.max_retries or loop.time() + delay >= op.deadline:
                raise err
            log.debug("%s %s: %s, retry %d in %.2fs", self.venue, method, err.reason.value, attempt + 1, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def _run(self, name: str, body: Callable[[_Op], Any]) -> Any:
        """Run one public operation under ``asyncio.wait_for(timeout)``."""
        loop = asyncio.get_running_loop()
        op = _Op(name, loop.time() + self.timeout)
        try:
            return await asyncio.wait_for(body(op), self.timeout)
        except AdapterError:
            raise
        except (asyncio.TimeoutError, TimeoutError):
            err = AdapterError(Reason.TIMEOUT, f"{name}: no answer within {self.timeout:g}s", venue=self.venue)
        except Exception as e:  # noqa: BLE001
            err = self._error(e, name)
        raise err

    async def _ensure_markets(self, op: _Op) -> None:
        if self._markets_loaded:
            return
        async with self._markets_lock:
            if not self._markets_loaded:
                await self._call(op, "load_markets")
                self._markets_loaded = True

    def symbols(self) -> Optional[frozenset[str]]:
        """The unified symbols of the loaded markets of this account's type (swaps for futures,
        spot pairs for spot); None until the markets are loaded."""
        if not self._markets_loaded:
            return None
        if self._symbols is None:
            markets = getattr(self._ex, "markets", None) or {}
            futures = self.market_type == "futures"
            self._symbols = frozenset(
                k for k, m in markets.items() if isinstance(k, str) and isinstance(m, Mapping)
                and (bool(m.get("swap") or m.get("future")) if futures else bool(m.get("spot"))))
        return self._symbols

    def strategy_names(self) -> frozenset[str]:
        return frozenset(self.strategies)

    async def load_symbols(self) -> None:
        await self._run("load_markets", self._ensure_markets)

    def _market(self, symbol: str) -> Optional[dict]:
        markets = getattr(self._ex, "markets", None) or {}
        m = markets.get(symbol) if isinstance(markets, Mapping) else None
        return m if isinstance(m, Mapping) else None

    def _require_market(self, symbol: str) -> dict:
        m = self._market(symbol)
        if m is None:
            raise AdapterError(Reason.UNKNOWN_SYMBOL, f"{symbol} is not a market of {self.venue}", venue=self.venue)
        return m

    def market_rules(self, symbol: str) -> Optional[MarketRules]:
        """The rounding and minimum rules of a loaded market, or None when unknown."""
        m = self._market(symbol)
        if m is None:
            return None
        mode = int(getattr(self._ex, "precisionMode", 4) or 4)
        precision = m.get("precision") or {}
        limits = m.get("limits") or {}
        step = _step_of(precision.get("amount"), mode) or 0.0
        min_amount = _num((limits.get("amount") or {}).get("min")) or 0.0
        min_notional = _num((limits.get("cost") or {}).get("min")) or 0.0
        return MarketRules(amount_step=step, min_amount=max(0.0, min_amount),
                           min_notional=max(0.0, min_notional), base=m.get("base"))

    def round_amount(self, symbol: str, amount: float) -> float:
        """``amount`` rounded down to the market's step (ccxt ``amount_to_precision`` truncates);
        0.0 when nothing is left. Raises UNKNOWN_SYMBOL for a market that is not loaded."""
        m = self._require_market(symbol)
        to_precision = getattr(self._ex, "amount_to_precision", None)
        if to_precision is not None:
            try:
                return float(to_precision(symbol, amount))
            except Exception as e:  # noqa: BLE001
                if reason_for(e) is Reason.INVALID_ORDER:  # ccxt: the result would be 0
                    return 0.0
                err = self._error(e, "amount_to_precision")
            raise err
        mode = int(getattr(self._ex, "precisionMode", 4) or 4)
        return _round_to_step(amount, _step_of((m.get("precision") or {}).get("amount"), mode), up=False)

    def _protected_price(self, symbol: str, price: float, side: str) -> float:
        """The limit price on the market's tick, rounded towards the protected side: a sell's
        floor up, a buy's ceiling down — never looser than the slippage cap."""
        m = self._require_market(symbol)
        mode = int(getattr(self._ex, "precisionMode", 4) or 4)
        step = _step_of((m.get("precision") or {}).get("price"), mode)
        if step:
            return _round_to_step(price, step, up=(side == "sell"))
        to_precision = getattr(self._ex, "price_to_precision", None)
        return float(to_precision(symbol, price)) if to_precision else price

    # --- snapshot ---------------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        """The account now: balances, positions (futures), open orders, equity and the market
        rules of every symbol in them. Never raises: a failure is a snapshot with ``fetch.ok``
        false, ``equity`` None and the reason code (secrets scrubbed from the message)."""
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        op = _Op("snapshot", loop.time() + self.timeout)
        try:
            snap = await asyncio.wait_for(self._snapshot(op, started), self.timeout)
            return snap
        except (asyncio.TimeoutError, TimeoutError):
            err = AdapterError(Reason.TIMEOUT, f"snapshot: no answer within {self.timeout:g}s", venue=self.venue)
        except AdapterError as e:
            err = e
        except Exception as e:  # noqa: BLE001 — a snapshot never raises
            err = self._error(e, "snapshot")
        now = _now_ms()
        return self._base_snapshot(
            ts_event=now, ts_observed=now, equity=None,
            fetch=FetchStatus(ok=False, error_code=err.reason.value, error=scrub(err.message, self._secrets),
                              latency_ms=round((time.monotonic() - started) * 1000, 3),
                              calls=op.calls, failed_calls=op.failed),
        )

    def _base_snapshot(self, **kw: Any) -> Snapshot:
        return Snapshot(venue=self.venue, account=self.account, market_type=self.market_type,
                        quote_currency=self.quote_currency, labels=self.labels,
                        initial_capital=self.initial_capital, stablecoins=self.stablecoins, **kw)

    async def _gather(self, *coros: Any) -> list:
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

    async def _snapshot(self, op: _Op, started: float) -> Snapshot:
        await self._ensure_markets(op)
        futures = self.market_type == "futures"
        if futures and not self._has("fetchPositions"):
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} cannot report positions", venue=self.venue)
        reads = [self._call(op, "fetch_balance"), self._call(op, "fetch_open_orders")]
        if futures:
            reads.append(self._call(op, "fetch_positions"))
        results = await self._gather(*reads)
        raw_balance, raw_orders = results[0], results[1]
        raw_positions = results[2] if futures else []
        observed = _now_ms()

        orders = [self._parse_order(o) for o in (raw_orders or [])]
        if futures:
            positions = [p for p in (self._parse_position(x) for x in (raw_positions or [])) if p is not None]
            balances = self._parse_balances(raw_balance, {})
            equity = self._futures_equity(raw_balance)
        else:
            positions = []
            prices = await self._spot_prices(op, raw_balance)
            balances = self._parse_balances(raw_balance, prices)
            equity = sum(b.total * b.price for b in balances if b.price is not None)

        mono = time.monotonic()
        self._positions = {(p.symbol, p.side): p for p in positions}
        self._positions_at = {}
        self._positions_all_at = mono if futures else None
        self._orders = {o.id: o for o in orders}
        self._holdings = {b.asset: b for b in balances}
        self._holdings_at = mono

        symbols = {p.symbol for p in positions} | {o.symbol for o in orders}
        if not futures:
            symbols |= {f"{b.asset}/{self.quote_currency}" for b in balances if b.asset != self.quote_currency}
        markets = {s: r for s in sorted(symbols) if (r := self.market_rules(s)) is not None}
        return self._base_snapshot(
            ts_event=_venue_time(raw_balance, raw_positions, observed),
            ts_observed=observed,
            equity=equity,
            balances=balances,
            positions=positions,
            orders=orders,
            markets=markets,
            fetch=FetchStatus(ok=True, latency_ms=round((time.monotonic() - started) * 1000, 3),
                              calls=op.calls, failed_calls=op.failed),
        )

    # --- parsing ccxt's unified structures ------------------------------------------------------------

    def _parse_position(self, p: Any) -> Optional[Position]:
        """A ccxt position structure → Position; None for a flat one. A live position without a
        field the engine needs makes the whole snapshot BAD_RESPONSE, never a silent gap."""
        if not isinstance(p, Mapping):
            raise _BadData("a position is not an object")
        contracts = _num(p.get("contracts"))
        if contracts is None or contracts == 0:
            return None
        symbol = p.get("symbol")
        side = p.get("side")
        if not isinstance(symbol, str) or not symbol:
            raise _BadData("a position has no symbol")
        if side not in ("long", "short"):
            side = "long" if contracts > 0 else "short" if contracts < 0 else None
        if side is None:
            raise _BadData(f"{symbol}: position without a side")
        contracts = abs(contracts)
        market = self._market(symbol) or {}
        contract_size = _num(p.get("contractSize")) or _num(market.get("contractSize")) or 1.0
        if contract_size <= 0:
            contract_size = 1.0
        notional = _num(p.get("notional"))
        mark = _num(p.get("markPrice"))
        if (mark is None or mark <= 0) and notional:
            mark = abs(notional) / (contracts * contract_size)
        if mark is None or mark <= 0:
            raise _BadData(f"{symbol}: position without a mark price")
        if notional is None:
            notional = contracts * contract_size * mark
        entry = _num(p.get("entryPrice"))
        upnl = _num(p.get("unrealizedPnl"))
        if upnl is None:
            if entry is None:
                raise _BadData(f"{symbol}: position without unrealized PnL or entry price")
            upnl = (mark - entry) * contracts * contract_size * (1 if side == "long" else -1)
        liq = _num(p.get("liquidationPrice"))
        margin = _num(p.get("initialMargin"))
        if margin is None:
            margin = _num(p.get("collateral"))
        leverage = _num(p.get("leverage"))
        return Position(
            symbol=symbol, side=side,
            position_side=_position_side(p.get("info"), p.get("hedged"), side),
            contracts=contracts, contract_size=contract_size, notional=abs(notional),
            entry_price=entry if entry and entry > 0 else None, mark_price=mark, unrealized_pnl=upnl,
            liquidation_price=liq if liq and liq > 0 else None,
            margin=margin, leverage=leverage if leverage and leverage > 0 else None,
        )

    def _strategy_of(self, client_id: Optional[str]) -> Optional[str]:
        if not client_id:
            return None
        for s in sorted(self.strategies, key=len, reverse=True):
            if client_id.startswith(s) and (len(client_id) == len(s) or client_id[len(s)] in "-_:."):
                return s
        return None

    def _parse_order(self, o: Any) -> Order:
        if not isinstance(o, Mapping):
            raise _BadData("an order is not an object")
        oid, symbol, side = o.get("id"), o.get("symbol"), o.get("side")
        if oid is None or not isinstance(symbol, str) or side not in ("buy", "sell"):
            raise _BadData("an open order without id, symbol or side")
        info = o.get("info") if isinstance(o.get("info"), Mapping) else {}
        ro = o.get("reduceOnly")
        if ro is None:
            ro = info.get("reduceOnly")
        client_id = o.get("clientOrderId")
        amount = _num(o.get("amount")) or 0.0
        filled = _num(o.get("filled")) or 0.0
        ps = _position_side(info, None, None)
        return Order(
            id=str(oid), client_id=str(client_id) if client_id else None, symbol=symbol, side=side,
            type=str(o.get("type") or "unknown"), reduce_only=ro is True or str(ro).lower() == "true",
            amount=abs(amount), filled=abs(filled), price=_num(o.get("price")) or None,
            position_side=ps, strategy=self._strategy_of(str(client_id) if client_id else None),
        )

    def _parse_balances(self, raw: Any, prices: Mapping[str, float]) -> list[Balance]:
        if not isinstance(raw, Mapping):
            raise _BadData("the balance is not an object")
        totals = raw.get("total") if isinstance(raw.get("total"), Mapping) else {}
        out = []
        for asset in sorted(totals):
            entry = raw.get(asset) if isinstance(raw.get(asset), Mapping) else {}
            total = _num(entry.get("total")) if entry else None
            if total is None:
                total = _num(totals.get(asset))
            free = _num(entry.get("free")) if entry else None
            used = _num(entry.get("used")) if entry else None
            if total is None:
                continue
            if total == 0 and not free and not used:
                continue
            out.append(Balance(asset=asset, free=free if free is not None else max(0.0, total - (used or 0.0)),
                               used=used or 0.0, total=total, price=prices.get(asset)))
        return out

    def _futures_equity(self, raw: Any) -> float:
        """Account equity in the quote currency, unrealized PnL included: the venue's account
        total where ccxt passes it through (Binance ``totalMarginBalance``, Bybit unified
        ``totalEquity``, OKX ``totalEq``), else ccxt's unified ``total`` of the quote currency."""
        if not isinstance(raw, Mapping):
            raise _BadData("the balance is not an object")
        info = raw.get("info")
        candidates: list[Any] = []
        if isinstance(info, Mapping):
            candidates.append(info.get("totalMarginBalance"))
            result = info.get("result")
            if isinstance(result, Mapping) and isinstance(result.get("list"), list) and result["list"]:
                first = result["list"][0]
                if isinstance(first, Mapping):
                    candidates.append(first.get("totalEquity"))
            data = info.get("data")
            if isinstance(data, list) and data and isinstance(data[0], Mapping):
                candidates.append(data[0].get("totalEq"))
        for c in candidates:
            v = _num(c)
            if v is not None:
                return v
        totals = raw.get("total") if isinstance(raw.get("total"), Mapping) else {}
        v = _num(totals.get(self.quote_currency))
        if v is None:
            entry = raw.get(self.quote_currency)
            v = _num(entry.get("total")) if isinstance(entry, Mapping) else None
        if v is None:
            raise _BadData(f"the balance has no {self.quote_currency} total and no account equity")
        return v

    async def _spot_prices(self, op: _Op, raw_balance: Any) -> dict[str, float]:
        """Last price in the quote currency of every held asset: 1 for the quote itself, the
        ticker of ASSET/QUOTE when that market exists, 1 for a stablecoin without one; assets
        without a price are left unvalued (and out of equity)."""
        if not isinstance(raw_balance, Mapping):
            raise _BadData("the balance is not an object")
        totals = raw_balance.get("total") if isinstance(raw_balance.get("total"), Mapping) else {}
        held = [a for a, t in totals.items() if (_num(t) or 0) != 0]
        prices: dict[str, float] = {}
        symbols = []
        for a in held:
            if a == self.quote_currency:
                prices[a] = 1.0
            elif self._market(f"{a}/{self.quote_currency}") is not None:
                symbols.append(f"{a}/{self.quote_currency}")
            elif a in self.stablecoins:
                prices[a] = 1.0
        if symbols:
            if self._has("fetchTickers"):
                tickers = await self._call(op, "fetch_tickers", symbols)
            else:
                got = await self._gather(*(self._call(op, "fetch_ticker", s) for s in symbols))
                tickers = {s: t for s, t in zip(symbols, got)}
            for s in symbols:
                t = (tickers or {}).get(s) if isinstance(tickers, Mapping) else None
                if not isinstance(t, Mapping):
                    continue
                price = _num(t.get("last")) or _num(t.get("close"))
                if price is None and _num(t.get("bid")) and _num(t.get("ask")):
                    price = (_num(t["bid"]) + _num(t["ask"])) / 2
                if price and price > 0:
                    prices[s.split("/", 1)[0]] = price
        return prices

    def _order_result(self, o: Any, client_order_id: str, amount: float) -> OrderResult:
        if not isinstance(o, Mapping):
            raise _BadData("the order answer is not an object")
        filled = abs(_num(o.get("filled")) or 0.0)
        total = abs(_num(o.get("amount")) or amount)
        raw = str(o.get("status") or "open").lower()
        status = _ORDER_STATUS.get(raw, raw)
        if status == "open" and filled > 0:
            status = "partially_filled" if filled < total else "filled"
        fee = None
        if isinstance(o.get("fee"), Mapping):
            fee = _num(o["fee"].get("cost"))
        elif isinstance(o.get("fees"), list):
            costs = [_num(f.get("cost")) for f in o["fees"] if isinstance(f, Mapping)]
            fee = sum(c for c in costs if c is not None) if any(c is not None for c in costs) else None
        ts = o.get("lastTradeTimestamp") or o.get("timestamp")
        oid = o.get("id")
        return OrderResult(
            client_order_id=str(o.get("clientOrderId") or client_order_id),
            order_id=str(oid) if oid not in (None, "") else None,
            status=status, filled=filled, amount=total,
            average_price=_num(o.get("average")) or None, fee=fee,
            ts_ms=int(ts) if isinstance(ts, (int, float)) else None,
        )

    # --- orders -------------------------------------------------------------------------------------

    async def submit(self, intent: OrderIntent) -> OrderResult:
        """Send one order of the engine.

        Before anything is sent: :func:`check_close` against the position this adapter knows
        for the intent's symbol and leg (re-fetched when unknown or older than
        ``position_max_age_s``), a hedge-mode leg that would grow rather than close refused
        (NOT_REDUCE_ONLY), a spot sell no larger than the holding, the amount rounded down to
        the market's step and checked against the minimum amount (and, for non-reduce-only
        orders, the minimum notional). Any refusal is an AdapterError and nothing reaches the venue.

        Then one ``create_order``: a market order, or a limit IOC at ``intent.limit_price`` (on
        the tick, never looser than the cap); ``reduceOnly``; the client order id
        (``newClientOrderId`` on Binance, ``clientOrderId`` elsewhere); the hedge-mode leg
        (Binance ``positionSide`` — without ``reduceOnly``, which Binance refuses in hedge mode —,
        Bybit ``positionIdx`` 1/2, OKX ``posSide``).

        Never retried. A TIMEOUT (or EXCHANGE_UNAVAILABLE) means the outcome is unknown: ask
        :meth:`fetch_order` with the same client order id before sending again.
        """

        async def body(op: _Op) -> OrderResult:
            await self._ensure_markets(op)
            market = self._require_market(intent.symbol)
            if intent.side not in ("buy", "sell"):
                raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: side {intent.side!r}", venue=self.venue)
            leg = self._leg_of(intent)
            if self.market_type == "futures":
                pos = await self._known_position(op, intent.symbol, leg)
                check_close(intent, self.market_type, pos.contracts if pos else None, self.venue)
            else:
                check_close(intent, self.market_type, None, self.venue)
                if intent.side == "sell":
                    await self._check_spot_holding(op, intent, market)
            amount = self.round_amount(intent.symbol, intent.amount)
            rules = self.market_rules(intent.symbol) or MarketRules()
            if amount <= 0 or amount < rules.min_amount:
                raise AdapterError(Reason.INVALID_ORDER,
                                   f"{intent.symbol}: amount {intent.amount:g} is below the market minimum "
                                   f"(step {rules.amount_step:g}, min {rules.min_amount:g})", venue=self.venue)
            price = None
            if intent.limit_price is not None:
                if intent.limit_price <= 0:
                    raise AdapterError(Reason.INVALID_ORDER, f"{intent.symbol}: limit price {intent.limit_price:g}",
                                       venue=self.venue)
                price = self._protected_price(intent.symbol, intent.limit_price, intent.side)
            if not intent.reduce_only and rules.min_notional:
                unit = price or (intent.notional / intent.amount if intent.amount else 0.0)
                if unit and amount * unit < rules.min_notional:
                    raise AdapterError(Reason.INVALID_ORDER,
                                       f"{intent.symbol}: notional {amount * unit:g} is below the minimum "
                                       f"{rules.min_notional:g}", venue=self.venue)
            params = self.order_params(intent)
            order_type = "market" if price is None else "limit"
            if price is not None:
                params["timeInForce"] = "IOC"
            raw = await self._call(op, "create_order", intent.symbol, order_type, intent.side, amount, price,
                                   params, retry=False, order=True)
            result = self._order_result(raw, intent.client_order_id, amount)
            self._after_send(intent.symbol, leg, result)
            return result

        try:
            return await self._run("submit", body)
        except AdapterError as e:
            if e.reason in (Reason.TIMEOUT, Reason.EXCHANGE_UNAVAILABLE, Reason.UNKNOWN, Reason.BAD_RESPONSE,
                            Reason.REDUCE_ONLY_REJECTED):
                # unknown outcome, or the venue knows a smaller position: re-fetch before the next close
                self._forget_positions(intent.symbol)
            raise

    def _leg_of(self, intent: OrderIntent) -> str:
        """The position ('long' / 'short') an intent closes; a hedge leg it would grow is refused."""
        closes = "long" if intent.side == "sell" else "short"
        ps = (intent.position_side or "").upper()
        if ps in ("LONG", "SHORT"):
            if ps.lower() != closes and self.market_type == "futures":
                raise AdapterError(Reason.NOT_REDUCE_ONLY,
                                   f"{intent.symbol}: a {intent.side} on the {ps} leg would grow it, not close it",
                                   venue=self.venue)
            return ps.lower()
        return closes

    def order_params(self, intent: OrderIntent) -> dict:
        """The venue parameters of an intent: client order id, reduce-only, hedge-mode leg."""
        params: dict[str, Any] = {}
        binance = self.venue in BINANCE_FAMILY
        params["newClientOrderId" if binance else "clientOrderId"] = intent.client_order_id
        futures = self.market_type == "futures"
        if not futures:
            return params  # spot: no reduce-only, no legs
        reduce_only = bool(intent.reduce_only)
        if self.hedge_mode:
            leg = "LONG" if intent.side == "sell" else "SHORT"
            if (intent.position_side or "").upper() in ("LONG", "SHORT"):
                leg = intent.position_side.upper()
            if binance:
                params["positionSide"] = leg  # Binance refuses reduceOnly in hedge mode (-1106):
                reduce_only = False  # a SELL on LONG can only close, and no more than the leg holds
            elif self.venue == "bybit":
                params["positionIdx"] = 1 if leg == "LONG" else 2
            elif self.venue == "okx":
                params["posSide"] = leg.lower()  # long/short mode: closing is the leg's nature;
                reduce_only = False  # okx takes reduceOnly in net mode only (ccxt omits it too)
            else:
                params["hedged"] = True
        if reduce_only:
            params["reduceOnly"] = True
        return params

    async def _known_position(self, op: _Op, symbol: str, leg: str) -> Optional[Position]:
        at = self._positions_at.get(symbol, self._positions_all_at)
        fresh = at is not None and time.monotonic() - at <= self.position_max_age_s
        if not fresh:
            await self._refresh_positions(op, symbol)
        return self._positions.get((symbol, leg))

    async def _refresh_positions(self, op: _Op, symbol: str) -> None:
        if not self._has("fetchPositions"):
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} cannot report positions", venue=self.venue)
        raw = await self._call(op, "fetch_positions", [symbol])
        try:
            parsed = [p for p in (self._parse_position(x) for x in (raw or [])) if p is not None]
        except (_BadData, ValueError) as e:
            err = AdapterError(Reason.BAD_RESPONSE, scrub(f"fetch_positions: {e}", self._secrets), venue=self.venue)
        else:
            err = None
        if err is not None:
            raise err
        for key in [k for k in self._positions if k[0] == symbol]:
            del self._positions[key]
        for p in parsed:
            if p.symbol == symbol:
                self._positions[(p.symbol, p.side)] = p
        self._positions_at[symbol] = time.monotonic()

    def _forget_positions(self, symbol: str) -> None:
        self._positions_at[symbol] = -math.inf  # stale whatever the last full fetch says
        self._holdings_at = None

    def _after_send(self, symbol: str, leg: str, result: OrderResult) -> None:
        """What the known position has left: less what filled, and less what may still fill
        while the order rests (so that chunks never add up beyond the position)."""
        gone = result.filled if result.status in ("canceled", "expired", "rejected") else max(result.filled, result.amount)
        if self.market_type != "futures":
            base = (self._market(symbol) or {}).get("base") or symbol.split("/", 1)[0]
            held = self._holdings.get(base)
            if held is not None and leg == "long":  # a sell
                total = max(0.0, held.total - gone)
                self._holdings[base] = held.model_copy(update={"total": total, "free": max(0.0, min(held.free, total))})
            return
        pos = self._positions.get((symbol, leg))
        if pos is None:
            return
        left = pos.contracts - gone
        if left <= pos.contracts * 1e-9:
            del self._positions[(symbol, leg)]
        else:
            self._positions[(symbol, leg)] = pos.model_copy(
                update={"contracts": left, "notional": pos.notional * left / pos.contracts})

    async def _check_spot_holding(self, op: _Op, intent: OrderIntent, market: Mapping) -> None:
        base = market.get("base") or intent.symbol.split("/", 1)[0]
        fresh = self._holdings_at is not None and time.monotonic() - self._holdings_at <= self.position_max_age_s
        if not fresh:
            raw = await self._call(op, "fetch_balance")
            try:
                self._holdings = {b.asset: b for b in self._parse_balances(raw, {})}
            except (_BadData, ValueError) as e:
                err = AdapterError(Reason.BAD_RESPONSE, scrub(f"fetch_balance: {e}", self._secrets), venue=self.venue)
            else:
                err = None
            if err is not None:
                raise err
            self._holdings_at = time.monotonic()
        held = self._holdings.get(base)
        have = held.total if held else 0.0
        if intent.amount > have * (1 + 1e-9):
            raise AdapterError(Reason.CLOSE_EXCEEDS_POSITION,
                               f"{intent.symbol}: sell of {intent.amount:g} exceeds the holding of {have:g} {base}",
                               venue=self.venue)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult:
        """The order with this client order id (Binance ``origClientOrderId``, OKX ``clOrdId``,
        Bybit ``orderLinkId`` over open then closed orders, elsewhere ``clientOrderId``).
        ORDER_NOT_FOUND when the venue has no such order."""

        async def body(op: _Op) -> OrderResult:
            await self._ensure_markets(op)
            self._require_market(symbol)
            if self.venue == "bybit":
                for method in ("fetch_open_orders", "fetch_closed_orders"):
                    got = await self._call(op, method, symbol, None, None, {"orderLinkId": client_order_id})
                    match = [o for o in (got or []) if isinstance(o, Mapping)
                             and o.get("clientOrderId") in (None, client_order_id)]
                    if match:
                        return self._order_result(match[0], client_order_id, _num(match[0].get("amount")) or 0.0)
                raise AdapterError(Reason.ORDER_NOT_FOUND, f"{symbol}: no order {client_order_id}", venue=self.venue)
            if self.venue in BINANCE_FAMILY:
                params = {"origClientOrderId": client_order_id}
            elif self.venue == "okx":
                params = {"clOrdId": client_order_id}
            else:
                params = {"clientOrderId": client_order_id}
            raw = await self._call(op, "fetch_order", None, symbol, params)
            if raw is None:
                raise AdapterError(Reason.ORDER_NOT_FOUND, f"{symbol}: no order {client_order_id}", venue=self.venue)
            amount = _num(raw.get("amount")) if isinstance(raw, Mapping) else None
            return self._order_result(raw, client_order_id, amount or 0.0)

        return await self._run("fetch_order", body)

    # --- cancels ---------------------------------------------------------------------------------------

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult:
        """Cancel open orders: ``order_ids`` if given, else every order of ``selector.symbols``
        (all symbols when empty), all of them or only entries (non-reduce-only). A whole symbol
        goes through ``cancel_all_orders`` when the venue has it; otherwise, and for entries,
        one ``cancel_order`` per order. Per-order failures are reported, not raised; failing
        to list the open orders raises."""

        async def body(op: _Op) -> CancelResult:
            await self._ensure_markets(op)
            if selector.which not in ("all", "entries"):
                raise AdapterError(Reason.INVALID_ORDER, f"cancel which={selector.which!r}", venue=self.venue)
            failed: dict[str, str] = {}
            canceled: list[str] = []
            if selector.order_ids:
                known = self._orders
                if any(i not in known for i in selector.order_ids):
                    known = await self._list_open(op)
                targets = []
                for oid in selector.order_ids:
                    if oid in known:
                        targets.append(known[oid])
                    else:
                        failed[oid] = Reason.ORDER_NOT_FOUND.value
                await self._cancel_each(op, targets, canceled, failed)
                return CancelResult(tuple(canceled), failed)

            open_orders = await self._list_open(op, selector.symbols)
            wanted = set(selector.symbols)
            by_symbol: dict[str, list[Order]] = {}
            for o in open_orders.values():
                if wanted and o.symbol not in wanted:
                    continue
                if selector.which == "entries" and o.reduce_only:
                    continue
                by_symbol.setdefault(o.symbol, []).append(o)
            for symbol in sorted(by_symbol):
                orders = by_symbol[symbol]
                if selector.which == "all" and self._has("cancelAllOrders"):
                    try:
                        await self._call(op, "cancel_all_orders", symbol, order=True)
                    except AdapterError as e:
                        failed.update({o.id: e.reason.value for o in orders})
                    else:
                        canceled.extend(o.id for o in orders)
                else:
                    await self._cancel_each(op, orders, canceled, failed)
            for oid in canceled:
                self._orders.pop(oid, None)
            return CancelResult(tuple(canceled), failed)

        return await self._run("cancel_orders", body)

    async def _list_open(self, op: _Op, symbols: tuple[str, ...] = ()) -> dict[str, Order]:
        if len(symbols) == 1:
            raw = await self._call(op, "fetch_open_orders", symbols[0])
        else:
            raw = await self._call(op, "fetch_open_orders")
        try:
            orders = [self._parse_order(o) for o in (raw or [])]
        except (_BadData, ValueError) as e:
            err = AdapterError(Reason.BAD_RESPONSE, scrub(f"fetch_open_orders: {e}", self._secrets), venue=self.venue)
        else:
            err = None
        if err is not None:
            raise err
        listed = {o.id: o for o in orders}
        if not symbols:
            self._orders = dict(listed)
        return listed

    async def _cancel_each(self, op: _Op, orders: list[Order], canceled: list[str], failed: dict[str, str]) -> None:
        for o in orders:
            try:
                await self._call(op, "cancel_order", o.id, o.symbol, order=True)
            except AdapterError as e:
                failed[o.id] = e.reason.value
            else:
                canceled.append(o.id)
                self._orders.pop(o.id, None)

    # --- dead man's switch ---------------------------------------------------------------------------

    async def arm_cancel_all_after(self, seconds: float, symbols: tuple[str, ...] = ()) -> DmsStatus:
        """Arm the venue's own dead man's switch: every open order is cancelled by the venue if
        it is not re-armed within ``seconds``.

        * Binance USD-M / COIN-M: ``countdownCancelAll`` per symbol (``countdownTime`` in ms):
          ``symbols``, else every symbol with an open order or position known or listed now
          (none at all: nothing is armed and ``armed`` is False).
        * OKX: ``trade/cancel-all-after`` (``timeOut`` clamped to 10–120 s), account-wide.
        * Bybit: ``order/disconnected-cancel-all`` (``timeWindow`` clamped to 3–300 s), only with
          ``bybit_dcp_websocket`` (it fires on a private-websocket disconnect, not a REST silence).
        * elsewhere: AdapterError(UNSUPPORTED).

        ``DmsStatus.seconds`` is the value the venue was given (after clamping)."""
        kind = self._dms_kind()
        if kind is None:
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} ({self.market_type}) has no native cancel-all-after",
                               venue=self.venue)
        if not seconds or seconds <= 0:
            raise AdapterError(Reason.INVALID_ORDER, "cancel-all-after needs a positive number of seconds; "
                               "use disarm_cancel_all_after to turn it off", venue=self.venue)

        async def body(op: _Op) -> DmsStatus:
            await self._ensure_markets(op)
            if kind.startswith("binance"):
                targets = list(symbols) or await self._dms_symbols(op)
                for s in targets:
                    await self._countdown(op, kind, s, int(round(seconds * 1000)))
                    self._armed[s] = float(seconds)
                if not targets:  # no open order or position anywhere: no countdown runs
                    return DmsStatus(armed=False, seconds=None)
                return DmsStatus(armed=True, seconds=float(seconds))
            if kind == "okx":
                n = int(min(max(math.ceil(seconds), OKX_DMS_RANGE[0]), OKX_DMS_RANGE[1]))
                await self._call(op, "privatePostTradeCancelAllAfter", {"timeOut": str(n)})
                return DmsStatus(armed=True, seconds=float(n))
            n = int(min(max(math.ceil(seconds), BYBIT_DCP_RANGE[0]), BYBIT_DCP_RANGE[1]))
            product = "DERIVATIVES" if self.market_type == "futures" else "SPOT"
            await self._call(op, "privatePostV5OrderDisconnectedCancelAll", {"product": product, "timeWindow": n})
            return DmsStatus(armed=True, seconds=float(n))

        return await self._run("arm_cancel_all_after", body)

    async def disarm_cancel_all_after(self, symbols: tuple[str, ...] = ()) -> DmsStatus:
        """Turn the venue's dead man's switch off (Binance: countdown 0 for ``symbols``, else for
        every symbol armed by this adapter; OKX: ``timeOut`` 0). Bybit's DCP window cannot be
        turned off over the API (only through the account manager): UNSUPPORTED."""
        kind = self._dms_kind()
        if kind is None:
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} ({self.market_type}) has no native cancel-all-after",
                               venue=self.venue)
        if kind == "bybit":
            raise AdapterError(Reason.UNSUPPORTED, "bybit DCP cannot be disarmed over the API; it only fires on a "
                               "private websocket disconnect", venue=self.venue)

        async def body(op: _Op) -> DmsStatus:
            await self._ensure_markets(op)
            if kind.startswith("binance"):
                targets = list(symbols) or sorted(self._armed)
                for s in targets:
                    await self._countdown(op, kind, s, 0)
                    self._armed.pop(s, None)
                return DmsStatus(armed=bool(self._armed), seconds=None)
            await self._call(op, "privatePostTradeCancelAllAfter", {"timeOut": "0"})
            return DmsStatus(armed=False, seconds=None)

        return await self._run("disarm_cancel_all_after", body)

    async def _countdown(self, op: _Op, kind: str, symbol: str, ms: int) -> None:
        market = self._require_market(symbol)
        method = "fapiPrivatePostCountdownCancelAll" if kind == "binance_fapi" else "dapiPrivatePostCountdownCancelAll"
        await self._call(op, method, {"symbol": market["id"], "countdownTime": ms})

    async def _dms_symbols(self, op: _Op) -> list[str]:
        found = {o.symbol for o in (await self._list_open(op)).values()}
        found |= {k[0] for k in self._positions} | set(self._armed)
        return sorted(found)

    # --- lifecycle ------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close ccxt's HTTP session (bounded by the timeout; errors are swallowed)."""
        closer = getattr(self._ex, "close", None)
        if closer is None:
            return
        try:
            await asyncio.wait_for(closer(), self.timeout)
        except Exception as e:  # noqa: BLE001
            log.debug("%s/%s close: %s", self.venue, self.account, reason_for(e).value)

    def __repr__(self) -> str:
        return f"CcxtAdapter(venue={self.venue!r}, account={self.account!r}, market_type={self.market_type!r})"


# --- module helpers -------------------------------------------------------------------------------


def _quiet_ccxt_logger() -> logging.Logger:
    """ccxt writes request headers (the API key among them) at DEBUG: give it a logger of its
    own pinned at WARNING."""
    lg = logging.getLogger(f"{__name__}.ccxt")
    lg.setLevel(logging.WARNING)
    return lg


def _default_factory(venue: str) -> Callable[[dict], Any]:
    def build(config: dict) -> Any:
        import ccxt.async_support as ccxt_async  # lazy

        cls = getattr(ccxt_async, venue, None)
        if cls is None or not isinstance(cls, type):
            raise AdapterError(Reason.UNSUPPORTED, f"ccxt has no exchange {venue!r}", venue=venue)
        return cls(config)

    return build


_HOST_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+", re.I)


def _rehost(api: Any, base: str) -> Any:
    """Every URL of ccxt's ``urls['api']`` moved onto ``base`` (scheme and host), path kept."""
    if isinstance(api, str):
        return _HOST_RE.sub(base, api, count=1) if _HOST_RE.match(api) else api
    if isinstance(api, dict):
        return {k: _rehost(v, base) for k, v in api.items()}
    return api


def _deep_merge(into: dict, extra: Mapping) -> None:
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _deep_merge(into[k], v)
        else:
            into[k] = dict(v) if isinstance(v, Mapping) else v


__all__ = ["CcxtAdapter", "OrderBudget", "reason_for", "is_reduce_only_rejection", "scrub"]


def strict_json(exchange: Any) -> Any:
    """Make a ccxt instance raise ``ccxt.BadResponse`` on a body that does not parse as JSON.

    Stock ccxt swallows the parse error and hands the raw text on: ``fetch_positions`` then
    returns ``[]`` — a cut-off answer read as "flat", the worst mistake a kill switch can make."""

    def loads(text: str) -> Any:
        import ccxt

        try:
            return json.loads(text)
        except ValueError:
            raise ccxt.BadResponse(f"{getattr(exchange, 'id', 'exchange')} answered malformed JSON") from None

    exchange.on_json_response = loads
    return exchange
