"""``ksctl shards``: each shard, its accounts and its policies, and the firm-wide policies, as text
or JSON. Formats values only (:mod:`killswitch.compile.shards` decides them)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..compile.shards import Split, accounts_digest


def shards_doc(accounts: Sequence[Any], assignment: dict[str, list[str]], split: Split,
               schemas: dict[str, str], paces: dict[str, float]) -> dict:
    """The assignment as one JSON-ready value (``paces``: each shard's tick interval, seconds)."""
    by_name = {a.name: a for a in accounts}
    shards = []
    for name, names in assignment.items():
        mine = [by_name[n] for n in names]
        shards.append({"name": name, "schema": schemas[name],
                       "accounts": [f"{a.venue}/{a.name}" for a in mine],
                       "accounts_digest": accounts_digest(mine),
                       "policies": split.local.get(name, []), "tick_interval_s": paces[name]})
    return {"shards": shards,
            "firm": [{"name": p, "shards": split.spans.get(p, [])} for p in split.firm],
            "unmatched": list(split.unmatched)}


def shards_json(doc: dict) -> str:
    return json.dumps(doc, indent=2)


def shards_text(doc: dict) -> str:
    lines = []
    for s in doc["shards"]:
        lines.append(f"shard {s['name']}  schema {s['schema']}  {len(s['accounts'])} account(s)  "
                     f"digest {s['accounts_digest'][:12]}  ticks every {s['tick_interval_s']:g}s")
        lines.append(f"  accounts: {', '.join(s['accounts']) or '-'}")
        lines.append(f"  policies: {', '.join(s['policies']) or '-'}")
    if doc["firm"]:
        lines.append("firm-wide policies (their scopes span shards; evaluated by the holder of the firm lease):")
        lines += [f"  {p['name']}  spans {', '.join(p['shards'])}" for p in doc["firm"]]
    else:
        lines.append("firm-wide policies: none")
    if doc["unmatched"]:
        unmatched = ", ".join(doc["unmatched"])
        lines.append(f"policies selecting no declared account (no runner evaluates them): {unmatched}")
    return "\n".join(lines)
