"""``ksctl graph PATH --format mermaid|dot``: draw the compiled decision graph."""

from __future__ import annotations

from typing import Optional

import click

from .common import compile_or_exit, max_file_size_option, output_option


@click.command(epilog="""\b
Examples:
  ksctl graph policies/ --format mermaid > graph.mmd
  ksctl graph policies/futures-book.yaml --format dot | dot -Tsvg > futures.svg
  ksctl graph policies/ -o json | jq '.policies[].name'
""")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default=None,
              help="The drawing's file format with -o text: mermaid (default) or dot.")
@click.option("--policy", "only", multiple=True, help="Draw only these policies (by name).")
@max_file_size_option
@output_option
def graph(paths: tuple[str, ...], fmt: Optional[str], only: tuple[str, ...], max_file_bytes: int, output: str) -> None:
    """Compile policies and print their decision graph: signals → triggers → stages → actions."""
    from ..compile.graph import DecisionGraph
    from ..render.graph import dot, graph_json, mermaid

    if output == "json" and fmt is not None:
        raise click.UsageError("--format mermaid|dot is the drawing's file format of -o text; -o json is the graph's "
                               "nodes and edges")

    result = compile_or_exit(paths, "graph", max_file_bytes)
    g = result.graph
    if only:
        missing = sorted(set(only) - {p.name for p in g.policies})
        if missing:
            raise click.UsageError(f"no policy named {', '.join(missing)}")
        g = DecisionGraph(tuple(p for p in g.policies if p.name in only), g.digest, g.revision)
    if output == "json":
        click.echo(graph_json(g))
    else:
        click.echo(dot(g) if fmt == "dot" else mermaid(g), nl=False)
