"""``ksctl schema KIND``: the JSON Schema of a document kind, for editors and CI.

The schemas are also checked in under ``killswitch/schemas/``; ``make schemas`` (this module's
``--write``) regenerates them, the reference page of the kinds (docs/kinds.md) made from the
same catalogue, the compiler's list of the ccxt ids with a dialect
(``killswitch/compile/dialect_venues.py``, from the venue packages' data) and the venues' REST
weight table validate reads (``killswitch/compile/venue_tables.py``, from the dialects); a test
fails when any is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import output_formats

KINDS = ("policy", "accounts", "routes", "test", "snapshot")
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
# the reference page of the signal and action kinds, made from the same catalogue (in a checkout)
KINDS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "kinds.md"
# the compiler's list of the ccxt ids with a dialect (it must not import the adapters to read it)
DIALECT_VENUES_FILE = Path(__file__).resolve().parent.parent / "compile" / "dialect_venues.py"


def model_for(kind: str):
    from .. import snapshot
    from ..policy import model

    return {
        "policy": model.Policy,
        "accounts": model.Accounts,
        "routes": model.NotificationRoutes,
        "test": model.PolicyTest,
        "snapshot": snapshot.Snapshot,
    }[kind]


def schema_text(kind: str) -> str:
    cls = model_for(kind)
    body = cls.model_json_schema(by_alias=True, mode="validation")
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"killswitch/v1/{kind}", **body}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def schema_file(kind: str) -> Path:
    return SCHEMA_DIR / f"{kind}.schema.json"


@click.command(epilog="""\b
Examples:
  ksctl schema policy > .vscode/killswitch-policy.schema.json
  ksctl schema snapshot
""")
@click.argument("kind", type=click.Choice(KINDS), default="policy")
@output_formats("json")
def schema(kind: str, output: str) -> None:
    """Print the JSON Schema of a document kind (default: policy). A schema is JSON: -o json is
    the only output."""
    click.echo(schema_text(kind), nl=False)


def dialect_venues_text() -> str:
    """killswitch/compile/dialect_venues.py as the venue packages' ``CCXT_IDS`` make it."""
    from adapters.registry import dialect_ids

    ids = "(\n" + "".join(f'    "{i}",\n' for i in dialect_ids()) + ")"  # one a line: any number fits
    return ('"""The ccxt ids with a dialect of their own: generated, do not edit.\n\n'
            "Written by ``make schemas`` (``python -m killswitch.cli.schema --write``) from the venue\n"
            "packages' ``CCXT_IDS`` (``adapters/venues/<venue>/__init__.py``): the compiler must not import the\n"
            "adapters. ``tests/unit/compile/test_venue_check.py`` fails when it is stale.\n"
            '"""\n\n'
            f"DIALECT_VENUES: tuple[str, ...] = {ids}\n")


def _write() -> None:
    from ..render.kinds import kinds_page

    SCHEMA_DIR.mkdir(exist_ok=True)
    for kind in KINDS:
        schema_file(kind).write_text(schema_text(kind))
        print(f"wrote {schema_file(kind)}")
    if KINDS_PAGE.parent.is_dir():
        KINDS_PAGE.write_text(kinds_page())
        print(f"wrote {KINDS_PAGE}")
    DIALECT_VENUES_FILE.write_text(dialect_venues_text())
    print(f"wrote {DIALECT_VENUES_FILE}")
    from adapters.ccxt_exchange.declared import table_text

    from ..compile import venue_tables

    Path(venue_tables.__file__).write_text(table_text())  # the dialects' REST weights, for validate
    print(f"wrote {venue_tables.__file__}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        _write()
    else:
        print("usage: python -m killswitch.cli.schema --write", file=sys.stderr)
        sys.exit(2)
