"""The catalogue of signal and action kinds as a reference page (docs/kinds.md), from the catalogue itself.

What it owns: :func:`kinds_page`, the Markdown of every kind :data:`~killswitch.policy.signals.SIGNALS`
and ``ACTIONS`` list, in their order: its name, what it reports or does (its model's docstring),
the unit of a signal's value and its parameters (from the model's JSON schema: allowed values,
defaults, which are required). ``python -m killswitch.cli.schema --write`` writes it next to the
JSON schemas, and a test fails when the page is stale, so a kind in a module of its own is
documented by its docstring, without an edit of the pages.
"""

from __future__ import annotations

import json
from typing import Any

from ..policy.actions import ACTIONS
from ..policy.expr import ValueType
from ..policy.signals import SIGNALS

_UNITS = {ValueType.RATIO: "ratio (a percentage: `dd >= 5%`)", ValueType.NUMBER: "number (`n >= 3`)",
          ValueType.DURATION: "duration (`age > 60s`)"}

HEAD = """# Signal and action kinds

<!-- Generated from the kind catalogue (killswitch/policy/signals.py, killswitch/policy/actions.py and
killswitch/policy/kinds/) by `python -m killswitch.cli.schema --write` (`make schemas`); do not edit: a
test compares it. -->

Every kind the policy language knows, in the order of its catalogue, with what it reports or does
and its parameters (`name` alone: required; `name = value`: its default; `a|b`: the values it
takes). *The policy language* explains how signals, triggers and stages fit together; the JSON
schema (`ksctl schema policy`) is the same catalogue for editors.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _value(v: object) -> str:
    """A default as a policy writes it: units by their text (``80%``, ``1m``), the rest as JSON."""
    if isinstance(v, (bool, int, float, list, dict)):
        return json.dumps(v)
    return str(v)


def _parameters(model: type[Any]) -> str:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    required = set(schema.get("required", ()))
    fields = model.model_fields
    out = []
    for name, prop in schema.get("properties", {}).items():
        text = f"`{name}`"
        if "enum" in prop:
            text += " " + "\\|".join(f"`{v}`" for v in prop["enum"])
        default = fields[name].default if name in fields else None
        if name not in required and default not in (None, [], {}):
            text += f" = `{_value(default)}`"
        out.append(text)
    return " · ".join(out) or "—"


def kinds_page() -> str:
    lines = [HEAD, "## Signals", "", "| signal | reports | value | parameters |", "|---|---|---|---|"]
    for name, k in SIGNALS.items():
        lines.append(f"| `{name}` | {_cell(k.doc)} | {_UNITS[k.model.value_type]} | {_parameters(k.model)} |")
    lines += ["", "## Actions", "",
              "A closing action closes positions (reduce-only orders); the others lock, cancel, arm, notify "
              "or render.", "", "| action | does | closes | short form | parameters |", "|---|---|---|---|---|"]
    for name, a in ACTIONS.items():
        short = f"`{{{name}: {a.short}}}`" if a.short is not None else "—"
        lines.append(f"| `{name}` | {_cell(a.doc)} | {'yes' if a.closes else 'no'} | {short} | "
                     f"{_parameters(a.model)} |")
    return "\n".join(lines) + "\n"
