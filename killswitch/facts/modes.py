"""Accounts whose position mode the venue reads apart from the declared one (or left unread):
closes follow the venue's mode (an agreeing one is a quiet line of ``ksctl status``, no fact)."""

from __future__ import annotations

from typing import Any, Iterator

from . import Fact, kind_of

RANK = 70
KIND = kind_of(__name__)
TITLE, LEAD = "POSITION MODE", "closes follow the venue's mode: "  # the console's line


def mismatch_text(account: str, reason: object) -> str:
    """``POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge (…): <account>: closes …``."""
    return f"{reason}: {account}: closes are sent as the venue's mode"


def facts(st: Any) -> Iterator[Fact]:
    for acct, m in sorted(st.position_modes.items()):
        if m.get("mismatch"):
            text = mismatch_text(acct, m.get("reason"))
        elif m.get("read") == "unread":
            text = (f"position mode {acct}: unread ({m.get('reason') or 'no read'}); closes follow the positions' own "
                    f"legs, declared {m.get('declared')}")
        else:
            continue
        yield Fact(KIND, "error", acct, m.get("read_ms"), "the venue reads the declared mode", text, label=acct,
                   data={"account": acct, **{k: m.get(k) for k in ("reason", "read", "declared")}})
