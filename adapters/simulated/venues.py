"""An Accounts-document account on the simulated exchange in any dialect it speaks.

What it owns: :data:`VENUES`, the ccxt ids the simulated server answers as (Binance USDⓈ-M over
its own face, the others over :mod:`.faces`), and :func:`sim_account`, the
:class:`~killswitch.policy.model.Account` of one engine account in one of them: ``venue``,
``api_url`` the server's base URL (the ccxt adapter sends every request there), credentials
that the face checks, set in the environment and referenced from the document as in production.
For ``ksctl demo --venue``, the close-all fault bench and the integration tests.

What it must not do: build a client or an adapter (the runner's bootstrap does), or point an
account anywhere but the simulated server on loopback.
"""

from __future__ import annotations

import os
import re
from typing import Any

VENUES = ("binanceusdm", "bybit", "okx", "hyperliquid", "bitget")


def sim_account(server: Any, account: str, venue: str, **fields: Any) -> Any:
    """The Account of the engine's ``account`` on ``server``, speaking ``venue``'s dialect;
    ``fields`` (labels, initial_capital, ...) go into the document as written."""
    if venue not in VENUES:
        raise ValueError(f"the simulated exchange does not answer as {venue!r}; it answers as {', '.join(VENUES)}")
    if venue == "bybit":
        from .faces.bybit import bybit_account

        prefix = "KS_SIM_BYBIT_" + re.sub(r"[^A-Z0-9]", "_", account.upper())
        return bybit_account(server, account, key_env=f"{prefix}_KEY", secret_env=f"{prefix}_SECRET", **fields)
    if venue == "okx":
        from .faces.okx import okx_account

        return okx_account(server, account, **fields)
    if venue == "bitget":
        from .faces.bitget import bitget_account

        return bitget_account(server, account, **fields)
    from killswitch.policy.model import Account

    if venue == "hyperliquid":
        from .faces.hyperliquid import account_address, account_key

        env = "KS_SIM_HL_" + re.sub(r"[^A-Z0-9]", "_", account.upper()) + "_KEY"
        os.environ[env] = account_key(account)  # a derived test key: the face recovers it as the signer
        return Account.model_validate({
            "name": account, "venue": "hyperliquid", "market_type": "futures", "quote_currency": "USDC",
            "api_url": server.base_url,
            "credentials": {"wallet_address": account_address(account), "private_key": {"env": env}}, **fields})
    spec = server.engine.accounts[account].spec
    prefix = "KS_SIM_BINANCE_" + re.sub(r"[^A-Z0-9]", "_", account.upper())
    os.environ[f"{prefix}_KEY"], os.environ[f"{prefix}_SECRET"] = spec.api_key, spec.secret
    return Account.model_validate({
        "name": account, "venue": "binanceusdm", "market_type": "futures",
        "hedge_mode": server.engine.hedge_mode(account), "api_url": server.base_url,
        "credentials": {"api_key": {"env": f"{prefix}_KEY"}, "secret": {"env": f"{prefix}_SECRET"}}, **fields})


__all__ = ["VENUES", "sim_account"]
