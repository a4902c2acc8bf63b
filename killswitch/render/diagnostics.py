"""Render compile results: diagnostics and a summary, as text or JSON (``format_version`` 1)."""

from __future__ import annotations

import json

from ..compile.compiler import CompileResult
from ..facts import counted
from ..policy.diagnostics import Diagnostic
from ..sources import revision_text

JSON_FORMAT_VERSION = 1


def diagnostic_text(x: Diagnostic) -> str:
    line = f"{x.location()}: {x.severity.value}[{x.code}]: {x.message}"
    if x.hint:
        line += f"\n  hint: {x.hint}"
    return line


def summary(result: CompileResult, files: int) -> dict:
    return {
        "files": files,
        "documents": dict(sorted(result.counts().items())),
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "digest": result.graph.digest if result.graph else None,
        "revision": result.graph.revision if result.graph else None,
    }


def validate_text(result: CompileResult, files: int, strict: bool) -> str:
    return "\n".join([diagnostic_text(x) for x in result.diagnostics] + summary_lines(result, files, strict))


def summary_lines(result: CompileResult, files: int, strict: bool) -> list[str]:
    """The verdict under the findings: ``FAILED: …``, or ``ok: …`` and the graph's digest."""
    lines = []
    s = summary(result, files)
    docs = ", ".join(f"{n} {k}" for k, n in s["documents"].items()) or "no documents"
    tally = f"{counted(s['errors'], 'error')}, {counted(s['warnings'], 'warning')}"
    failed = s["errors"] or (strict and s["warnings"])
    if failed:
        lines.append(f"FAILED: {tally} in {counted(files, 'file')} ({docs})")
    else:
        lines.append(f"ok: {counted(files, 'file')} ({docs}), {tally}")
        if result.graph is not None:
            lines.append(f"graph {result.graph.digest} revision {revision_text(result.graph.revision)}")
    return lines


def validate_json(result: CompileResult, files: int, strict: bool) -> str:
    s = summary(result, files)
    body = {
        "format_version": JSON_FORMAT_VERSION,
        "ok": not (s["errors"] or (strict and s["warnings"])),
        "strict": strict,
        "summary": s,
        "diagnostics": [x.to_dict() for x in result.diagnostics],
    }
    return json.dumps(body, indent=2, sort_keys=False)
