"""Reading a YAML document of the API's configuration (the web config file, the trusted proxy's
document): bounded in size, UTF-8, parsed round-trip so that a later problem can name its
``file:line:col``; each failure raised as the caller's own error class with the file named.

Must not: return a document it could not read whole.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Iterable


def read_text(p: Path, what: str, max_bytes: int, error: type[Exception]) -> str:
    """The text of the file at ``p`` (``what`` names it in a failure): readable, at most
    ``max_bytes``, UTF-8; raises ``error`` saying where and why."""
    try:
        data = p.read_bytes()
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror or type(e).__name__})") from None
    if len(data) > max_bytes:
        raise error(f"{p}: larger than {max_bytes} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{p}: not UTF-8") from None


def read_yaml_document(p: Path, what: str, max_bytes: int, error: type[Exception]) -> Any:
    """The document at ``p`` (``what`` names it in a failure), parsed with positions kept;
    raises ``error`` saying where and why."""
    text = read_text(p, what, max_bytes, error)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark
        at = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(p)
        raise error(f"{at}: not valid YAML ({e.problem})") from None
    except YAMLError as e:
        raise error(f"{p}: not valid YAML ({type(e).__name__})") from None


class Where:
    """``file:line:col`` of a key of a document :func:`read_yaml_document` parsed (ruamel's
    round-trip positions, 1-based); the file alone where the key has no position."""

    def __init__(self, path: Path):
        self.path = path

    def key(self, mapping: Any, key: Any) -> str:
        lc = getattr(mapping, "lc", None)
        try:
            line, col = lc.key(key) if lc is not None else (None, None)
        except (KeyError, TypeError):
            line = col = None
        return f"{self.path}:{line + 1}:{col + 1}" if line is not None and col is not None else str(self.path)


def near(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the one of ``known`` closest to a misspelled ``word``, or
    nothing where none is close."""
    match = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


__all__ = ["Where", "near", "read_yaml_document"]
