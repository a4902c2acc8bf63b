"""KS249: a client order id prefix two strategies of one account claim.

What it owns: :func:`check_strategy_prefixes`, the finding on an account of an Accounts document: an account's
``strategies`` map client order id prefixes to strategies (a name alone claims itself, an entry
``{name, client_id_prefixes}`` its prefixes); a prefix claimed by two strategies of the same
account would name either for the same order, so the watch's page and a strategy-scoped policy
could blame the wrong bot. Reported at the second claim, naming the first.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Iterator

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc


def check_strategy_prefixes(doc: LoadedDoc, i: int, acc: Account) -> Iterator[Diagnostic]:
    """KS249 for every prefix of the strategies of account ``i`` of ``doc`` (``acc``) that another
    of its strategies claimed before it, at that prefix (file:line:col)."""
    claimed: dict[str, str] = {}
    for j, s in enumerate(acc.strategies):
        base = doc.item_path("accounts", i) + ("strategies", j)
        if isinstance(s, str):
            mine = [(s, s, base)]
        else:
            mine = [(p, s.name, base + ("client_id_prefixes", k)) for k, p in enumerate(s.client_id_prefixes)]
        for prefix, name, path in mine:
            first = claimed.setdefault(prefix, name)
            if first == name:
                continue
            yield Diagnostic.make(
                d.KS249, doc.file, doc.srcmap.value(path),
                f'account "{acc.name}": client id prefix "{prefix}" is claimed by strategy "{name}" and by '
                f'strategy "{first}"',
                "an order's client id names one strategy: give each strategy prefixes of its own (a longer "
                f'one, e.g. "{prefix}{name[:1]}-", is told apart: the longest prefix wins)')
