"""``ksctl schema KIND``: the JSON Schema of a document kind, for editors and CI.

The schemas are also checked in under ``killswitch/schemas/``; ``make schemas`` (this module's
``--write``) regenerates them and the reference page of the kinds (docs/kinds.md) made from the
same catalogue; a test fails when any is stale. (What validate reads of the venues' dialects is
read from them at run time: :mod:`killswitch.dialect_tables`.)
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


def _write() -> None:
    from ..render.kinds import kinds_page

    SCHEMA_DIR.mkdir(exist_ok=True)
    for kind in KINDS:
        schema_file(kind).write_text(schema_text(kind))
        print(f"wrote {schema_file(kind)}")
    if KINDS_PAGE.parent.is_dir():
        KINDS_PAGE.write_text(kinds_page())
        print(f"wrote {KINDS_PAGE}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        _write()
    else:
        print("usage: python -m killswitch.cli.schema --write", file=sys.stderr)
        sys.exit(2)
