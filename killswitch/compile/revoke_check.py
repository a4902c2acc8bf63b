"""KS260, KS261 (and KS223 of a master credential): the venue's switch of the bots' trading permission.

What it owns
    * :data:`REVOKE_METHODS`: the ccxt ids whose dialect has an endpoint that removes the
      trading permission of a sub-account's API keys with a master credential, and the methods
      each offers (``permissions``: each key read-only; ``freeze``: the sub-account frozen).
      Binance's ids: ``POST /sapi/v1/sub-account/subAccountApiPermission``; Bybit:
      ``POST /v5/user/update-sub-api`` and ``POST /v5/user/frozen-sub-member``; OKX:
      ``POST /api/v5/users/subaccount/modify-apikey``. Hyperliquid's agents have no such
      switch, nor has a venue without a dialect of its own.
    * :func:`check_revoke_blocks`, on an account of an Accounts document: KS260 for a ``revoke:`` block its
      venue cannot serve (no endpoint: at ``revoke``; a method it has not: at ``revoke.method``),
      KS223 for a master credential its venue does not sign with (at the field, naming what it
      takes), as :mod:`.venue_check` says of an account's own credentials.
    * :func:`revoke_findings`: KS261, a ``revoke_trading`` action whose scope selects an account
      the action cannot reach — a venue without the switch or an account without a ``revoke:``
      block — at the action (file:line:col), naming the accounts and why: a halt that would be
      skipped silently at the venue is refused before a deployment. The caller (the compiler)
      hands it each use of the action (:class:`.scope_check.ActionUse`).

The table is data, kept here because the compiler must not import the adapters;
``tests/unit/compile/test_revoke_check.py`` holds it equal to the ccxt dialects' own
(``Dialect.revoke_methods``), so a new dialect with the switch says so.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Optional, Sequence

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc, Path
from .scope_check import ActionUse, reach_findings
from .venue_check import CREDENTIALS, credentials_missing, credentials_refused

# ccxt id → the methods of its switch (the ccxt adapter's dialects: Dialect.revoke_methods)
REVOKE_METHODS: dict[str, tuple[str, ...]] = {
    "binance": ("permissions",),
    "binancecoinm": ("permissions",),
    "binanceusdm": ("permissions",),
    "bybit": ("permissions", "freeze"),
    "okx": ("permissions",),
}


# How each venue names the sub-account its switch takes (what a typo there would miss)
SUB_ACCOUNT_FORMS: dict[str, tuple[str, str]] = {
    "binance": ("@", "the sub-account's email"),
    "binancecoinm": ("@", "the sub-account's email"),
    "binanceusdm": ("@", "the sub-account's email"),
    "bybit": ("digits", "the sub-account's uid (digits)"),
}


def _sub_account_fits(venue: str, sub: str) -> bool:
    form = SUB_ACCOUNT_FORMS.get(venue)
    if form is None:
        return True
    return sub.isdigit() if form[0] == "digits" else form[0] in sub


def revoke_unreachable(acc: Account) -> Optional[str]:
    """Why a ``revoke_trading`` action cannot act on ``acc`` (None: it can)."""
    methods = REVOKE_METHODS.get(acc.venue)
    if methods is None:
        return f'venue "{acc.venue}" has no switch of its keys\' trading permission'
    if acc.revoke is None:
        return "no revoke: block (master credential, sub-account, api keys)"
    if acc.revoke.method not in methods:
        return f'method "{acc.revoke.method}" is not one of {acc.venue}\'s ({", ".join(methods)})'
    return None


def check_revoke_blocks(doc: LoadedDoc, i: int, acc: Account) -> Iterator[Diagnostic]:
    """KS260 and KS223 for account ``i`` of ``doc`` (``acc``) when its ``revoke:`` block its venue
    cannot serve."""
    if acc.revoke is None:
        return
    at = doc.item_path("accounts", i) + ("revoke",)
    methods = REVOKE_METHODS.get(acc.venue)
    if methods is None:
        yield Diagnostic.make(
            d.KS260, doc.file, doc.srcmap.key(at),
            f'account "{acc.name}": venue "{acc.venue}" has no endpoint that removes its keys\' trading '
            "permission: a revoke would never reach the venue",
            "venues with one: " + ", ".join(sorted(REVOKE_METHODS)) + "; on another venue rely on the lock, "
            "the venue watch and the close actions (Hyperliquid's agent keys have no such switch)")
        return
    if acc.revoke.method not in methods:
        yield Diagnostic.make(
            d.KS260, doc.file, doc.srcmap.value(at + ("method",)),
            f'account "{acc.name}": venue "{acc.venue}" has no "{acc.revoke.method}" switch',
            f"{acc.venue} offers: {', '.join(methods)} (freeze is Bybit's frozen-sub-member)")
    if not _sub_account_fits(acc.venue, acc.revoke.sub_account):
        yield Diagnostic.make(
            d.KS260, doc.file, doc.srcmap.value(at + ("sub_account",)),
            f'account "{acc.name}": {acc.venue} names a sub-account by {SUB_ACCOUNT_FORMS[acc.venue][1]}, '
            f'not "{acc.revoke.sub_account}"',
            "sub_account is Binance's sub-account email, Bybit's sub-account uid, OKX's sub-account name")
    yield from _master_credentials(doc, at, acc)


def _master_credentials(doc: LoadedDoc, at: Path, acc: Account) -> list[Diagnostic]:
    """KS223 for a master credential ``acc``'s venue does not sign with."""
    assert acc.revoke is not None
    creds, needed = acc.revoke.master_credentials, CREDENTIALS.get(acc.venue)
    if needed is None:
        return []
    where = at + ("master_credentials",)
    if creds.wallet_address is not None:
        return credentials_refused(
            doc, where + ("wallet_address",),
            f'account "{acc.name}": the master credential of venue "{acc.venue}" is an API key and its secret, '
            "not a wallet", f"create the master account's API key on {acc.venue} and give its fields as references "
            "({env: VAR} or {file: PATH})")
    return credentials_missing(doc, where, creds, needed, lambda missing: (
        f'account "{acc.name}": the master credential of venue "{acc.venue}" takes {", ".join(needed)}: '
        f"{', '.join(missing)} missing",
        "on " + acc.venue + ", the password is the passphrase set with the master API key; give it as a reference "
        "({env: VAR} or {file: PATH})"))


def revoke_findings(accounts: Sequence[Account], uses: Iterable[ActionUse]) -> list[Diagnostic]:
    """KS261 for each use whose scope selects an account the action cannot reach, a venue without
    the switch or no ``revoke:`` block (see :func:`.scope_check.reach_findings`)."""
    return reach_findings(
        d.KS261, accounts, uses, revoke_unreachable, "revoke_trading cannot act on", "",
        "give each account a revoke: block in the Accounts document (master_credentials, sub_account, "
        "api_keys) on a venue with the switch (" + ", ".join(sorted(REVOKE_METHODS)) + "), or narrow the "
        "scope; a revoke that cannot reach the venue is never skipped silently")


__all__ = ["REVOKE_METHODS", "SUB_ACCOUNT_FORMS", "check_revoke_blocks", "revoke_findings",
           "revoke_unreachable"]
