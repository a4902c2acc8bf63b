"""``ksctl run --shard NAME``: what one shard's runner is, decided before it starts.

What it owns:

* :func:`shard_start` — the refusals at start, each with its reason code (the caller exits 2,
  nothing started): ``SHARD_REQUIRED`` (the Accounts document declares shards and ``--shard`` is
  absent: a runner of every account would guard them twice), ``SHARD_UNKNOWN`` (a name the
  document does not declare, with the closest one), ``SHARD_NEEDS_POSTGRESQL`` (``--shard`` with a
  SQLite state: the shards' leases and registry live in one shared database); else the shard's
  :class:`ShardStart`: its accounts, their digest, its schema (``ks_shard_<name>``);
* :meth:`ShardStart.narrow` — a compile result whose graph holds only the shard's local policies
  (:func:`killswitch.compile.shards.split`), and the names of the firm-wide ones: at start and
  at every reload;
* :func:`register` — the shard's registration in the firm's schema (``ks_firm.shard``): the same
  account set goes on, another one while a runner of the shard leads is ``SHARD_MISMATCH``;
* :func:`firm_link` — the shard's part in the firm (:mod:`killswitch.firmlink.firm`, and its board
  for every shard's console, :mod:`killswitch.firmlink.board`), refused at
  start with ``FIRM_POLICY_REFUSED`` when a firm-wide policy reads or does what facts cannot serve,
  ``FIRM_INTERVAL_TOO_SHORT`` when its interval is under the firm's floor (KS244).

Must not: start anything, or evaluate a firm-wide policy (that is the holder of the firm lease's,
over the facts the shards publish: :mod:`killswitch.firmlink.firm`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..compile.compiler import CompileResult
from ..compile.shards import Split, accounts_digest, assign, local_graph, nearest_shard, shard_accounts, split
from ..policy.accounts_doc import Account

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..compile.graph import DecisionGraph
    from ..firmlink.board import BoardLink
    from ..firmlink.firm import FirmLink
    from ..runner.tick.parts import RunnerParts

SHARD_REQUIRED = "SHARD_REQUIRED"
SHARD_UNKNOWN = "SHARD_UNKNOWN"
SHARD_NEEDS_POSTGRESQL = "SHARD_NEEDS_POSTGRESQL"
SHARD_MISMATCH = "SHARD_MISMATCH"
FIRM_POLICY_REFUSED = "FIRM_POLICY_REFUSED"


class ShardRefused(Exception):
    """A start refused: ``str()`` begins with the reason code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class ShardStart:
    """One shard's runner: ``accounts`` the shard's (what gets adapters), ``declared`` every
    account of the document (what the policies' scopes are checked and split against)."""

    name: str
    schema: str
    accounts: tuple[Account, ...]
    declared: tuple[Account, ...]
    assignment: dict[str, list[str]]
    digest: str
    consoles: dict[str, str] = field(default_factory=dict)  # shard -> its console URL (spec.shards[].console)

    @property
    def keys(self) -> list[str]:
        return sorted(f"{a.venue}/{a.name}" for a in self.accounts)

    def narrow(self, result: CompileResult) -> tuple[CompileResult, Optional[Split]]:
        """``result`` with a graph of the shard's local policies only (None: it had no graph),
        and the split it was narrowed by."""
        if result.graph is None:
            return result, None
        got = split(result.graph, self.declared, self.assignment)
        return dataclasses.replace(result, graph=local_graph(result.graph, got.local.get(self.name, []))), got


def shard_start(shard: Optional[str], spec: Any, state_url: str) -> Optional[ShardStart]:
    """The shard ``--shard`` names in the Accounts document's ``spec`` (None: not sharded, the
    document declares no shard), or :class:`ShardRefused`."""
    from ..state.firm import shard_schema

    shards = list(spec.shards)
    if shard is None:
        if shards:
            raise ShardRefused(SHARD_REQUIRED, f"the accounts document declares {len(shards)} shard(s) "
                                               f"({', '.join(s.name for s in shards)}): run one with --shard NAME")
        return None
    if not shards:
        raise ShardRefused(SHARD_UNKNOWN, f"--shard {shard}: the accounts document declares no shard "
                                          "(spec.shards); without them, run without --shard")
    if shard not in {s.name for s in shards}:
        near = nearest_shard(shard, shards)
        raise ShardRefused(SHARD_UNKNOWN, f"--shard {shard}: no such shard in the accounts document"
                                          + (f"; did you mean {near}?" if near else "")
                                          + f" (shards: {', '.join(s.name for s in shards)})")
    scheme = state_url.partition("://")[0].lower()
    if scheme not in ("postgresql", "postgres"):
        raise ShardRefused(SHARD_NEEDS_POSTGRESQL, f"--shard {shard} needs a postgresql:// state (--state): the "
                                                   f"shards' leases and registry live in one shared database, "
                                                   f"not {scheme or 'this URL'}")
    mine = shard_accounts(spec.accounts, shards, shard)
    return ShardStart(shard, shard_schema(shard), tuple(mine), tuple(spec.accounts),
                      assign(spec.accounts, shards), accounts_digest(mine),
                      {s.name: s.console for s in shards if s.console})


