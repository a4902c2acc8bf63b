"""``ksctl replay --policies PATH --snapshots FILE.jsonl``: what the policies would have decided, tick by tick."""

from __future__ import annotations

import click

from .common import EXIT_FINDINGS, EXIT_OK, compile_or_exit, output_option


@click.command(epilog="""\b
Examples:
  ksctl replay --policies policies/ --snapshots policies/recordings/futures-crash.jsonl
  ksctl replay --policies policies/futures-book.yaml --snapshots day.jsonl -o json > decisions.json
""")
@click.option("--policies", "policy_paths", multiple=True, required=True, type=click.Path(),
              help="Policy files or directories (repeatable).")
@click.option("--snapshots", "snapshots", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="JSONL: one snapshot, or one tick {now, snapshots, heartbeats}, per line ('-' for stdin).")
@click.option("--verbose", "-v", is_flag=True, help="Also print every tick's signals, pending triggers and refusals.")
@output_option
def replay(policy_paths: tuple[str, ...], snapshots: str, verbose: bool, output: str) -> None:
    """Replay recorded snapshots through the policies with in-memory state; nothing is sent."""
    from ..render.evaluation import replay_json, replay_text
    from ..replay import ReplayError, read_ticks
    from ..replay import replay as run

    result = compile_or_exit(policy_paths, "replay")
    graph = result.graph
    kinds = {p.name: {s.name: s.type.value for s in p.signals} for p in graph.policies}
    evaluations = []
    try:
        with click.open_file(snapshots, "r", encoding="utf-8") as fh:
            stream = (ev for _, ev, _ in run(graph, read_ticks(fh)))
            if output == "json":
                evaluations = list(stream)
            else:
                for line in replay_text(stream, kinds, verbose):
                    click.echo(line)
    except ReplayError as e:
        click.echo(f"ksctl replay: {snapshots}:{e.line}: {e.message}", err=True)
        raise SystemExit(EXIT_FINDINGS)
    except OSError as e:
        click.echo(f"ksctl replay: {snapshots}: {e.strerror}", err=True)
        raise SystemExit(EXIT_FINDINGS)
    if output == "json":
        click.echo(replay_json(evaluations, graph.digest, graph.revision))
    raise SystemExit(EXIT_OK)
