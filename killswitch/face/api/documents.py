"""Reading a YAML document of the API's configuration (the web config file, the trusted proxy's
document): bounded in size, UTF-8, parsed round-trip so that a later problem can name its
``file:line:col``; each failure raised as the caller's own error class with the file named.

Must not: return a document it could not read whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


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


__all__ = ["read_yaml_document"]
