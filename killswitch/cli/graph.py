"""``ksctl graph PATH -o mermaid|dot|json``: draw the compiled decision graph."""

from __future__ import annotations

from typing import Optional

import click

from .common import compile_or_exit, file_format, file_output, max_file_size_option


@click.command(epilog="""\b
Examples:
  ksctl graph policies/ -o mermaid > graph.mmd
  ksctl graph policies/futures-book.yaml -o dot | dot -Tsvg > futures.svg
  ksctl graph policies/ -o json | jq '.policies[].name'
""")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--policy", "only", multiple=True, help="Draw only these policies (by name).")
@max_file_size_option
@file_output("mermaid", "dot")
def graph(paths: tuple[str, ...], fmt: Optional[str], only: tuple[str, ...], max_file_bytes: int, output: str) -> None:
    """Compile policies and print their decision graph: signals → triggers → stages → actions."""
    from ..compile.graph import DecisionGraph
    from ..render.graph import dot, graph_json, mermaid

    output = file_format(output, fmt, ("mermaid", "dot"), "graph")

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
        click.echo(dot(g) if output == "dot" else mermaid(g), nl=False)
