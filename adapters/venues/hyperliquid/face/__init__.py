"""The simulated exchange as Hyperliquid: ``POST /info`` reads and signed ``POST /exchange`` actions.

What it owns
    Hyperliquid's dialect over the one engine (:class:`adapters.simulated.engine.SimExchange`):

    * markets: the perpetual *coins* (``BTC``; ccxt's ``BTC/USDC:USDC``), one per base of the
      engine's markets, the USDC-quoted market of a base preferred over another (an engine with
      only ``BTCUSDT`` answers it as ``BTC``, one with ``BTCUSDC`` too answers that one). A
      coin's asset index is its place in that list, in the engine's market order;
    * accounts: a wallet key and an address each, derived from its name (:mod:`.keys`);
      ``/info`` reads the account whose address is the body's ``user``;
    * ``/info``: ``metaAndAssetCtxs``, ``clearinghouseState`` (equity = the engine's account
      value, positions one-way), ``frontendOpenOrders`` and ``openOrders`` (resting and trigger
      orders: the engine's regular and conditional books), ``orderStatus`` (by oid, or by cloid:
      the engine's client id), ``userAbstraction`` ("default");
    * ``/exchange``: the actions of :mod:`.actions` (``order``, ``cancel``,
      ``cancelByCloid``, and ``scheduleCancel``: the account's dead man's switch);
    * each answer in the venue's envelope: ``{"status": "ok", "response": {"type": "order",
      "data": {"statuses": [...]}}}`` with ``filled``, ``resting`` or ``error`` in the venue's
      words ("Reduce only order would increase position. asset=0", "Order could not immediately
      match against any resting orders. asset=0", ...); ``{"status": "err", "response": "..."}``
      for a refused action; a rate limit (the engine's, or a fault) is HTTP 429.

Where it lives
    here the routes (``/info`` reads and ``/exchange`` actions by their type), the shared face's
    hooks and the clients; the request view in :mod:`.params` (coins, orders, refusals),
    :mod:`.identity` (its signer), :mod:`.reads` and :mod:`.actions`; the payloads
    both faces render in :mod:`.rows`, the derived keys and the signature check in
    :mod:`.keys`; the websocket face is :mod:`.stream`.

Signatures
    An action is signed as the venue signs it (EIP-712 over secp256k1, the phantom agent of the
    action's msgpack hash, nonce and vault): the face recovers the signer from ``r``, ``s`` and
    ``v`` and trades for the account that signer's address is, or for the account whose address the
    body's ``vaultAddress`` names (the signer must then be an account's key too), its nonce checked
    as the venue checks one (:mod:`.identity`; the window when the server checks timestamps).
    What it does not check: API wallets approved by an account (only the accounts' own keys sign),
    a vault's leader, ``expiresAfter``, builder fees, the address's action budget.

Faults
    The shared pipeline's (:class:`adapters.simulated.faces.shared.RestFace`), keyed on the
    operation its body names (:data:`INFO_OPS`, :data:`ACTION_OPS`) and on ``"POST /info"`` or
    ``"POST /exchange"``: 429 / 418 with body ``null``, a stale feed on ``/info`` reads only, a
    reduce-only refusal in the venue's words, per order.

What it must not do
    keep exchange state (the engine's; the nonces seen, as the venue keeps them, are the face's
    per server), hold keys beyond the derived test keys, or serve hedge-mode accounts as if the
    venue had legs (it has one position a coin: such an account's legs are listed apart).
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional, cast

from aiohttp import web

from ....simulated.faces.shared import VenueFail, loopback
from ....simulated.faults import Fault, FaultKind, first
from ....simulated.rules import SimError
from .actions import HyperliquidActions
from .identity import HyperliquidIdentity
from .keys import account_address, account_key, action_digest
from .params import _Err
from .reads import HyperliquidReads

PREFIXES = ("/info", "/exchange")

INFO_OPS = {"metaAndAssetCtxs": "exchange_info", "clearinghouseState": "account", "frontendOpenOrders": "open_orders",
            "openOrders": "open_orders", "orderStatus": "get_order", "userAbstraction": "account_mode",
            "userFills": "fills", "userFillsByTime": "fills"}
ACTION_OPS = {"order": "place_order", "cancel": "cancel_order", "cancelByCloid": "cancel_order",
              "scheduleCancel": "countdown"}


class _Face(HyperliquidIdentity, HyperliquidReads, HyperliquidActions):
    """One request's worth of the dialect: ``server``'s engine, its markets as coins, read and
    acted on as the venue does (see the modules it is built from), through the shared face's
    pipeline (:class:`adapters.simulated.faces.shared.RestFace`): the operation is the body's
    ``type`` (``/info``) or its action's (``/exchange``), the account its ``user`` or its
    signer, known before the faults; a reduce-only refusal is the action's, per order."""

    TIME_FIELDS = ("time", "timestamp", "statusTimestamp")
    VENUE = "hyperliquid"
    WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"  # (the simulator's weight, as the Binance face writes it)

    # --- the shared hooks ----------------------------------------------------------------------------

    def route(self, request: web.Request, raw_body: str) -> tuple[str, bool]:
        method, path = request.method, request.path
        if path not in PREFIXES:
            raise _Err(404, "<html><body><h1>404 Not Found</h1></body></html>")
        if method != "POST":
            raise _Err(405, "<html><body><h1>405 Method Not Allowed</h1></body></html>")
        try:
            body = json.loads(raw_body)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            raise _Err(422, "Failed to deserialize the JSON body into the target type") from None
        self.body, self.reading = body, path == "/info"
        self.action = body.get("action") if not self.reading else None
        kind = body.get("type") if self.reading else (self.action.get("type") if isinstance(self.action, dict)
                                                      else None)
        op = (INFO_OPS if self.reading else ACTION_OPS).get(kind) if isinstance(kind, str) else None
        if op is None:
            what = "type" if self.reading else "action"
            raise _Err(422, f"Failed to deserialize the JSON body into the target type: {what}: unknown variant "
                       f"`{kind}`")
        self.kind: str = cast(str, kind)
        return op, False

    def identify(self, request: web.Request, key: str) -> Optional[str]:
        self.refusal: Optional[_Err] = None
        if self.reading:
            return self.user(self.body) if "user" in self.body or self.kind != "metaAndAssetCtxs" else None
        account, self.refusal = self.signed(self.body)
        return account

    def is_read(self, method: str, path: str) -> bool:
        return path == "/info"

    def params(self, method: str, raw_query: str, raw_body: str) -> Any:
        return self.body

    def stale_key(self, params: Any, raw_query: str) -> Any:
        return self.kind, json.dumps(self.body.get("oid"))

    def status_refusal(self, fault: Fault) -> VenueFail:
        if fault.kind in (FaultKind.HTTP_429, FaultKind.HTTP_418):
            return self._rate_limited(429 if fault.kind == FaultKind.HTTP_429 else 418, fault.retry_after_s)
        return super().status_refusal(fault)

    def sim_refusal(self, e: SimError, op: str) -> VenueFail:
        if e.http_status in (429, 418):
            return self._rate_limited(429, e.retry_after_s)
        return _Err(200, {"status": "err", "response": e.msg})

    def _rate_limited(self, status: int, retry_after_s: Optional[float]) -> VenueFail:
        retry = retry_after_s if retry_after_s is not None else 1.0
        headers = {"Retry-After": str(max(1, int(retry + 0.999)))}
        if self.account in self.engine.accounts:
            headers["X-MBX-USED-WEIGHT-1M"] = str(self.engine.used_weight(self.account))
        return VenueFail(status, "null", headers, raw=True)

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        if self.kind != "order":
            return []
        placed = (st.get("resting") or st.get("filled") if isinstance(st, dict) else None
                  for st in body["response"]["data"]["statuses"])
        return [p["oid"] for p in placed if p]

    def dispatch(self, op: str, path: str, params: Any, account: Optional[str], at: Optional[int]) -> Any:
        if self.refusal is not None:
            raise self.refusal
        if self.reading:
            return self.info(self.kind, self.body, account, at)
        assert account is not None and isinstance(self.action, dict)
        self.fresh_nonce(account, int(self.body["nonce"]))
        return self.act(account, self.action, self.body, bool(first(self.faults, FaultKind.REJECT_REDUCE_ONLY)))


