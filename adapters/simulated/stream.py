"""The websocket face of the simulated exchange: Binance USDⓈ-M's user data stream and mark prices.

:class:`StreamFace` lives on the :class:`adapters.simulated.http.SimServer`'s aiohttp app and
port, beside the REST face, and speaks what ``ccxt.pro.binanceusdm`` (4.5.90) speaks:

REST     ``POST /fapi/v1/listenKey`` → ``{"listenKey": "..."}`` (an account with a live key gets
         that key back, its validity extended), ``PUT`` keepalive (-1125 "This listenKey does
         not exist." once it expired or was deleted), ``DELETE``; authenticated by
         ``X-MBX-APIKEY`` alone, no signature, as Binance does. A key lives 60 minutes on the
         engine clock, each keepalive another 60 from then.
sockets  ``/ws/<listenKey>``, ``/ws`` and Binance's split paths ccxt builds from
         ``urls['api']['ws']['linear'] = ws://127.0.0.1:PORT/ws``: ``/private/ws?listenKey=<key>``
         (user data), ``/market/ws/<n>`` and ``/public/ws/<n>`` (``<n>`` is ccxt's connection
         index, ignored). A socket with a key gets that key's account's ``ACCOUNT_UPDATE``,
         ``ORDER_TRADE_UPDATE`` and ``ALGO_UPDATE`` (each change of a conditional order of the
         algo service) events and ``listenKeyExpired``; every socket takes
         ``{"method": "SUBSCRIBE", "params": [...], "id": N}`` (answered ``{"result": null,
         "id": N}``), ``UNSUBSCRIBE`` and ``LIST_SUBSCRIPTIONS`` for ``<symbol>@markPrice``,
         ``<symbol>@markPrice@1s``, ``!markPrice@arr`` and ``!markPrice@arr@1s``
         (``markPriceUpdate`` events; a path tail with an ``@`` subscribes that stream too).
         The bare ``/ws`` is Hyperliquid's and MEXC spot's path too: a socket there whose first
         request is another venue's (:attr:`StreamFace.shared`, each face's ``claims``), or
         whose ``listenKey`` is (its ``claims_key``), is that face's.

Events are rendered from the engine's change hooks (:mod:`.changes`) with the fields Binance
sends, stamped ``E``/``T`` with the engine clock at the change. Marks from price paths are pushed
at Binance's cadence (3 s, 1 s for ``@1s``; ``mark_every_ms`` / ``mark_every_1s_ms`` change it).
A mark set with :meth:`SimExchange.set_mark` is pushed at once, stamped when it was set: the
simulator's choice, so that a bench measures the pipeline from the venue's event; on the real
venue the mark stream's cadence adds up to 1 s (``@1s``) to that reaction.

Faults come from the engine's :class:`FaultPlan` (kinds ``stream_*`` and ``listen_key_expired``,
see :mod:`.faults`), matched once per event a socket is about to send, on the operation
``stream`` and the endpoint ``stream:user`` or ``stream:market``, with the socket's account;
``listen_key`` is matched for every live key at each tick of the face and at each keepalive.
Subscription answers are never faulted. :meth:`FaultPlan.switch_off` stops a rule at run time.

What it owns: listen keys, sockets and their subscriptions, the rendering of changes as Binance
events and the meaning of each stream fault. What it must not do: keep exchange state (the
engine does), call the engine's charged methods (a stream costs no weight), or listen anywhere
the server does not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from aiohttp import WSMsgType, web

from .changes import AccountChanged, AlgoChanged, Change, MarkSet, OrderChanged
from .engine import SimExchange
from .faces.push import UNKNOWN_EVENT, PushFace, _Socket, dumps, malformed
from .faults import FaultKind, FaultPlan, first
from .numbers import digits as _digits, fixed as _f, money_text as _money

LISTEN_KEY_MS = 60 * 60_000  # a key's validity, extended by each keepalive
FUNDING_MS = 8 * 3600_000  # funding every 8 hours: a markPriceUpdate's ``T``
MARK_STREAM = "markPrice"
class ListenKeyError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400):
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class ListenKey:
    key: str
    account: str
    expires_ms: int  # engine ms
    expired: bool = False


class ListenKeys:
    """The venue's listen keys on the engine clock: one live key per account, as Binance keeps
    them (a POST while one lives returns it, extended); a key that expired or was deleted is
    gone for good, and the next POST issues a new one."""

    def __init__(self, seed: int = 0, validity_ms: int = LISTEN_KEY_MS):
        self.validity_ms = validity_ms
        self.seed = seed
        self.keys: dict[str, ListenKey] = {}
        self._issued = 0

    def live(self, account: str, now: int) -> Optional[ListenKey]:
        for k in self.keys.values():
            if k.account == account and not k.expired and k.expires_ms > now:
                return k
        return None

    def issue(self, account: str, now: int) -> ListenKey:
        k = self.live(account, now)
        if k is None:
            self._issued += 1
            text = hashlib.sha256(f"{self.seed}:{account}:{self._issued}".encode()).hexdigest()
            k = self.keys[text] = ListenKey(text, account, now + self.validity_ms)
        k.expires_ms = now + self.validity_ms
        return k

    def keepalive(self, account: str, now: int) -> ListenKey:
        k = self.live(account, now)
        if k is None:
            raise ListenKeyError(-1125, "This listenKey does not exist.")
        k.expires_ms = now + self.validity_ms
        return k

    def delete(self, account: str, now: int) -> Optional[ListenKey]:
        k = self.live(account, now)
        if k is not None:
            k.expired = True
        return k

    def due(self, now: int) -> list[ListenKey]:
        """Keys whose validity ran out and are not yet marked expired (marked now)."""
        out = [k for k in self.keys.values() if not k.expired and k.expires_ms <= now]
        for k in out:
            k.expired = True
        return out


class ListenKeyed:
    """A websocket face whose private pushes a listen key authorizes (Binance's, MEXC spot's): a
    key's end by a LISTEN_KEY_EXPIRED fault or a test's switch, the face saying it its way."""

    keys: ListenKeys
    engine: SimExchange
    _expire: Callable[[ListenKey], None]  # the key is gone: its sockets told, no more private pushes

    def _end_authorization(self, s: _Socket) -> bool:
        if not isinstance(s.key, ListenKey):  # (this face's sockets hold its listen keys, or none)
            return False
        self._expire(s.key)
        return True

    def expire(self, account: str) -> Optional[str]:
        """Expire ``account``'s live key now (a test's switch; a FaultPlan rule does the same)."""
        k = self.keys.live(account, self.engine.now())
        if k is not None:
            self._expire(k)
        return k.key if k is not None else None


def mark_price_update(engine: SimExchange, symbol: str, price: float, ts: int) -> dict[str, Any]:
    """A ``markPriceUpdate`` with every field Binance sends (index and settle price at the mark:
    the simulator has one price; a flat funding rate)."""
    pd = _digits(engine.markets[symbol])[0]
    mark = _f(price, pd + 6)
    return {"e": "markPriceUpdate", "E": ts, "s": symbol, "p": mark, "i": mark, "P": mark,
            "r": "0.00010000", "T": (ts // FUNDING_MS + 1) * FUNDING_MS}


def account_update(engine: SimExchange, c: AccountChanged) -> dict[str, Any]:
    positions = []
    for leg in c.legs:
        pd, ad = _digits(engine.markets[leg.symbol])
        positions.append({"s": leg.symbol, "pa": _f(leg.amount, ad), "ep": _f(leg.entry, pd + 2),
                          "bep": _f(leg.entry, pd + 2), "cr": _money(leg.realized), "up": _money(leg.unrealized),
                          "mt": "cross", "iw": "0", "ps": leg.position_side, "ma": "USDT"})
    return {"e": "ACCOUNT_UPDATE", "E": c.ts, "T": c.ts, "a": {
        "m": c.reason, "B": [{"a": "USDT", "wb": _money(c.wallet), "cw": _money(c.wallet),
                              "bc": _money(c.balance_change)}], "P": positions}}


def order_trade_update(engine: SimExchange, c: OrderChanged) -> dict[str, Any]:
    o = c.order
    pd, ad = _digits(engine.markets[o.symbol])
    d: dict[str, Any] = {
        "s": o.symbol, "c": o.client_order_id, "S": o.side, "o": o.type, "f": o.time_in_force,
        "q": _f(o.quantity, ad), "p": _f(o.price, pd), "ap": _f(o.avg_price, pd + 3), "sp": "0",
        "x": c.execution, "X": o.status, "i": o.order_id, "l": _f(c.last_qty, ad), "z": _f(o.executed_qty, ad),
        "L": _f(c.last_price, pd), "T": c.ts, "t": c.trade_id, "b": "0", "a": "0", "m": c.maker, "R": o.closes,
        "wt": "CONTRACT_PRICE", "ot": o.type, "ps": o.position_side, "cp": False, "rp": _money(c.realized),
        "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0,
    }
    if c.execution == "TRADE":  # Binance pushes the commission only with a trade
        d["N"], d["n"] = "USDT", _money(c.fee)
    return {"e": "ORDER_TRADE_UPDATE", "E": c.ts, "T": c.ts, "o": d}


def algo_update(engine: SimExchange, c: AlgoChanged) -> dict[str, Any]:
    """An ``ALGO_UPDATE`` with the fields Binance documents for a conditional order of the algo
    service: its algo status ``X``; the order it became (``ai``, its average price ``ap``, filled
    quantity ``aq`` and type ``act``) once TRIGGERED; ``T`` and ``E`` the engine clock at the change."""
    o = c.order
    pd, ad = _digits(engine.markets[o.symbol])
    d: dict[str, Any] = {
        "caid": o.client_algo_id, "aid": o.algo_id, "at": "CONDITIONAL", "o": o.order_type, "s": o.symbol,
        "S": o.side, "ps": o.position_side, "f": o.time_in_force, "q": _f(o.quantity, ad), "X": c.status, "ai": "",
        "tp": _f(o.trigger_price, pd), "p": _f(o.price, pd), "V": "EXPIRE_MAKER", "wt": o.working_type, "pm": "NONE",
        "cp": o.close_position, "pP": o.price_protect, "R": o.reduce_only, "tt": o.trigger_time, "gtd": 0,
    }
    if c.actual is not None:
        a = c.actual
        d.update({"ai": str(a.order_id), "ap": _f(a.avg_price, pd + 3), "aq": _f(a.executed_qty, ad), "act": a.type})
    if c.status == "REJECTED":
        d["rm"] = "Reduce Only reject" if o.closes else "Margin is insufficient"
    return {"e": "ALGO_UPDATE", "T": c.ts, "E": c.ts, "o": d}


def _stream_ok(name: str, markets: dict) -> bool:
    parts = name.split("@")
    if parts[0] == "!markPrice":
        return parts[1:] in (["arr"], ["arr", "1s"])
    return len(parts) in (2, 3) and parts[1] == MARK_STREAM and parts[2:] in ([], ["1s"]) \
        and parts[0].upper() in markets


class StreamFace(ListenKeyed, PushFace):
    """The websocket face over ``engine`` (see the module docstring). ``tick_s`` is how often the
    face looks at its clocks (listen key expiry, the mark cadence), in wall seconds."""

    def __init__(self, engine: SimExchange, faults: Optional[FaultPlan] = None, *, mark_every_ms: int = 3000,
                 mark_every_1s_ms: int = 1000, tick_s: float = 0.05, seed: Optional[int] = None,
                 requests: Optional[list] = None):
        super().__init__(engine=engine, faults=faults, tick_s=tick_s)
        self.mark_every_ms = mark_every_ms
        self.mark_every_1s_ms = mark_every_1s_ms
        self.keys = ListenKeys(engine.seed if seed is None else seed)
        # (method, path, status) of the listen key calls: the server's request log when it gives one
        self.requests: list[tuple[str, str, int]] = requests if requests is not None else []
        # the faces of other venues at the bare /ws: ``claims(first request)``, ``serve(ws, first)``
        self.shared: list[Any] = []

    # --- lifecycle ------------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        for method in ("POST", "PUT", "DELETE"):
            r.add_route(method, "/fapi/v1/listenKey", self._listen_key)
        for path in ("/ws", "/ws/{tail}", "/{cat:(private|market|public)}/ws",
                     "/{cat:(private|market|public)}/ws/{tail}"):
            r.add_get(path, self._socket)

    # --- listen keys ------------------------------------------------------------------------------------

    async def _listen_key(self, request: web.Request) -> web.Response:
        response = self._listen_key_answer(request)
        self.requests.append((request.method, request.path, response.status))
        return response

    def _listen_key_answer(self, request: web.Request) -> web.Response:
        api_key = request.headers.get("X-MBX-APIKEY", "")
        account = self.engine.account_for_key(api_key) if api_key else None
        now = self.engine.now()
        try:
            if not api_key:
                raise ListenKeyError(-2014, "API-key format invalid.", 401)
            if account is None:
                raise ListenKeyError(-2015, "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1",
                                     401)
            if request.method == "POST":
                return web.json_response({"listenKey": self.keys.issue(account, now).key})
            if request.method == "PUT":
                live = self.keys.live(account, now)
                if live is not None and self._expires_by_fault(live, now):
                    self._expire(live)
                k = self.keys.keepalive(account, now)
                return web.json_response({"listenKey": k.key})
            gone = self.keys.delete(account, now)
            for s in self.sockets:
                if gone is not None and s.key is gone:
                    s.key = None  # a deleted key's sockets get no more user data
            return web.json_response({})
        except ListenKeyError as e:
            return web.json_response({"code": e.code, "msg": e.msg}, status=e.status)

    def _expires_by_fault(self, k: ListenKey, now: int) -> bool:
        faults = self.faults.match("listen_key", now, account=k.account)
        return first(faults, FaultKind.LISTEN_KEY_EXPIRED) is not None

    def _expire(self, k: ListenKey) -> None:
        """The key is gone: its sockets are told (``listenKeyExpired``) and get no more user data."""
        k.expired = True
        text = dumps({"e": "listenKeyExpired", "E": str(self.engine.now()), "listenKey": k.key})
        for s in self.sockets:
            if s.key is k:
                s.queue.put_nowait((None, text))
                s.key = None

    # --- sockets ----------------------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        key_text = request.query.get("listenKey") or (tail if tail and "@" not in tail and not tail.isdigit()
                                                       else None)
        now = self.engine.now()
        key = self.keys.keys.get(key_text) if key_text else None
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if key_text and key is None:  # another venue's key at /ws (MEXC spot's): its face's socket
            other = next((f for f in self.shared if getattr(f, "claims_key", None) and f.claims_key(key_text)), None)
            if other is not None:
                await other.serve(ws, None, key_text)
                return ws
        if key_text and (key is None or key.expired or key.expires_ms <= now):
            await ws.close(code=1008, message=b"invalid listenKey")  # Binance refuses an unknown key
            return ws
        first: Optional[str] = None
        if not key_text and not tail and self.shared:
            # the bare /ws is another venue's too (Hyperliquid's): its first request says whose
            msg = await ws.receive()
            if msg.type != WSMsgType.TEXT:
                return ws
            first = msg.data
            other = next((f for f in self.shared if f.claims(first)), None)
            if other is not None:
                await other.serve(ws, first)
                return ws
        sock = _Socket(ws, key)
        if tail and "@" in tail and _stream_ok(tail, self.engine.markets):
            sock.streams.add(tail)
        await self._serve(sock, first)
        return ws

    def _command(self, sock: _Socket, data: str) -> None:
        try:
            req = json.loads(data)
            method, rid = req.get("method"), req.get("id")
        except (ValueError, AttributeError):
            sock.queue.put_nowait((None, dumps({"error": {"code": 3, "msg": "Invalid JSON"}})))
            return
        params = req.get("params") or []
        if method in ("SUBSCRIBE", "UNSUBSCRIBE") and isinstance(params, list):
            bad = [p for p in params if not isinstance(p, str) or not _stream_ok(p, self.engine.markets)]
            if bad:
                answer = {"error": {"code": 2, "msg": f"Invalid request: unknown stream {bad[0]}"}, "id": rid}
            else:
                for p in params:
                    (sock.streams.add if method == "SUBSCRIBE" else sock.streams.discard)(p)
                    sock.pushed.pop(p, None)
                answer = {"result": None, "id": rid}
        elif method == "LIST_SUBSCRIPTIONS":
            answer = {"result": sorted(sock.streams), "id": rid}
        else:
            answer = {"error": {"code": 1, "msg": f"Invalid request: unknown method {method}"}, "id": rid}
        sock.queue.put_nowait((None, dumps(answer)))

    # --- events -----------------------------------------------------------------------------------------

    def _on_change(self, c: Change) -> None:
        if isinstance(c, MarkSet):
            update = mark_price_update(self.engine, c.symbol, c.price, c.ts)
            for s in self.sockets:
                self._send_marks(s, [update], [n for n in sorted(s.streams) if _names(n, c.symbol)])
            return
        if isinstance(c, AccountChanged):
            body = account_update(self.engine, c)
        elif isinstance(c, AlgoChanged):
            body = algo_update(self.engine, c)
        elif isinstance(c, OrderChanged):
            body = order_trade_update(self.engine, c)
        else:
            return  # (a spot desk's change: this face has no spot account)
        text = dumps(body)
        for s in self.sockets:
            if s.key is not None and s.account == c.account:
                s.queue.put_nowait(("user", text))

    def _send_marks(self, s: _Socket, updates: list[dict], names: list[str]) -> None:
        """``updates`` on the socket's streams ``names``: an array on ``!markPrice@arr``, one
        event per symbol on a symbol's stream."""
        for name in names:
            if name.startswith("!"):
                s.queue.put_nowait(("market", dumps(updates)))
            else:
                for u in updates:
                    if u["s"].lower() == name.split("@")[0]:
                        s.queue.put_nowait(("market", dumps(u)))

    def _pump_round(self, now: int, t: float) -> None:
        eng = self.engine
        for k in self.keys.due(now):
            self._expire(k)
        for k in [k for k in self.keys.keys.values() if not k.expired]:
            if self._expires_by_fault(k, now):
                self._expire(k)
        for s in list(self.sockets):
            for name in sorted(s.streams):
                every = (self.mark_every_1s_ms if name.endswith("@1s") else self.mark_every_ms) / 1000
                if t - s.pushed.get(name, 0.0) < every:
                    continue
                s.pushed[name] = t
                symbols = sorted(eng.markets) if name.startswith("!") else [name.split("@")[0].upper()]
                updates = [mark_price_update(eng, sym, eng.mark(sym, now), now) for sym in symbols
                           if sym in eng.paths]
                if updates:
                    self._send_marks(s, updates, [name])

