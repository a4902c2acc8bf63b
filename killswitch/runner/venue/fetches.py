"""Whether the runner can read its accounts: each account's run of failed snapshots, said once.

What it owns: per account ("venue/account"), the current run of failed fetches (reason code,
scrubbed message, since when, how many in a row, the latest), the count of failures by reason,
and the lines that say so in the runner's log — one ``FETCH_FAILING`` WARNING when an account's
snapshots start failing, one ``FETCH_RECOVERED`` INFO when one is fetched again (with how many
failed and for how long) — never one a tick. Its families for ``/metrics``
(``killswitch_snapshot_failures_total{venue,account,reason}``, ``killswitch_account_fetch_ok{account}``)
and the status's ``fetch_errors``.

A failed snapshot is already a signal the policies react to (its data is missing); this is
what tells a person. Only the leader fetches, so a standby shows nothing here.

Must not: print a secret. The adapters scrub what they report (the ccxt adapter removes the
credentials and signatures); :func:`scrub_message` is a second net — the process's scrubber
(secret-named environment values, ``key=value`` pairs, credentials in URLs), URLs cut before
their query, and a bound on length — because the message reaches the status and the log.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Iterable, Optional

from ...figures import iso as _iso
from ...logs import Scrubber
from ...metrics import Registry
from ...snapshot import Snapshot

log = logging.getLogger("killswitch.runner.fetch")

MAX_MESSAGE = 300
_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#\"']*)\?[^\s\"']*", re.I)


def scrub_message(text: Optional[str], scrub: Optional[Scrubber] = None) -> str:
    """A fetch's error message fit for a log line and the status (see the module doc)."""
    s = (scrub or Scrubber.from_environment(os.environ))(str(text or ""))
    s = _QUERY.sub(lambda m: m.group(1) + "?…", s)
    s = " ".join(s.split())  # one line
    return s[:MAX_MESSAGE] + "…" if len(s) > MAX_MESSAGE else s


@dataclass
class _Run:
    code: str
    message: str
    since_ms: int
    failures: int
    last_ms: int


def _age(ms: int) -> str:
    return f"{max(0, ms) / 1000:.1f}s"


class FetchHealth:
    """See the module doc. Fed every tick's snapshots, on the runner's loop."""

    def __init__(self, scrub: Optional[Scrubber] = None):
        self._scrub = scrub or Scrubber.from_environment(os.environ)
        self._runs: dict[str, _Run] = {}  # accounts whose latest fetch failed
        self._ok: dict[str, bool] = {}  # account -> its latest fetch went through
        self.failures: dict[tuple[str, str, str], int] = {}  # (venue, account, reason) -> count

    def observe(self, snapshots: Iterable[Snapshot], now_ms: int) -> None:
        """A tick's snapshots: counts, and the log line of an account whose state changed."""
        for s in snapshots:
            key = f"{s.venue}/{s.account}"
            self._ok[key] = s.fetch.ok
            run = self._runs.get(key)
            if s.fetch.ok:
                if run is not None:
                    del self._runs[key]
                    log.info("FETCH_RECOVERED: %s: snapshots fetched again after %d failure(s) in %s (since %s, "
                             "last %s)", key, run.failures, _age(now_ms - run.since_ms), _iso(run.since_ms),
                             run.code)
                continue
            code = s.fetch.error_code or "UNKNOWN"
            reason = (s.venue, s.account, code)
            self.failures[reason] = self.failures.get(reason, 0) + 1
            message = scrub_message(s.fetch.error, self._scrub)
            if run is None:
                self._runs[key] = _Run(code, message, now_ms, 1, now_ms)
                log.warning("FETCH_FAILING: %s: %s: %s; its data is missing to the policies until a snapshot "
                            "goes through (said once; FETCH_RECOVERED when it does)", key, code, message or "-")
            else:
                run.code, run.message, run.failures, run.last_ms = code, message, run.failures + 1, now_ms

    def status(self) -> dict:
        """``fetch_errors`` of the status: the accounts whose latest fetch failed."""
        return {k: {"code": r.code, "message": r.message, "since_ms": r.since_ms, "failures": r.failures,
                    "last_ms": r.last_ms} for k, r in sorted(self._runs.items())}

    def collect_metrics(self, registry: Registry) -> None:
        failed = registry.sampled("killswitch_snapshot_failures_total", "counter",
                                  "Account snapshots that could not be fetched, by reason code.",
                                  ("venue", "account", "reason"))
        for (venue, account, reason), n in sorted(self.failures.items()):
            failed.add(n, venue=venue, account=account, reason=reason)
        ok = registry.sampled("killswitch_account_fetch_ok", "gauge",
                              "1 when the latest snapshot of an account was fetched, 0 when it failed.", ("account",))
        for key, good in sorted(self._ok.items()):
            ok.add(int(good), account=key)