handle = _Face.serve  # one request under PREFIXES, as the module docstring says


# --- a ccxt client --------------------------------------------------------------------------------------------------


def ccxt_urls(base_url: str) -> dict:
    """ccxt hyperliquid's ``urls`` with every API family (and the testnet's) on ``base_url``."""
    base_url = loopback(base_url)
    return {"api": {"public": base_url, "private": base_url}, "test": {"public": base_url, "private": base_url}}


def hyperliquid_client(server: Any, account: str, **config: Any) -> Any:
    """A ``ccxt.async_support.hyperliquid`` bound to ``server`` as ``account`` (its derived wallet
    key and address), every URL family on the server; what the adapter's dialect turns off
    (builder fee approval, referral, the abstraction query) and the currencies (``spotMeta``) off
    here too. Close it after use."""
    import ccxt.async_support as ccxt_async

    from ..dialect import HYPERLIQUID

    options = {**HYPERLIQUID.client_options, **config.pop("options", {})}
    ex = ccxt_async.hyperliquid({"walletAddress": account_address(account), "privateKey": account_key(account),
                                 "enableRateLimit": False, "options": options, **config})
    HYPERLIQUID.prepare_client(ex)
    ex.has = {**ex.has, "fetchCurrencies": False}  # spotMeta: no spot here, as the adapter loads none
    for family, urls in ccxt_urls(server.base_url).items():
        ex.urls[family] = urls
    return ex


def sim_account(server: Any, account: str, **fields: Any) -> Any:
    """The Account of the engine's ``account`` on venue ``hyperliquid``: its derived wallet
    address, its key in the environment (:func:`adapters.simulated.venues.sim_account`)."""
    import os

    from killswitch.policy.accounts_doc import Account

    env = "KS_SIM_HL_" + re.sub(r"[^A-Z0-9]", "_", account.upper()) + "_KEY"
    os.environ[env] = account_key(account)  # a derived test key: the face recovers it as the signer
    return Account.model_validate({
        "name": account, "venue": "hyperliquid", "market_type": "futures", "quote_currency": "USDC",
        "api_url": server.base_url,
        "credentials": {"wallet_address": account_address(account), "private_key": {"env": env}}, **fields})


__all__ = ["PREFIXES", "handle", "account_key", "account_address", "action_digest", "ccxt_urls",
           "hyperliquid_client", "sim_account"]