def _names(stream: str, symbol: str) -> bool:
    """Whether ``stream`` carries ``symbol``'s mark."""
    return stream.startswith("!") or stream.split("@")[0] == symbol.lower()


def ws_urls(base_url: str) -> dict[str, str]:
    """``urls['api']['ws']`` entries of ccxt.pro's binanceusdm for a server at ``base_url``."""
    return {"linear": "ws" + base_url[len("http"):] + "/ws"}


def point_ws(exchange: Any, base_url: str) -> Any:
    """Point every ``urls['api']['ws']`` entry of a ccxt.pro Binance at the server: ``linear`` to
    its ``/ws``, every other one (``ws-api`` too) to ``/unsupported/<name>`` there (no route: the
    handshake fails), so no stream can reach the internet."""
    ws_base = "ws" + base_url[len("http"):]
    api = exchange.urls.setdefault("api", {})

    def point(node: dict, prefix: str) -> dict:
        return {k: point(v, f"{prefix}{k}-") if isinstance(v, dict) else f"{ws_base}/unsupported/{prefix}{k}"
                for k, v in node.items()}

    ws = point(api.get("ws") if isinstance(api.get("ws"), dict) else {}, "")
    ws.update(ws_urls(base_url))
    api["ws"] = ws
    return exchange


__all__ = ["StreamFace", "PushFace", "ListenKeyed", "ListenKeys", "ListenKey", "ListenKeyError", "LISTEN_KEY_MS",
           "mark_price_update", "account_update", "order_trade_update", "algo_update", "dumps", "malformed", "ws_urls",
           "point_ws", "UNKNOWN_EVENT"]
