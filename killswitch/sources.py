"""Reading policy sources from disk: files, directory trees, and the git revision they come from
(and :func:`git`, the one way a command reads what git holds).

The only module below the CLI and the runner that touches the file system for policies. It
returns ``(file, text)`` pairs for :func:`killswitch.policy.load.load_sources` and problems it
met as diagnostics (an unreadable file is a finding, not a crash).

A file over the size limit (:data:`MAX_FILE_BYTES`, 1 MiB unless the caller gives another) is
refused unread, KS010: its size is taken from the file system first, and no more than the limit
and one byte is ever read of it (a file that grows meanwhile, a device that reports no size).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from .policy import diagnostics as d
from .policy.diagnostics import Diagnostic
from .policy.units import shown

YAML_SUFFIXES = (".yaml", ".yml")
# The largest policy file in policies/ is 2.7 KB; a megabyte of YAML takes ruamel seconds to read.
MAX_FILE_BYTES = 1024 * 1024
# the most --max-file-size may allow
MAX_FILE_LIMIT = 1024 ** 3
# units as written (1Mb or 1mb could mean bits: refused, not guessed)
_SIZE = re.compile(r"^\s*(\d+(?:_\d+)*(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$")
_SIZE_UNITS = {"B": 1, "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
SIZE_FORMS = "a number of bytes with an optional unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (of 1024)"
NO_REVISION = "not in git"  # how every output says that a graph's sources have no git revision


def revision_text(revision: str | None) -> str:
    """A graph's git revision as every output prints it: the commit, or :data:`NO_REVISION`."""
    return revision or NO_REVISION


