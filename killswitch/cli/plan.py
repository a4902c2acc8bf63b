"""``ksctl plan``: what the policies would do now — or over a recording — without sending anything.

Reads the snapshots (one live snapshot per account of an Accounts document, or a recording),
builds the plan value (:mod:`killswitch.preview.plan`), prints it (:mod:`killswitch.render.plan`) and
exits with a code that tells a complete plan from one that could not read every account: a
preview that did not see an account must not pass for "nothing to do" in a pull-request check.

Must not send anything to a venue, nor write the state it starts from.
"""

from __future__ import annotations

import asyncio

import click

from .common import (
    StateUrl,
    accounts_of,
    compile_or_exit,
    duration_s,
    max_file_size_option,
    open_reading,
    output_formats,
    reading_recording,
    reading_state,
    scores_option,
)

EXIT_NO_CHANGES = 0
EXIT_ERROR = 1  # an error, or an incomplete plan (an account not read) without --allow-incomplete
EXIT_CHANGES = 2  # with --detailed-exitcode: actions planned
EXIT_INCOMPLETE = 4  # with --detailed-exitcode --allow-incomplete: an account not read (| EXIT_CHANGES)


def exit_code(complete: bool, changes: bool, detailed: bool, allow_incomplete: bool) -> int:
    """The documented exit code of a plan. An incomplete plan fails (1) unless allowed; allowed,
    it is 0 without --detailed-exitcode and never 0 with it (4, or 6 with actions planned)."""
    if not complete and not allow_incomplete:
        return EXIT_ERROR
    if not detailed:
        return EXIT_NO_CHANGES
    return (EXIT_CHANGES if changes else EXIT_NO_CHANGES) | (EXIT_NO_CHANGES if complete else EXIT_INCOMPLETE)


@click.command(epilog="""\b
Examples:
  ksctl plan --policies policies/ --against policies/recordings/futures-crash.jsonl
  ksctl plan --policies policies/ --accounts policies/accounts.yaml --state sqlite:///var/lib/ks/state.db
  ksctl plan --policies policies/ --against week.jsonl --detailed-exitcode -o json
  ksctl plan --policies policies/ --accounts policies/accounts.yaml -o markdown > plan.md
\b
A plan is incomplete when a trigger could not be evaluated (too little history,
missing or stale data; over a recording, outside its first warm-up ticks), live
when a policy's scope selects none of the accounts read, and when an account's
snapshot could not be read (live: a wrong credential, a venue down or slow; a
recording: a failed snapshot). It
names each such account with its reason code and never says "no changes" of
an account it did not see.
\b
Exit codes: 0 the plan ran and saw every account, 1 an error or an incomplete
plan, 2 usage, 3 internal error.
Live, a limits.symbols entry on a symbol no venue the policy selects lists is
KS267 at its line (the venues' symbol lists are read with the snapshots): 1.
The limits the book already breaks are listed; they do not change the code.
With --detailed-exitcode: 0 no changes, 2 actions planned, 1 an error or an
incomplete plan.
With --allow-incomplete an incomplete plan exits as a complete one would
(0), or with --detailed-exitcode 4 (no actions planned on what was read) or
6 (actions planned) — never 0.
""")
@click.option("--policies", "policy_paths", multiple=True, required=True, type=click.Path(exists=True))
@click.option("--against", "against", type=click.Path(exists=True, dir_okay=False),
              help="A JSONL recording (snapshots or ticks) instead of live snapshots.")
@click.option("--accounts", type=click.Path(exists=True, dir_okay=False), help="Accounts for live snapshots.")
@click.option("--state", "state_url", type=StateUrl(), default=None,
              help="Start from the stored state (sqlite:///path/to/state.db or postgresql://user@host/db).")
@click.option("--timeout", "timeout", default="10s", show_default=True,
              help="How long each account's live snapshot may take before it counts as not read (TIMEOUT).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when actions are planned, 0 when none.")
@click.option("--allow-incomplete", is_flag=True,
              help="Do not fail on accounts that could not be read (they are still reported).")
