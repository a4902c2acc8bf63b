"""The simulated exchange's Binance USDⓈ-M accounts: an Accounts-document account on its face.

What it owns: :data:`PREFIXES` (none: Binance USDⓈ-M's REST face is the server's own,
:class:`adapters.simulated.http.SimServer`, which answers every path no other face claims) and
:func:`sim_account`. What it must not do: point an account anywhere but the simulated server.
"""

from __future__ import annotations

import os
import re
from typing import Any

PREFIXES: tuple[str, ...] = ()


async def handle(server: Any, request: Any) -> Any:  # pragma: no cover - no prefix routes a request here
    raise LookupError("Binance USDⓈ-M's REST face is the server's own")


def sim_account(server: Any, account: str, **fields: Any) -> Any:
    """The Account of the engine's ``account`` on venue ``binanceusdm``, its keys in the
    environment (:func:`adapters.simulated.venues.sim_account`)."""
    from killswitch.policy.accounts_doc import Account

    spec = server.engine.accounts[account].spec
    prefix = "KS_SIM_BINANCE_" + re.sub(r"[^A-Z0-9]", "_", account.upper())
    os.environ[f"{prefix}_KEY"], os.environ[f"{prefix}_SECRET"] = spec.api_key, spec.secret
    return Account.model_validate({
        "name": account, "venue": "binanceusdm", "market_type": "futures",
        "hedge_mode": server.engine.hedge_mode(account), "api_url": server.base_url,
        "credentials": {"api_key": {"env": f"{prefix}_KEY"}, "secret": {"env": f"{prefix}_SECRET"}}, **fields})


__all__ = ["PREFIXES", "handle", "sim_account"]
