"""``ksctl plan``: what the policies would do now — or over a recording — without sending anything."""

from __future__ import annotations

import asyncio

import click

from .common import compile_or_exit, output_option

EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


@click.command(epilog="""\b
Examples:
  ksctl plan --policies policies/ --against policies/recordings/futures-crash.jsonl
  ksctl plan --policies policies/ --accounts policies/accounts.yaml --state sqlite:///var/lib/ks/state.db
  ksctl plan --policies policies/ --against week.jsonl --detailed-exitcode -o json
With --detailed-exitcode: 0 nothing to do, 2 actions planned, 1 error.
""")
@click.option("--policies", "policy_paths", multiple=True, required=True, type=click.Path())
@click.option("--against", "against", type=click.Path(exists=True, dir_okay=False),
              help="A JSONL recording (snapshots or ticks) instead of live snapshots.")
@click.option("--accounts", type=click.Path(exists=True, dir_okay=False), help="Accounts for live snapshots.")
@click.option("--state", "state_url", default=None, help="Start from the stored state (sqlite://… or postgresql://…).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when actions are planned, 0 when none.")
@output_option
def plan(policy_paths, against, accounts, state_url, detailed_exitcode, output) -> None:
    """Preview the stage changes, orders and cancels the policies would produce. Nothing is sent."""
    from ..engine.state import State
    from ..render.plan import changes_of, plan_json, plan_text

    result = compile_or_exit(policy_paths, "plan")
    graph = result.graph
    state = _stored_state(state_url) if state_url else State()
    if against:
        from ..replay import ReplayError, read_ticks, replay

        try:
            with open(against, encoding="utf-8") as fh:
                evaluations = [ev for _, ev, _ in replay(graph, read_ticks(fh), state)]
        except ReplayError as e:
            click.echo(f"ksctl plan: {against}:{e.line}: {e.message}", err=True)
            raise SystemExit(EXIT_ERROR)
        source, mode = {"kind": "file", "path": against, "ticks": len(evaluations)}, "dry-run"
    else:
        if not accounts:
            raise click.UsageError("give --accounts for live snapshots, or --against a recording")
        evaluations, mode = asyncio.run(_live(graph, accounts, state))
        source = {"kind": "live", "accounts": accounts}
    changes = changes_of(evaluations)
    click.echo(plan_json(changes, graph, source, mode) if output == "json" else plan_text(changes, graph, source, mode))
    raise SystemExit(EXIT_CHANGES if (detailed_exitcode and changes) else EXIT_NO_CHANGES)


def _stored_state(url: str):
    from ..engine.state import State
    from ..state import open_store

    store = open_store(url, migrate=False)
    try:
        doc, pnl_samples = store.load_engine_state_and_pnl()
    finally:
        store.close()
    return State.from_json(doc["engine"], pnl_samples) if doc else State()


async def _live(graph, accounts_path: str, state):
    import time

    from adapters.ccxt_exchange import CcxtAdapter

    from ..engine.evaluate import evaluate
    from ..runner.daemon import compile_policies
    from ..policy.model import Accounts

    res = compile_policies((accounts_path,))
    docs = [d.model for d in res.docs if isinstance(d.model, Accounts)]
    if res.errors or len(docs) != 1:
        raise click.UsageError(f"{accounts_path} must hold exactly one valid Accounts document")
    spec = docs[0].spec
    adapters = [CcxtAdapter(a, urls=a.api_url) for a in spec.accounts]
    try:
        snaps = await asyncio.gather(*(a.snapshot() for a in adapters))
    finally:
        for a in adapters:
            await a.close()
    for s in snaps:
        if not s.fetch.ok:
            click.echo(f"ksctl plan: {s.venue}/{s.account}: snapshot failed ({s.fetch.error_code})", err=True)
    ev, _ = evaluate(graph, snaps, state, int(time.time() * 1000))
    return [ev], "dry-run" if spec.dry_run else "live"
