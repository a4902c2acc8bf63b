"""The table of venues of docs/exchanges.md, assembled from the venue folders when the site is built.

What it owns
    :func:`on_page_markdown`, the mkdocs hook (mkdocs.yml ``hooks:``) that puts, in place of
    :data:`MARKER` on the exchanges page, every venue's rows, the folders in registry order
    (:func:`adapters.registry.venues`), and :func:`venue_rows`, a folder's rows: the table under
    :data:`HEADING` in its ``fixtures/README.md``, whose header and separator are the page's.
    A venue's row is written once, in its folder, beside the answers it is proven on.

What it must not do
    write a row of its own or leave a venue out: a folder without its rows, or whose table's
    header is not the page's, fails the build, strict or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

PAGE = "exchanges.md"
MARKER = "<!-- each venue's rows: its folder's fixtures/README.md (docs/hooks/exchanges.py) -->"
HEADING = "## In the exchanges table"


def venue_rows(readme: Path, header: list[str]) -> list[str]:
    """The rows of the table under :data:`HEADING` in ``readme``, whose first two lines must be
    ``header`` (the page's header and separator)."""
    lines = readme.read_text().splitlines()
    if HEADING not in lines:
        raise PluginError(f"{readme}: no '{HEADING}' section: each venue writes its rows of docs/{PAGE} there")
    section = lines[lines.index(HEADING) + 1:]
    section = section[:next((i for i, line in enumerate(section) if line.startswith("#")), len(section))]
    table = [line for line in section if line.startswith("|")]
    if table[:2] != header or len(table) < 3:
        raise PluginError(f"{readme}: the table under '{HEADING}' must have docs/{PAGE}'s header and a row at least")
    return table[2:]


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """The exchanges page with every venue's rows in place of :data:`MARKER`; any other page as it is."""
    if page.file.src_uri != PAGE:
        return markdown
    from adapters.registry import HOME, venues

    lines = markdown.split("\n")
    if MARKER not in lines:
        raise PluginError(f"docs/{PAGE} has no '{MARKER}' line for the venues' rows")
    at = lines.index(MARKER)
    rows = [row for pkg in venues() for row in venue_rows(HOME / pkg.__name__.rsplit(".", 1)[1] / "fixtures"
                                                          / "README.md", lines[at - 2:at])]
    return "\n".join(lines[:at] + rows + lines[at + 1:])
