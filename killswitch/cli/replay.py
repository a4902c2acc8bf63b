"""``ksctl replay --policies PATH --snapshots FILE.jsonl``: what the policies would have decided, tick by tick."""

from __future__ import annotations

import click

from .common import (
    EXIT_FINDINGS,
    EXIT_OK,
    compile_or_exit,
    max_file_size_option,
    output_option,
    reading_recording,
    scores_option,
)


@click.command(epilog="""\b
Examples:
  ksctl replay --policies policies/ --snapshots policies/recordings/futures-crash.jsonl
  ksctl replay --policies policies/futures-book.yaml --snapshots day.jsonl -o json > decisions.json
\b
A snapshot recorded as failed (fetch.ok false) makes the replay incomplete:
each account not read is named with its reason code.
Exit codes: 0 replayed, 1 an error or an incomplete replay (0 with
--allow-incomplete), 2 usage, 3 internal error.
""")
@click.option("--policies", "policy_paths", multiple=True, required=True, type=click.Path(exists=True),
              help="Policy files or directories (repeatable).")
@click.option("--snapshots", "snapshots", required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help="JSONL: one snapshot, or one tick {now, snapshots, heartbeats}, per line ('-' for stdin).")
@click.option("--verbose", "-v", is_flag=True, help="Also print every tick's signals, pending triggers and refusals.")
@click.option("--allow-incomplete", is_flag=True,
              help="Do not fail on snapshots recorded as failed (they are still reported).")
@scores_option
@max_file_size_option
@output_option
def replay(policy_paths: tuple[str, ...], snapshots: str, verbose: bool, allow_incomplete: bool, scores: str,
           max_file_bytes: int, output: str) -> None:
    """Replay recorded snapshots through the policies with in-memory state; nothing is sent."""
    from ..preview.coverage import CoverageTally, complete
    from ..preview.replay import read_ticks, replay as run
    from ..render.coverage import account_lines, incomplete_line, unread_detail
    from ..render.evaluation import replay_json, replay_text

    result = compile_or_exit(policy_paths, "replay", max_file_bytes)
    graph = result.graph
    kinds = {p.name: {s.name: s.type.value for s in p.signals} for p in graph.policies}
    evaluations = []
    tally = CoverageTally()

    def counted(ticks):
        # which accounts the recording's snapshots were read for, as the ticks go by
        for tick, ev, _ in ticks:
            for snap in tick.snapshots:
                tally.saw(snap, tick.now_ms)
            yield ev

    with reading_recording("replay", snapshots), click.open_file(snapshots, "r", encoding="utf-8") as fh:
        stream = counted(run(graph, read_ticks(fh), scores=scores))
        if output == "json":
            evaluations = list(stream)
        else:
            for line in replay_text(stream, kinds, verbose):
                click.echo(line)
    accounts = tally.accounts()
    if output == "json":
        click.echo(replay_json(evaluations, graph.digest, graph.revision, accounts))
    else:
        for line in account_lines(accounts, "replay"):
            click.echo(line)
    if complete(accounts):
        raise SystemExit(EXIT_OK)
    for a in accounts:
        if a.failed:
            click.echo(f"ksctl replay: {a.key}: snapshot failed ({unread_detail(a)})"
                       + (f": {a.message}" if a.message else ""), err=True)
    if output != "json":
        click.echo(incomplete_line(accounts, "replay"))
    if allow_incomplete:
        raise SystemExit(EXIT_OK)
    click.echo("ksctl replay: incomplete; --allow-incomplete accepts snapshots recorded as failed", err=True)
    raise SystemExit(EXIT_FINDINGS)