def register(state_url: str, start: ShardStart, holder: str, now_ms: int) -> Any:
    """Register the shard in ``ks_firm.shard`` (:meth:`~killswitch.state.firm.FirmStore.register_shard`); a mismatch
    is :class:`ShardRefused` (``SHARD_MISMATCH``, both digests and the accounts that differ)."""
    from ..state.firm import ShardMismatch, open_firm

    firm = open_firm(state_url)
    try:
        reg = firm.register_shard(start.name, start.digest, start.keys, holder, now_ms, start.schema)
        lease = firm.lease()
        return reg, (lease.holder if lease.holder is not None and lease.expires_ms > now_ms else None)
    except ShardMismatch as e:
        raise ShardRefused(SHARD_MISMATCH, str(e).removeprefix(f"{SHARD_MISMATCH}: ")) from None
    finally:
        firm.close()


def start_shard(start: ShardStart, got: Optional[Split], state_url: str, holder: str,
                echo: Any, warn: Any) -> None:
    """Register the shard (:func:`register`, ShardRefused on a mismatch) and say what it runs."""
    import time

    reg, firm_holder = register(state_url, start, holder, int(time.time() * 1000))
    echo(f"ksctl run: shard {start.name} registered in ks_firm.shard ({reg.outcome}), accounts digest "
         f"{start.digest[:12]}" + (f" (was {reg.previous.accounts_digest[:12]})" if reg.outcome == "replaced"
                                   and reg.previous else ""))
    for i, line in enumerate(firm_lines(start, got, firm_holder)):
        (echo if i == 0 else warn)(f"ksctl run: {line}")


def firm_lines(start: ShardStart, got: Optional[Split], holder: Optional[str] = None) -> list[str]:
    """What the log says at start of the shard's policies: its own, and the firm-wide ones, which
    the holder of the firm lease evaluates (``holder``: who holds it now, when known)."""
    if got is None:
        return []
    local = got.local.get(start.name, [])
    lines = [f"shard {start.name}: {len(start.accounts)} account(s) ({', '.join(a.name for a in start.accounts)}); "
             f"state in schema {start.schema}; {len(local)} local policy(ies): {', '.join(local) or '-'}"]
    if got.firm:
        lines.append(f"shard {start.name}: FIRM-WIDE POLICIES EVALUATED BY THE FIRM LEASE HOLDER: "
                     f"{', '.join(got.firm)} (their scopes span shards; any shard's leader may hold the firm lease "
                     f"and evaluate them over the facts the shards publish; held now by {holder or 'nobody'})")
    return lines


def firm_link(parts: "RunnerParts", start: ShardStart, whole: Optional["DecisionGraph"], state_url: str,
              holder: str, ttl_ms: int, echo: Callable[[str], None], err: Callable[[str], None],
              console: Optional[str] = None, *, wake: Callable[[], None] = lambda: None,
              wake_now: Callable[[], None] = lambda: None) -> tuple["FirmLink", "BoardLink"]:
    """The shard's :class:`~killswitch.firmlink.firm.FirmLink` on the firm's store, its firm-wide
    policies taken from ``whole`` (the graph before the shard's narrowing); a firm-wide policy
    the facts cannot serve is :class:`ShardRefused` (``FIRM_POLICY_REFUSED``, as KS243 says), one
    whose interval no shard can publish for too (``FIRM_INTERVAL_TOO_SHORT``, as KS244 says).
    Made beside it, its board (:class:`~killswitch.firmlink.board.BoardLink`: published after
    each tick, every shard's read for its console; ``console``: this runner's own console URL,
    ``--external-url``); the caller puts both in the parts' :class:`~killswitch.runner.firm_slot.FirmSlot`.
    ``wake``: the next tick soon (a shard stopped); ``wake_now``: at once (a firm close)."""
    from ..firmlink.board import BoardLink
    from ..firmlink.firm import FirmLink
    from ..state.firm import open_firm
    from .bootstrap import shard_ports

    firm = open_firm(state_url)
    link = FirmLink(shard_ports(parts), firm, start, state_url, holder, ttl_ms, echo, err, wake=wake,
                    wake_now=wake_now)
    refused = link.set_graph(whole)
    if refused:
        firm.close()
        code = refused[0].split(":", 1)[0]  # the first's code; the others keep theirs in the text
        raise ShardRefused(code, "; ".join(r.removeprefix(f"{code}: ") for r in refused))
    return link, BoardLink(parts.clock, parts.book, parts.lead, parts.pace.pace_s, firm, start,
                           lambda: link.graph, ttl_ms, console, err, sync=parts.sync.summary)
