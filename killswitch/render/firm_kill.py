"""The firm-wide kill as text: its preview (what each shard locks, cancels and revokes, the
shards not heard) and its progress per shard and account (``ksctl kill --firm``, ``ksctl status
--firm``). Values in, text out."""

from __future__ import annotations

from typing import Any, Mapping

from ..firm.kill import progress_lines


def preview_text(p: Mapping[str, Any]) -> str:
    lines = [str(p.get("reason") or "")]
    lines += [f"  {line}" for line in p.get("lines") or ()]
    if p.get("allowed"):
        lines.append(f"  {p.get('release')}")
    return "\n".join(lines)


def progress_text(doc: Mapping[str, Any]) -> str:
    return "\n".join(progress_lines(doc))