@scores_option
@max_file_size_option
@output_formats("text", "json", "markdown")
def plan(policy_paths, against, accounts, state_url, timeout, detailed_exitcode, allow_incomplete, scores,
         max_file_bytes, output) -> None:
    """Preview the stage changes, orders and cancels the policies would produce. Nothing is sent."""
    from ..engine.state import State
    from ..render.coverage import unread_detail
    from ..render.plan import plan_json, plan_markdown, plan_text

    timeout_s = duration_s(timeout, "--timeout")
    if bool(against) == bool(accounts):
        raise click.UsageError("give --accounts for live snapshots, or --against a recording (not both)")
    # live: the scopes are checked against the accounts read (KS218), when the policies declare none
    # the accounts file is read once: its accounts for KS218, its documents for the weight
    # budget, its spec for the live snapshots
    spec, accounts_docs = accounts_of(accounts, max_file_bytes)
    result = compile_or_exit(policy_paths, "plan", max_file_bytes, spec.accounts if spec is not None else None)
    graph = result.graph
    if accounts:
        _refuse_over_budget(accounts_docs, graph)
    state, stored = _stored_state(reading_state(state_url)) if state_url else (State(), None)
    unlisted: list = []  # KS267: limits on symbols no venue lists (live: the venues' lists are read)
    modes: dict = {}  # live: each account's position mode as its venue read it
    if against:
        from ..preview.plan import plan_ticks
        from ..preview.replay import read_ticks

        with reading_recording("plan", against, EXIT_ERROR), open(against, encoding="utf-8") as fh:
            planned = plan_ticks(graph, read_ticks(fh), state, scores)
        if planned.ticks == 0:
            # an empty recording evaluates nothing: "no changes" would be a claim about nothing
            click.echo(f"ksctl plan: {against}: no snapshot or tick in the recording; nothing to evaluate", err=True)
            raise SystemExit(EXIT_ERROR)
        source, mode = {"kind": "file", "path": against, "ticks": planned.ticks}, "dry-run"
    else:
        planned, mode, unlisted, modes = asyncio.run(_live(graph, spec, state, timeout_s, scores, stored))
        source = {"kind": "live", "accounts": accounts}
    if state_url:  # the overrides of the limits the store holds: what the gate lets through beyond the limits
        for line in _stored_overrides(reading_state(state_url)):
            click.echo(f"ksctl plan: {line}", err=True)
    for key, m in sorted(modes.items()):  # the mode the venue read rules how closes are sent
        click.echo(f"ksctl plan: {key}: position mode {mode_text(m)}", err=True)
    for a in planned.unread:
        click.echo(f"ksctl plan: {a.key}: snapshot failed ({unread_detail(a)})"
                   + (f": {a.message}" if a.message else ""), err=True)
    render = {"json": plan_json, "markdown": plan_markdown}.get(output, plan_text)
    click.echo(render(planned, graph, source, mode))
    code = exit_code(planned.complete, bool(planned.changes), detailed_exitcode, allow_incomplete)
    if unlisted:
        from ..render.diagnostics import diagnostic_text

        for x in unlisted:
            click.echo(diagnostic_text(x), err=True)
        code = EXIT_ERROR
    for b in planned.gaps:
        click.echo(f"ksctl plan: {b.policy} {b.scope}: not evaluated ({b.reason}): {b.detail}", err=True)
    if not planned.complete:
        what = [f"{len(planned.unread)} of {len(planned.accounts)} account(s) not read"] if planned.unread else []
        what += [f"{len(planned.gaps)} policy scope(s) not evaluated"] if planned.gaps else []
        click.echo(f"ksctl plan: incomplete: {', '.join(what)}"
                   + ("" if allow_incomplete else "; --allow-incomplete accepts an incomplete plan"), err=True)
    raise SystemExit(code)


def _refuse_over_budget(docs, graph) -> None:
    """KS230: accounts whose polling cannot fit their venue's REST weight budget at the pace the
    policies tick at are refused before any snapshot is taken (a runner with them would be
    throttled, then banned); KS231, near it, is said and the plan goes on."""
    from ..render.diagnostics import diagnostic_text
    from .budget import accounts_findings

    found = accounts_findings(docs, graph)
    for x in found:
        click.echo(diagnostic_text(x), err=True)
    if any(x.is_error for x in found):
        click.echo("ksctl plan: the accounts' polling does not fit the venues' REST weight budget; "
                   "nothing was read", err=True)
        raise SystemExit(EXIT_ERROR)


def _stored_overrides(url: str) -> list[str]:
    """The overrides of the limits in force or pending in the store, a line each (``OVERRIDE
    ovr-… ACTIVE raise max_order_notional to 200000 on S until T (requested by, approved by)``)."""
    import time

    from ..overrides import iso

    now = int(time.time() * 1000)
    with open_reading(url, "plan") as store:
        found = [o for o in store.overrides(now) if o.state(now) != "ended"]
    return [f"OVERRIDE {o.id} {o.state(now).upper()} {o.what} on {o.scope}"
            + (f" for {o.strategy}" if o.strategy else "") + f" until {iso(o.expires_ms)} (requested by "
            f"{o.requester}, approved by {', '.join(o.approvers) or 'nobody yet'}): the gate lets through what it "
            "covers" for o in found]


