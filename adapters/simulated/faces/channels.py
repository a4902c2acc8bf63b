"""The shape the websocket faces of OKX v5 and Bitget v2 share: ``op``/``args`` requests on a
socket per path, a login signed with the key's secret and passphrase, channels, marks on a cadence.

What it owns: :class:`ChannelFace`, whose venue fills its tables (``PATHS``, ``REFUSALS``, the
path a login signs ``VERIFY`` and its answer ``LOGGED_IN``, the marks' channel and cadences) and
writes its subscriptions, rows and frames. What it must not do: keep exchange state (the
engine's), or know a venue's channels or fields (its subclass's).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any, Callable, Mapping, Optional

from aiohttp import web

from ..changes import AccountChanged, AlgoChanged, Change, MarkSet, OrderChanged
from ..engine import MarketSpec
from .push import PushFace, _Socket, dumps
from .shared import signs

LOGIN_WINDOW_S = 30  # a login stamped further than this from the server's clock is refused


class ChannelFace(PushFace):
    """A socket per path; requests ``{"op": ..., "args": [...]}``; a login, then channels."""

    PATHS: Mapping[str, str] = {}  # path → the kind of socket (public, private, business)
    # what went wrong → (code, message) as the venue says it ("{data}": the request)
    REFUSALS: Mapping[str, tuple[Any, str]] = {}
    VERIFY = ""  # what a login signs after its timestamp
    LOGGED_IN: Mapping[str, Any] = {}  # the answer to a login
    MARK_EVERY_MS = 0  # a changed mark is pushed at most this often
    QUIET_EVERY_MS = 0  # an unchanged mark is pushed this often
    MARK_CHANNEL = ""  # the public channel of a market's mark (a socket's stream "<channel>:<instrument>")
    UNTOLD_ALGOS: tuple[str, ...] = ()  # the engine's conditional order types the venue pushes elsewhere

    def __init__(self, server: Any, *, mark_every_ms: Optional[int] = None, quiet_every_ms: Optional[int] = None,
                 tick_s: float = 0.05, auth_clock: Optional[Callable[[], int]] = None):
        super().__init__(server, tick_s=tick_s, auth_clock=auth_clock)
        self.mark_every_ms = self.MARK_EVERY_MS if mark_every_ms is None else mark_every_ms
        self.quiet_every_ms = self.QUIET_EVERY_MS if quiet_every_ms is None else quiet_every_ms

    def add_routes(self, app: web.Application) -> None:
        for path in self.PATHS:
            app.router.add_get(path, self._open)

    async def _open(self, request: web.Request) -> web.StreamResponse:
        return await self._accept(request, path=self.PATHS[request.path], args={}, marks={})

    # --- what the venue writes: its answers, subscriptions, a mark's frame and a change's rows -------

    _error: Callable[..., None]
    _subscribe: Callable[[_Socket, str, Any], None]
    _instrument: Callable[[MarketSpec], str]  # the venue's instrument id of an engine market
    _mark_frame: Callable[[MarketSpec, float, int, Optional[dict]], dict]  # (market, price, ts, subscription)
    _changed: Callable[[_Socket, str, Any, int], None]  # a change's rows (a feed's message) pushed on a channel
    _order_row: Callable[[OrderChanged], dict]
    _algo_row: Callable[[AlgoChanged], dict]
    _position_rows: Callable[[AccountChanged], list]  # the positions channel's rows of an account's change
    _account_row: Callable[[str, int], dict]

    def _refuse(self, sock: _Socket, what: str, data: str = "") -> None:
        code, msg = self.REFUSALS[what]
        self._error(sock, code, msg.format(data=data))

    # --- requests -----------------------------------------------------------------------------------

    def _command(self, sock: _Socket, data: str) -> None:
        if data == "ping":
            sock.queue.put_nowait((None, "pong"))
            return
        try:
            req = json.loads(data)
            op, args = req.get("op"), req.get("args")
        except (ValueError, AttributeError):
            self._refuse(sock, "illegal", data[:200])
            return
        if not isinstance(args, list) or not args:
            self._refuse(sock, "args")
        elif op == "login":
            self._login(sock, args[0])
        elif op in ("subscribe", "unsubscribe"):
            for arg in args:
                self._subscribe(sock, op, arg)
        else:
            self._refuse(sock, "op", str(op))

    def _login(self, sock: _Socket, arg: Any) -> None:
        if sock.pushed["path"] == "public":
            return self._refuse(sock, "public")
        arg = arg if isinstance(arg, dict) else {}
        key, stamp = str(arg.get("apiKey") or ""), str(arg.get("timestamp") or "")
        account = self.engine.account_for_key(key) if key else None
        if account is None:
            return self._refuse(sock, "key")
        creds = self.engine.permissions.credentials(key)
        secret, passphrase = creds if creds is not None else (self.engine.secret(account),
                                                              self.engine.accounts[account].spec.passphrase)
        if not hmac.compare_digest(str(arg.get("passphrase") or ""), passphrase):
            return self._refuse(sock, "passphrase")
        if not stamp.isdigit() or abs(int(stamp) - self.auth_clock() // 1000) > LOGIN_WINDOW_S:
            return self._refuse(sock, "expired")
        if not signs(secret, f"{stamp}{self.VERIFY}", str(arg.get("sign") or ""), b64=True):
            return self._refuse(sock, "sign")
        sock.owner = account
        self._say(sock, dict(self.LOGGED_IN))

    def _subscribed(self, sock: _Socket, op: str, arg: dict, inst: Any, kept: dict) -> bool:
        """A subscription's answer said; its stream (the channel's, a mark's of ``inst``) ended on
        an ``unsubscribe`` (False), else started with ``kept``, the arguments its pushes name (True)."""
        channel = arg.get("channel")
        key = f"{channel}:{inst}" if channel == self.MARK_CHANNEL else str(channel)
        self._say(sock, {"event": op, "arg": arg})
        if op == "unsubscribe":
            sock.streams.discard(key)
            return False
        sock.streams.add(key)
        sock.pushed["args"][key] = kept
        return True

    # --- pushes -------------------------------------------------------------------------------------

    def _on_change(self, c: Change) -> None:
        if isinstance(c, MarkSet):
            self._mark_set(c)
        elif isinstance(c, OrderChanged):
            self._tell(c.account, "orders", lambda: [self._order_row(c)], c.ts)
        elif isinstance(c, AlgoChanged):
            # the engine's own step (TRIGGERING): the venues say nothing between live and fired
            if c.status != "TRIGGERING" and c.order.order_type not in self.UNTOLD_ALGOS:
                self._tell(c.account, "orders-algo", lambda: [self._algo_row(c)], c.ts)
        elif isinstance(c, AccountChanged):
            self._tell(c.account, "positions", lambda: self._position_rows(c), c.ts)
            self._tell(c.account, "account", lambda: [self._account_row(c.account, c.ts)], c.ts)

    def _mark_set(self, c: MarkSet) -> None:
        key = f"{self.MARK_CHANNEL}:{self._instrument(self.engine.markets[c.symbol])}"
        for s in self.sockets:
            if key in s.streams:
                self._mark(s, c.symbol, c.ts, c.price)

    def _mark(self, s: _Socket, symbol: str, ts: int, price: Optional[float] = None) -> None:
        """``symbol``'s mark (``price``, else the engine's at ``ts``) pushed to ``s``, and noted
        for the cadence."""
        eng = self.engine
        if symbol not in eng.paths:
            return
        m = eng.markets[symbol]
        px = eng.mark(symbol, ts) if price is None else price
        s.pushed["marks"][symbol] = (asyncio.get_event_loop().time(), px, ts)
        arg = s.pushed["args"].get(f"{self.MARK_CHANNEL}:{self._instrument(m)}")
        s.queue.put_nowait(("market", dumps(self._mark_frame(m, px, ts, arg))))

    def _watch_mark(self, s: _Socket, m: MarketSpec, on: bool, now: int) -> None:
        """``m``'s mark stream on ``s`` started (its mark pushed at once, ``now``) or ended."""
        key = f"{self.MARK_CHANNEL}:{self._instrument(m)}"
        if not on:
            s.streams.discard(key)
            s.pushed["marks"].pop(m.symbol, None)
            return
        s.streams.add(key)
        self._mark(s, m.symbol, now)

    def _tell(self, account: str, channel: str, rows: Callable[[], Any], ts: int) -> None:
        """``rows`` (made once, when a socket of ``account`` subscribed to ``channel``) pushed to each."""
        targets = self._to(account, channel)
        data = rows() if targets else []
        for s in targets:
            self._changed(s, channel, data, ts)

    def _pump_round(self, now: int, t: float) -> None:
        eng = self.engine
        for s in list(self.sockets):
            for symbol, (at, px, ts) in list(s.pushed["marks"].items()):
                if now <= ts:
                    continue  # the venue's clock has not moved since: a push of that time again is a duplicate
                quiet = t - at >= self.quiet_every_ms / 1000
                if quiet or (t - at >= self.mark_every_ms / 1000 and eng.mark(symbol, now) != px):
                    self._mark(s, symbol, now)


__all__ = ["LOGIN_WINDOW_S", "ChannelFace"]
