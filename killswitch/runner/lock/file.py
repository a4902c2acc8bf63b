"""The lock *file*: what every bot reads before it sends an order.

One JSON document per runner, written atomically (temp file in the same directory, fsync,
``os.replace``, fsync of the directory), so a reader sees the old document or the new one,
never half of one. Its top level is the summary (the most restrictive lock of all scopes) in
the format bots read::

    {"format_version": 1, "locked": true, "mode": "halted", "scope": "binanceusdm/main",
     "stage": 3, "policy": "futures-book", "reason": "...", "created_ts": "2024-...Z",
     "expires_ts": null, "details": {...}, "manual": true, "written_ts": "...",
     "scopes": {"binanceusdm/main": {<the same fields for that scope>, "holds": [...]}}}

The document is the :class:`~killswitch.runner.lock.lock.LockBook`'s (``to_doc`` / ``from_doc``);
this module owns reading and writing the file. :func:`read_lock_file` fails closed: a missing
file is "no lock" (the runner has not locked anything yet), but a file that cannot be read or
parsed reads as HALTED, with a reason.

Must not: read the clock (every time is an argument), or write anything but the lock file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .lock import LockBook, LockStatus, check_status_doc, opt_ts

MAX_LOCK_FILE_BYTES = 16 * 1024 * 1024  # a lock file larger than this is not ours: fail closed
_FILE_MODE = 0o644


@dataclass(frozen=True)
class LockFile:
    """What :func:`read_lock_file` found. ``corrupt``: the file exists but could not be trusted,
    so every scope reads as HALTED."""

    summary: LockStatus
    book: Optional[LockBook]
    corrupt: bool = False
    missing: bool = False

    def for_scope(self, scope: str, now_ms: Optional[int] = None) -> LockStatus:
        if self.book is None:
            if self.corrupt:
                return replace(self.summary, scope=scope)
            return LockStatus.unlocked(scope, self.summary.reason)
        return self.book.for_scope(scope, now_ms)

    @property
    def mode(self) -> str:
        return self.summary.mode

    @property
    def locked(self) -> bool:
        return self.summary.locked


def _corrupt(reason: str) -> LockFile:
    return LockFile(LockStatus(True, "halted", None, reason=f"LOCK_FILE_CORRUPT: {reason}"), None, corrupt=True)


def read_lock_file(path: Union[str, os.PathLike], now_ms: Optional[int] = None) -> LockFile:
    """Read the lock file, failing closed: missing → unlocked (``NO_LOCK_FILE``); unreadable,
    not JSON, not a lock document or of an unknown version → HALTED (``LOCK_FILE_CORRUPT: ...``).
    With ``now_ms``, holds whose ttl ran out no longer count. Never raises."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_LOCK_FILE_BYTES + 1)
    except FileNotFoundError:
        return LockFile(LockStatus.unlocked(None, "NO_LOCK_FILE"), None, missing=True)
    except Exception as e:  # a directory, no permission, an I/O error: we cannot know, so halt
        return _corrupt(f"cannot read {os.fspath(path)}: {type(e).__name__}: {e}")
    try:
        if len(raw) > MAX_LOCK_FILE_BYTES:
            raise ValueError(f"larger than {MAX_LOCK_FILE_BYTES} bytes")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"not JSON: {e}") from None
        book = LockBook.from_doc(doc)
        declared = check_status_doc(doc, "lock")
        opt_ts(doc, "written_ts", "lock")  # (a bad time: not a document of ours)
        # What the writer declared and what its holds say must agree, or nothing is trusted.
        if book.summary(None).mode != declared.mode:
            raise ValueError(f"mode {declared.mode} contradicts the holds ({book.summary(None).mode})")
        return LockFile(book.summary(now_ms), book)
    except Exception as e:
        return _corrupt(str(e) or type(e).__name__)


def write_lock_file(path: Union[str, os.PathLike], book: LockBook, now_ms: int,
                    extra: Optional[Mapping[str, Any]] = None) -> dict:
    """Write the book's lock document atomically (mode 0644; see the module doc); returns the
    document. ``extra``: more top-level keys for bots (the resumed limits), never one of the
    lock's own. A crash at any point leaves the old document or the new one on disk; on failure
    the temp file is removed and the error raised."""
    doc = book.to_doc(now_ms)
    for k, v in (extra or {}).items():
        if k in doc:
            raise ValueError(f"extra key {k!r} would overwrite the lock document's own")
        doc[k] = v
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, _FILE_MODE)
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    return doc


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # no directory handles here (not POSIX): the rename is all we can do
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename itself already happened
    finally:
        os.close(dfd)