def _stored_state(url: str):
    """The stored engine state, and what the venue watch reads of the store: the lock book, the
    baselines and the runner's own client order ids (pending, and the last day's)."""
    import time

    from ..engine.state import State
    from ..runner.lock.lock import LockBook
    from ..runner.watch.enforcement import OWN_HISTORY_MS

    with open_reading(url, "plan") as store:
        doc, pnl_samples = store.load_engine_state_and_pnl()
        since = int(time.time() * 1000) - OWN_HISTORY_MS
        own = frozenset(e.client_order_id for e in (*store.pending_intents(), *store.journal(100_000, since)))
    if not doc:
        return State(), None
    return State.from_json(doc["engine"], pnl_samples), (LockBook.from_json(doc["lock"]), doc.get("baselines") or {},
                                                          own)


async def _with_books(graph, snaps, state, now: int, rates, venues, timeout_s: float):
    """The snapshots with the order books of the closes the plan makes for a policy whose unwind
    reads them (as the runner fetches them, :mod:`killswitch.runner.venue.depth`); a book that cannot
    be had is left out, and the plan says BOOK_MISSING for its close."""
    from ..engine.evaluate import book_requests, evaluate
    from ..runner.venue.depth import BOOK_TIMEOUT_S, fetch_books

    first, _ = evaluate(graph, snaps, state.copy() if state is not None else None, now, rates)
    wants = book_requests(graph, first, snaps)
    if not wants:
        return snaps
    books, _ = await fetch_books(venues, wants, min(BOOK_TIMEOUT_S, timeout_s))
    return [s.model_copy(update={"books": {**s.books, **books[k]}}) if (k := f"{s.venue}/{s.account}") in books
            else s for s in snaps]


async def _live(graph, spec, state, timeout_s: float, scores: str, stored=None):
    import time

    from adapters.base import order_rates
    from adapters.deferred import unreadable_snapshot

    from ..preview.limits import unlisted_limit_symbols
    from ..preview.plan import plan_snapshots
    from ..process.bootstrap import ccxt_adapters
    from ..runner.venue.port import Venues

    built = ccxt_adapters(spec.accounts, timeout=timeout_s, defer_unreadable=False)
    rates = order_rates(built.by_key.values())
    try:
        snaps = list(await asyncio.gather(*(a.snapshot() for a in built.by_key.values())))
        now = int(time.time() * 1000)
        venues = Venues(built.by_key, timeout_s=timeout_s)
        snaps = await _with_books(graph, snaps, state, now, rates, venues, timeout_s)
        listed = {k: p.symbols() for k, p in venues.items()}  # read with the snapshots
        modes = {k: mode for k, p in venues.items()  # read with the snapshots too (an account of positions)
                 if (mode := p.position_mode()) is not None and p.capabilities.positions}
    finally:
        await built.close()
    # an account whose credential could not be read is a failed snapshot: the plan is incomplete
    snaps += [unreadable_snapshot(acc, e, now) for acc, e in built.unreadable]
    planned = plan_snapshots(graph, snaps, state, now, rates, scores)
    if stored is not None:  # what the locks in force would cancel and revert at the venue now (the runner's rule)
        from dataclasses import replace

        from ..runner.watch.enforce import watch

        book, baselines, own = stored
        planned = replace(planned, watch=watch(book, snaps, own, baselines, now))
    return planned, "dry-run" if spec.dry_run else "live", unlisted_limit_symbols(graph, snaps, listed), modes


def mode_text(m) -> str:
    """``hedge (read from GET /fapi/v1/positionSide/dual); POSITION_MODE_MISMATCH: declared one-way,
    the venue reads hedge (…)``, or why it was not read: the mode a close would be built for."""
    if m.hedge is None:
        return (f"unread ({m.error or 'no read'}); closes would follow the positions' own legs, not the "
                f"declared {'hedge' if m.declared_hedge else 'one-way'}")
    said = ("hedge" if m.hedge else "one-way") + (f", margin {m.margin}" if m.margin else "")
    why = m.mismatch_reason()  # (it names where the mode was read)
    if why:
        return f"{said}; {why}: closes would be sent as the venue's mode"
    return said + (f" (read from {m.source})" if m.source else "") + ", as declared"
