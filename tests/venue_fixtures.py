"""The venues' recorded and documented answers, each in its venue's folder
(``adapters/venues/<venue>/fixtures/``, whose README says which are verbatim recordings); those of
ccxt ids without a venue folder (the generic dialect's) stay in ``tests/fixtures/venues/``."""

from __future__ import annotations

from pathlib import Path

VENUES = Path(__file__).resolve().parents[1] / "adapters" / "venues"


def fixture(name: str) -> Path:
    """The one venue fixture called ``name``, whichever venue's folder holds it."""
    found = sorted(VENUES.glob(f"*/fixtures/{name}"))
    if len(found) != 1:
        raise FileNotFoundError(f"{name}: {len(found)} files of that name under {VENUES}/*/fixtures")
    return found[0]


def recorded(exchange: str) -> Path:
    """ccxt's recorded answers of a ccxt id (``ccxt-static-<id>.json``)."""
    return fixture(f"ccxt-static-{exchange}.json")


def countdown_answer(method: str, args: tuple) -> object:
    """A venue's documented answer to its countdown (cancel-all-after) request, as ccxt's implicit
    method ``method`` returns it for ``args`` (what the dialects read back as armed or off):
    Binance echoes the countdown it set; OKX names when it fires (``triggerTime``, "0": off)."""
    params = args[0] if args and isinstance(args[0], dict) else {}
    if method.endswith("CountdownCancelAll"):
        return {"symbol": params.get("symbol"), "countdownTime": str(params.get("countdownTime"))}
    if method == "privatePostTradeCancelAllAfter":
        off = str(params.get("timeOut")) == "0"
        return {"code": "0", "msg": "", "data": [{"triggerTime": "0" if off else "1700000060000", "tag": "",
                                                  "ts": "1700000000000"}]}
    return {"ok": True}
