"""Reading policy sources from disk: files, directory trees, and the git revision they come from.

The only module below the CLI and the runner that touches the file system for policies. It
returns ``(file, text)`` pairs for :func:`killswitch.policy.load.load_sources` and problems it
met as diagnostics (an unreadable file is a finding, not a crash).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .policy import diagnostics as d
from .policy.diagnostics import Diagnostic

YAML_SUFFIXES = (".yaml", ".yml")
NO_REVISION = "not in git"  # how every output says that a graph's sources have no git revision


def revision_text(revision: str | None) -> str:
    """A graph's git revision as every output prints it: the commit, or :data:`NO_REVISION`."""
    return revision or NO_REVISION


@dataclass
class Sources:
    files: list[tuple[str, str]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    revision: str | None = None


def _walk(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        # hidden folders (.git, .github) hold no policies
        dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
        for name in sorted(filenames):
            if name.endswith(YAML_SUFFIXES) and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return found


def read_sources(paths: list[str]) -> Sources:
    """Read every YAML file under ``paths`` (files or directories), in a stable order."""
    out = Sources()
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = _walk(p)
            if not files:
                out.diagnostics.append(Diagnostic.make(d.KS007, str(p), None,
                                                       "no .yaml or .yml files in this directory"))
        elif p.exists():
            files = [p]
        else:
            out.diagnostics.append(Diagnostic.make(d.KS001, str(p), None, "no such file or directory"))
            continue
        for f in files:
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            try:
                out.files.append((str(f), f.read_bytes().decode("utf-8")))
            except UnicodeDecodeError as e:
                out.diagnostics.append(Diagnostic.make(d.KS001, str(f), None, f"not UTF-8 text (byte {e.start})"))
            except OSError as e:
                out.diagnostics.append(Diagnostic.make(d.KS001, str(f), None, e.strerror or "cannot be read"))
    out.revision = git_revision([str(Path(p)) for p in paths])
    return out


def git_revision(paths: list[str]) -> str | None:
    """``<commit>`` of the repository holding ``paths``, with ``-dirty`` when they have changes.

    None when they are not in a git work tree or git is not installed.
    """
    if not paths:
        return None
    first = Path(paths[0])
    cwd = first if first.is_dir() else first.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd or ".", capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        rev = head.stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", *[os.path.abspath(p) for p in paths]],
            cwd=cwd or ".", capture_output=True, text=True, timeout=5,
        )
        if status.returncode == 0 and status.stdout.strip():
            rev += "-dirty"
        return rev
    except (OSError, subprocess.SubprocessError):
        return None


def compile_sources(paths: list[str] | tuple[str, ...], templates=None):
    """Read, load and compile policy sources in one step (every command and the runner do it
    this way). Returns (CompileResult, the (name, text) files read). ``templates``: the runbook
    template check for ``ksctl validate``. The loader and compiler are imported here, lazily."""
    src = read_sources(list(paths))
    return compile_read(src, templates), list(src.files)


def compile_read(src: Sources, templates=None):
    """Load and compile sources already read; reading problems come first among the findings."""
    from .compile.compiler import compile_documents
    from .policy.load import load_sources

    loaded = load_sources(src.files)
    loaded.diagnostics[:0] = src.diagnostics
    return compile_documents(loaded, src.revision, templates=templates)
