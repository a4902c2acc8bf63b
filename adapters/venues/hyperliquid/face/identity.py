"""Who a request to the simulated Hyperliquid face is from: the address read, the action's signer.

What it owns
    :class:`HyperliquidIdentity`: the account an ``/info`` read's ``user`` address is (an address
    no account has: None, an empty account), the account a signed ``/exchange`` action trades
    for (its signer recovered, or the ``vaultAddress`` it names) or the venue's refusal, and a
    nonce checked as the venue checks it: within its window of the server's clock (2 days back, 1
    day ahead) and new for its signer (above the least of its last 100, which are kept per
    server, as the venue keeps them). The derived keys and the signature's arithmetic are
    :mod:`.keys`'.

What it must not do
    keep state beyond the request other than the nonces seen, or change the engine.
"""

from __future__ import annotations

import re
import weakref
from typing import Any, Optional

from .keys import addresses as _addresses, signer as _signer
from .params import HyperliquidParams, _Err, _refused, _unprocessable

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
NONCE_BACK_MS, NONCE_AHEAD_MS = 2 * 86_400_000, 86_400_000
NONCES_KEPT = 100

# per server: the nonces each signer used (the venue keeps its 100 highest)
_NONCES: "weakref.WeakKeyDictionary[Any, dict[str, list[int]]]" = weakref.WeakKeyDictionary()


class HyperliquidIdentity(HyperliquidParams):
    """The signer and the nonces of one request's view (see the module docstring)."""

    def user(self, body: dict) -> Optional[str]:
        u = body.get("user")
        if not isinstance(u, str) or not ADDRESS_RE.match(u):
            raise _unprocessable("user: invalid address")
        return _addresses(self.eng).get(u.lower())

    def signed(self, body: dict) -> tuple[Optional[str], Optional[_Err]]:
        """(account, refusal) of an action: the account it trades for, or why not."""
        if not isinstance(body.get("nonce"), int) or isinstance(body.get("nonce"), bool):
            return None, _unprocessable("missing field `nonce`")
        sig = body.get("signature")
        if not isinstance(sig, dict) or not all(k in sig for k in ("r", "s", "v")):
            return None, _unprocessable("missing field `signature`")
        addresses = _addresses(self.eng)
        signer = _signer(body, addresses)
        if signer is None or signer not in addresses:
            return None, _refused(f"User or API Wallet {signer or '0x' + '0' * 40} does not exist.")
        vault = body.get("vaultAddress")
        if vault is not None:
            name = addresses.get("0x" + str(vault).lower().removeprefix("0x"))
            if name is None:
                return None, _refused(f"Vault not registered: 0x{str(vault).removeprefix('0x')}")
            return name, None
        return addresses[signer], None

    def fresh_nonce(self, account: str, nonce: int) -> None:
        srv = self.server
        if srv.check_timestamp:
            now = int(srv.auth_clock())
            if not now - NONCE_BACK_MS < nonce < now + NONCE_AHEAD_MS:
                raise _refused(f"Invalid nonce: nonce {nonce} is too far from the current time {now}")
        seen = _NONCES.setdefault(srv, {}).setdefault(account, [])
        if nonce in seen or (len(seen) >= NONCES_KEPT and nonce <= seen[0]):
            raise _refused("Invalid nonce: duplicate nonce" if nonce in seen else
                           f"Invalid nonce: nonce {nonce} is below the least of the last {NONCES_KEPT} used")
        seen.append(nonce)
        seen.sort()
        del seen[:-NONCES_KEPT]
