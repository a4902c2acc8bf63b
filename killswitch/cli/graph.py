"""``ksctl graph PATH --format mermaid|dot``: draw the compiled decision graph."""

from __future__ import annotations

import click

from .common import compile_or_exit


@click.command(epilog="""\b
Examples:
  ksctl graph policies/ --format mermaid > graph.mmd
  ksctl graph policies/futures-book.yaml --format dot | dot -Tsvg > futures.svg
""")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.option("--policy", "only", multiple=True, help="Draw only these policies (by name).")
def graph(paths: tuple[str, ...], fmt: str, only: tuple[str, ...]) -> None:
    """Compile policies and print their decision graph: signals → triggers → stages → actions."""
    from ..compile.graph import DecisionGraph
    from ..render.graph import dot, mermaid

    result = compile_or_exit(paths, "graph")
    g = result.graph
    if only:
        missing = sorted(set(only) - {p.name for p in g.policies})
        if missing:
            raise click.UsageError(f"no policy named {', '.join(missing)}")
        g = DecisionGraph(tuple(p for p in g.policies if p.name in only), g.digest, g.revision)
    click.echo(mermaid(g) if fmt == "mermaid" else dot(g), nl=False)
