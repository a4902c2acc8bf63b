"""KS224: an account whose venue is said to pace requests itself, without the venue that does.

What it owns: :func:`check_pacing`, the finding on an account of an Accounts document. ``paced_by_venue: true``
turns ccxt's client-side request throttle off for the account (the order budget still paces its
orders): right against a venue that enforces the limits itself at the ``api_url`` it names (the
simulated exchange, which counts them in its own time, or a gateway in front of the venue). An
account without an ``api_url`` reaches the public venue, whose limits would then be kept by
nobody: the venue answers a client over them with 429s and then an IP ban. Refused at the
``paced_by_venue`` key (file:line:col); the runner keeps the client's pacing for such an account
whatever it is handed (:func:`killswitch.process.bootstrap.ccxt_adapters`).

Pure: no I/O.
"""

from __future__ import annotations

from typing import Iterator

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc


def check_pacing(doc: LoadedDoc, i: int, acc: Account) -> Iterator[Diagnostic]:
    """KS224 for account ``i`` of ``doc`` (``acc``) with ``paced_by_venue: true`` and no ``api_url``."""
    if acc.paced_by_venue and acc.api_url is None:
        yield Diagnostic.make(
            d.KS224, doc.file, doc.srcmap.key(doc.item_path("accounts", i) + ("paced_by_venue",)),
            f'account "{acc.name}": paced_by_venue without an api_url: {acc.venue}\'s public API paces no '
            "client, it bans one over its limits",
            "paced_by_venue is for a venue at an api_url that enforces the limits itself (the simulated "
            "exchange, a gateway in front of the venue); remove it to keep the client's pacing")