@dataclass
class Sources:
    """The policy files read, the problems met reading them, and the git revision they come from."""

    files: list[tuple[str, str]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    revision: str | None = None


def policy_files(root: Path) -> list[Path]:
    """Every policy file under the directory ``root``, sorted: ``*.yaml`` and ``*.yml``, hidden
    files and folders left out (what every command reads, and ``ksctl drift`` hashes)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        # hidden folders (.git, .github) hold no policies
        dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
        for name in sorted(filenames):
            if name.endswith(YAML_SUFFIXES) and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return found


def parse_file_size(text: str) -> int:
    """``1MiB`` → 1048576, ``512KB`` → 512000, ``2000`` → 2000 (bytes). ValueError for anything
    else, or a size below one byte."""
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a size: write {SIZE_FORMS}, e.g. 4MiB")
    number = Decimal(m.group(1).replace("_", "")) * _SIZE_UNITS[m.group(2) or "B"]
    if number > MAX_FILE_LIMIT:  # 400 digits was a float's infinity, and no int
        raise ValueError(f"{shown(text)!r} is over {size_text(MAX_FILE_LIMIT)}: a policy file is read into memory "
                         "whole")
    size = int(number)
    if size < 1:
        raise ValueError(f"{text!r} is below one byte: the limit must let a file through")
    return size


def size_text(size: int) -> str:
    """1048576 → ``1 MiB``; a size that is no whole number of KiB, MiB or GiB in bytes."""
    for unit, scale in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size:,} byte{'' if size == 1 else 's'}"


def size_arg(size: int) -> str:
    """``size`` as --max-file-size takes it: 1048576 → ``1MiB``, 1000 → ``1000``."""
    return size_text(size).replace(" ", "") if not size_text(size).endswith(("byte", "bytes")) else str(size)


def _too_large(f: Path, size: int | None, limit: int) -> Diagnostic:
    mib = 1024 * 1024
    bigger = size_arg(-(-size // mib) * mib if size is not None else 2 * limit)  # one that lets it through
    limit_text = size_text(limit) + ("" if size_text(limit).endswith("bytes") else f" ({limit:,} bytes)")
    message = (f"the file is {size:,} bytes, over the limit of {limit_text}; it was not read" if size is not None
               else f"the file holds more than the limit of {limit_text}; it was not read past it")
    return Diagnostic.make(
        d.KS010, str(f), None, message,
        "policy files are small (the examples are under 3 KB): split this one, or check that it is the file "
        f"you meant; to read bigger files, raise the limit: --max-file-size {bigger} (or KS_MAX_FILE_SIZE={bigger})")


def _read_bounded(f: Path, limit: int) -> tuple[bytes | None, int | None]:
    """The bytes of ``f``, or (None, its size) when it is over ``limit``: never more than the
    limit and one byte are read (the size is None when the file grew past the limit after it was
    measured, or is a device that reports none)."""
    size = f.stat().st_size
    if size > limit:
        return None, size
    with open(f, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        return None, None
    return data, size


def read_sources(paths: list[str], max_file_bytes: int = MAX_FILE_BYTES) -> Sources:
    """Read every YAML file under ``paths`` (files or directories), in a stable order. A file
    over ``max_file_bytes`` is refused unread (KS010)."""
    out = Sources()
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = policy_files(p)
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
                data, size = _read_bounded(f, max_file_bytes)
                if data is None:
                    out.diagnostics.append(_too_large(f, size, max_file_bytes))
                    continue
                out.files.append((str(f), data.decode("utf-8")))
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


GIT_TIMEOUT_S = 60


def git(args: list[str], cwd: str, error: Callable[[str], Exception], binary: bool = False,
        errors: str = "replace") -> Any:
    """What ``git ARGS`` run in ``cwd`` prints: the bytes, or the text (decoded with ``errors``)
    stripped. Else ``error`` raised with what is wrong: git's last line of its failure, or git
    not installed or not answering within :data:`GIT_TIMEOUT_S`."""
    try:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT_S)
    except FileNotFoundError:
        raise error("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise error(f"git {args[0]} did not answer within {GIT_TIMEOUT_S}s") from None
    if r.returncode != 0:
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise error(err[-1].removeprefix("fatal: ") if err else f"git {args[0]} failed")
    return r.stdout if binary else r.stdout.decode("utf-8", errors).strip()


def git_revision(paths: list[str]) -> str | None:
    """``<commit>`` of the repository holding ``paths``, with ``-dirty`` when they have changes.

    None when they are not in a git work tree, the repository has no commit yet, or git is not
    installed.

    One git process answers both in the common case: ``status --porcelain=v2 --branch`` heads its
    output with ``# branch.oid <commit>`` and lists a line per change under ``paths`` (a second
    process, ``rev-parse HEAD``, cost every ``ksctl validate`` 1.5–2 ms of CPU). Ahead/behind
    counts against the upstream are not wanted, so not computed. When git refuses the status for
    a path outside the repository, ``rev-parse HEAD`` alone answers, as it did.
    """
    if not paths:
        return None
    first = Path(paths[0])
    cwd = first if first.is_dir() else first.parent
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--no-ahead-behind", "--",
             *[os.path.abspath(p) for p in paths]],
            cwd=cwd or ".", capture_output=True, text=True, timeout=5,
        )
        if status.returncode == 0:
            rev, changed = None, False
            for line in status.stdout.splitlines():
                if line.startswith("# branch.oid "):
                    rev = line[len("# branch.oid "):].strip()
                elif line.strip() and not line.startswith("#"):
                    changed = True
            if rev is None or rev == "(initial)":  # no commit yet: HEAD names nothing
                return None
            return rev + "-dirty" if changed else rev
        if "not a git repository" in status.stderr:  # saves asking again; git in another language asks
            return None
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd or ".", capture_output=True, text=True, timeout=5
        )
        return head.stdout.strip() if head.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def compile_sources(paths: list[str] | tuple[str, ...], templates=None, allow_empty: bool = False,
                    max_file_bytes: int = MAX_FILE_BYTES, accounts=None):
    """Read, load and compile policy sources in one step (every command and the runner do it
    this way). Returns (CompileResult, the (name, text) files read). ``templates``: the runbook
    template check for ``ksctl validate``. The loader and compiler are imported here, lazily.

    Empty input (a directory without YAML files, a file without a document) is an error (KS007),
    so that a job pointed at the wrong place fails; ``allow_empty`` makes it no finding at all.
    A file over ``max_file_bytes`` is an error (KS010), and is not read. ``accounts`` (the
    accounts a runner or a live plan runs with) stand for the declared accounts when the sources
    hold no Accounts document: a scope that selects none of them is KS218."""
    src = read_sources(list(paths), max_file_bytes)
    return compile_read(src, templates, allow_empty, accounts), list(src.files)


def compile_read(src: Sources, templates=None, allow_empty: bool = False, accounts=None):
    """Load and compile sources already read; reading problems come first among the findings."""
    from .compile.compiler import compile_documents
    from .policy.load import load_sources
    from .zones import zone, zone_known

    loaded = load_sources(src.files)
    loaded.diagnostics[:0] = src.diagnostics
    if allow_empty:
        loaded.diagnostics[:] = [x for x in loaded.diagnostics if x.code != d.KS007.code]
    return compile_documents(loaded, src.revision, templates=templates, zone_known=zone_known, accounts=accounts,
                             zones=zone)
