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
                out.diagnostics.append(Diagnostic.make(
                    d.KS007, str(p), None, "no .yaml or .yml files in this directory",
                    "check the path (policies are *.yaml or *.yml files; hidden folders are skipped); "
                    "ksctl validate --allow-empty accepts empty input"))
        elif p.exists():
            files = [p]
        else:
            near = _nearby(p)
            out.diagnostics.append(Diagnostic.make(
                d.KS001, str(p), None, "no such file or directory",
                d.suggestion_hint(p.name, near, f"check the path; {p.parent or '.'} holds these")
                if near else "check the path: ksctl takes policy files and directories"))
            continue
        for f in files:
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            try:
                out.files.append((str(f), f.read_bytes().decode("utf-8")))
            except UnicodeDecodeError as e:
                out.diagnostics.append(Diagnostic.make(d.KS001, str(f), None, f"not UTF-8 text (byte {e.start})",
                                                       "save the file as UTF-8"))
            except OSError as e:
                out.diagnostics.append(Diagnostic.make(d.KS001, str(f), None, e.strerror or "cannot be read",
                                                       "check that the file exists and that you may read it"))
    out.revision = git_revision([str(Path(p)) for p in paths])
    return out


def _nearby(p: Path) -> list[str]:
    """Names in the folder a missing path points into, for a did-you-mean."""
    try:
        parent = p.parent if str(p.parent) else Path(".")
        return sorted(x.name for x in parent.iterdir() if not x.name.startswith("."))[:200]
    except OSError:
        return []


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


def compile_sources(paths: list[str] | tuple[str, ...], templates=None, allow_empty: bool = False):
    """Read, load and compile policy sources in one step (every command and the runner do it
    this way). Returns (CompileResult, the (name, text) files read). ``templates``: the runbook
    template check for ``ksctl validate``. The loader and compiler are imported here, lazily.

    Empty input (a directory without YAML files, a file without a document) is an error (KS007),
    so that a job pointed at the wrong place fails; ``allow_empty`` makes it no finding at all."""
    src = read_sources(list(paths))
    return compile_read(src, templates, allow_empty), list(src.files)


def compile_read(src: Sources, templates=None, allow_empty: bool = False):
    """Load and compile sources already read; reading problems come first among the findings."""
    from .compile.compiler import compile_documents
    from .policy.load import load_sources

    loaded = load_sources(src.files)
    loaded.diagnostics[:0] = src.diagnostics
    if allow_empty:
        loaded.diagnostics[:] = [x for x in loaded.diagnostics if x.code != d.KS007.code]
    return compile_documents(loaded, src.revision, templates=templates)
