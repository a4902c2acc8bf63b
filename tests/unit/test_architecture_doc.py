"""The architecture page names every package: a folder with an ``__init__.py`` directly under
``killswitch/`` or ``adapters/`` is in the files column of its *Layers, bottom up* table (as
``killswitch/drift/``, or ``adapters/venues/<venue>/`` for a folder of folders), and one under
``killswitch/runner/`` is a room of its *The runner's rooms* table (as ``api/``). A package
added without its row fails here, naming it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

PAGE = ROOT / "docs" / "architecture.md"
CODE = re.compile(r"`([^`]+)`")


def packages(parent: str) -> list[str]:
    """The packages directly under ``parent`` (a path from the root), as ``parent/name``."""
    return sorted(p.parent.relative_to(ROOT).as_posix() for p in (ROOT / parent).glob("*/__init__.py"))


def table_column(text: str, heading: str, column: int) -> list[str]:
    """The code spans of one column (0: the first) of the table under ``heading``, up to the next
    heading of the page."""
    section = ("\n" + text).split(f"\n{heading}\n", 1)[1]
    section = re.split(r"\n#{1,6} ", section, maxsplit=1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # the header and the rule
    return [span for row in rows for span in CODE.findall(row.strip("|").split("|")[column])]


def unnamed(found: list[str], spans: list[str], prefix: str = "") -> list[str]:
    """The packages of ``found`` (paths) no span names: ``path/`` itself, or ``path/<…>`` for a
    folder whose packages are each a row's placeholder. ``prefix`` is left off the path first."""
    named = set()
    for span in spans:
        named.add(span.split("<", 1)[0].rstrip("/"))
    return [path for path in found if path.removeprefix(prefix) not in named]


def test_the_layers_table_names_every_package_of_killswitch_and_adapters():
    spans = table_column(PAGE.read_text(encoding="utf-8"), "## Layers, bottom up", 1)
    found = packages("killswitch") + packages("adapters")
    assert found, "no package found: the walk is wrong"
    assert unnamed(found, spans) == [], f"add each to a row of {PAGE.name}'s layers table"


def test_the_rooms_table_names_every_package_of_the_runner():
    spans = table_column(PAGE.read_text(encoding="utf-8"), "### The runner's rooms", 0)
    found = packages("killswitch/runner")
    assert "killswitch/runner/tick" in found, "the walk is wrong"
    assert unnamed(found, spans, "killswitch/runner/") == [], f"add each to {PAGE.name}'s rooms table"


def test_a_package_no_row_names_is_found(tmp_path: Path):
    """The check can fail: a room left out of the table, or a layer's folder written only in the
    prose or inside another folder's path, is reported."""
    page = ("## Layers, bottom up\n\n| layer | files | may import |\n|---|---|---|\n"
            "| core | `killswitch/policy/` (`killswitch/engine/x.py`) | nothing |\n\n"
            "`killswitch/compile/` in prose\n\n### The runner's rooms\n\n| room | what |\n|---|---|\n"
            "| `api/` | the API (`tick/`) |\n")
    layers = table_column(page, "## Layers, bottom up", 1)
    assert unnamed(["killswitch/policy", "killswitch/engine", "killswitch/compile"], layers) == \
        ["killswitch/engine", "killswitch/compile"]
    rooms = table_column(page, "### The runner's rooms", 0)
    assert unnamed(["killswitch/runner/api", "killswitch/runner/tick"], rooms, "killswitch/runner/") == \
        ["killswitch/runner/tick"]
