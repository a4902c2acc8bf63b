"""Compiled runbook templates kept between runs: jinja2's bytecode cache, keyed by what the code
depends on.

What it owns: where the code jinja2 compiles a template into is kept on disk, and the key that
says whether kept code is still that template's. jinja2 turns a template's syntax tree into
Python source and compiles it (about 40 ms for the example runbooks, an eighth of a
``ksctl validate``); the result is a pure function of the template's text, the environment's
options (lexer, filters, tests, finalize, sandbox, whether the template is autoescaped) and the
jinja2 and Python versions. Those go into the key (the checksum each kept file carries; jinja2's
:class:`~jinja2.FileSystemBytecodeCache` also checks the Python version); any change compiles
anew. What is kept is compiled code only: every check
of a template (parsing, the names it reads, rendering against the examples) runs every time.

Where: ``KS_TEMPLATE_CACHE`` names a directory by its absolute path (created mode 0700; refused
when another user owns it or can write to it, since kept code is run); ``off`` turns the cache
off; any other value (``0``, ``false``, a relative path) is refused with a warning (naming
``off`` when it is close to it), and no cache is used. Without it, jinja2's per-user directory
under the system's temp directory (the same rules). A cache that cannot be read or written (a
read-only file system, a full disk, a damaged file) is passed over: the template is compiled as
if there were none.

Must not: let kept code stand for a template whose text or environment changed, or fail a
command because of the cache.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Optional

# Bumped when this project changes what goes into compiled code outside the options hashed below.
REVISION = "1"
OFF = "off"


def environment_key(env: Any) -> str:
    """What a template's compiled code depends on besides its text, as text: jinja2's version,
    the environment's class and every option that changes parsing or code generation."""
    import jinja2

    options = (
        REVISION, jinja2.__version__, type(env).__module__, type(env).__qualname__,
        env.block_start_string, env.block_end_string, env.variable_start_string, env.variable_end_string,
        env.comment_start_string, env.comment_end_string, env.line_statement_prefix, env.line_comment_prefix,
        env.trim_blocks, env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline,
        env.optimized, env.is_async, sorted(env.extensions),
        sorted(env.filters), sorted(env.tests),
        getattr(env.finalize, "__qualname__", repr(env.finalize)),
        getattr(env.undefined, "__qualname__", repr(env.undefined)),
    )
    return repr(options)


def bytecode_cache(env_key: str) -> Optional[Any]:
    """The cache for an environment whose :func:`environment_key` is ``env_key``, or None (turned
    off, or no usable directory)."""
    from jinja2 import FileSystemBytecodeCache
    from jinja2.bccache import Bucket

    class _Cache(FileSystemBytecodeCache):
        def get_bucket(self, environment: Any, name: str, filename: Optional[str], source: str) -> Any:
            # whether the template is autoescaped is decided by its name, and changes its code
            auto = environment.autoescape
            escaped = bool(auto(name) if callable(auto) else auto)
            text = f"{env_key}\0{escaped}\0{source}"
            bucket = Bucket(environment, self.get_cache_key(name, filename),
                            hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
            self.load_bytecode(bucket)
            return bucket

        def load_bytecode(self, bucket: Any) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:  # noqa: BLE001 - a damaged or unreadable file: compile anew
                bucket.reset()

        def dump_bytecode(self, bucket: Any) -> None:
            try:
                super().dump_bytecode(bucket)
            except Exception:  # noqa: BLE001 - read-only, full or gone: the code was compiled anyway
                pass

    where = os.environ.get("KS_TEMPLATE_CACHE", "").strip()
    if where.lower() == OFF:
        return None
    if where and not os.path.isabs(where):
        # "0", "false", "no", a relative path: never a directory made wherever the command runs
        _refused(where)
        return None
    try:
        if where:
            os.makedirs(where, mode=0o700, exist_ok=True)
            if not _ours_alone(where):
                return None
        return _Cache(where or None, "killswitch-%s.jinja")
    except Exception:  # noqa: BLE001 - no safe directory of our own: no cache
        return None


_warned: set[str] = set()


def _refused(value: str) -> None:
    if value not in _warned:
        import difflib
        import logging  # (only for this warning: ksctl validate's process has no other use for it)

        _warned.add(value)
        close = " (did you mean 'off'?)" if difflib.get_close_matches(value.lower(), [OFF], cutoff=0.6) else ""
        logging.getLogger(__name__).warning(
            "KS_TEMPLATE_CACHE=%r is neither %r nor an absolute directory%s: runbook templates are compiled "
            "without a cache", value, OFF, close)


def _ours_alone(directory: str) -> bool:
    """Whether only this user can write to ``directory``: kept code is run, so a directory that
    someone else could write a file into is not used (as jinja2 refuses its own default)."""
    st = os.stat(directory)
    return os.path.isdir(directory) and st.st_uid == os.getuid() and not st.st_mode & 0o022


__all__ = ["OFF", "REVISION", "bytecode_cache", "environment_key"]
