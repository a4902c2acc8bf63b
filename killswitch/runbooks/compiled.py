"""Runbook templates' parsed trees, compiled code and checks' findings kept between runs, beside
jinja2's bytecode cache, keyed by what each depends on.

What it owns: where what jinja2 makes of a template is kept on disk, and the key that says
whether a kept file is still that template's. jinja2 parses a template into a syntax tree (about
20 ms for the example runbooks, a sixteenth of a ``ksctl validate``), turns the tree into Python
source and compiles it (about 40 ms more); both are pure functions of the template's text, the
environment's options (lexer, filters, tests, finalize, sandbox, whether the template is
autoescaped) and the jinja2 and Python versions. Those go into the key (the checksum each kept
file carries; jinja2's :class:`~jinja2.FileSystemBytecodeCache` also checks the Python version);
any change parses and compiles anew. So are the findings of the checks that walk the tree
(:class:`Facts`: the names a template mentions, the templates it includes, the shapes of data on
which it reads no unknown key), which also depend on the checking code: its digest (the source of
``templates.py`` and ``template_shape.py``) is in their key. Rendering against the examples runs
every time, and so does every walk whose finding is not kept: a template that reads an unknown
key is walked again, to say where.

A kept tree is a pickle that can make nothing but jinja2's syntax nodes (any other class in it
is refused, and the tree is parsed anew), with the environment put back in by this process; kept
findings are JSON; kept code is run, so all of them live only in a directory of this user's own.

Where: ``KS_TEMPLATE_CACHE`` names a directory by its absolute path (created mode 0700; refused
when another user owns it or can write to it, since kept code is run); ``off`` turns the cache
off; any other value (``0``, ``false``, a relative path) is refused with a warning (naming
``off`` when it is close to it), and no cache is used. Without it, jinja2's per-user directory
under the system's temp directory (the same rules). A cache that cannot be read or written (a
read-only file system, a full disk, a damaged file) is passed over: the template is parsed and
compiled as if there were none.

Must not: let a kept tree or kept code stand for a template whose text or environment changed,
or fail a command because of the cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import sys
import tempfile
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

        def parse(self, environment: Any, name: str, filename: Optional[str], source: str) -> Any:
            """``environment.parse(source, name, filename)``: the tree kept for the same text
            and environment, else parsed (a syntax error is raised, and nothing is kept)."""
            text = f"{env_key}\0tree\0{sys.version}\0{source}"
            path = os.path.join(self.directory, "killswitch-tree-%s.pickle"
                                % hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
            tree = _kept_tree(path, environment)
            if tree is None:
                tree = environment.parse(source, name, filename)
                _keep_tree(path, tree, environment)
            return tree

        def facts(self, source: str, code: str) -> "Facts":
            """What checking found of ``source`` under this environment and the checking code
            whose digest is ``code``."""
            text = f"{env_key}\0facts\0{code}\0{source}"
            return Facts(os.path.join(self.directory, "killswitch-facts-%s.json"
                                      % hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()))

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


class Facts:
    """What checking found of one template's text, kept as JSON beside its tree and code: the
    names it mentions and the templates it includes (one walk of its tree), and the shapes of the
    incident's data on which it reads no unknown key (each as a digest of the shape, cut to the
    keys the template names; the latest :data:`MAX_CLEAN`). A file that cannot be read, or reads
    as anything else, is as none; nothing in it is run."""

    MAX_CLEAN = 64

    def __init__(self, path: str):
        self.path = path
        self.names: Optional[frozenset[str]] = None
        self.includes: Optional[list[str]] = None
        self.clean: list[str] = []
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            names, includes, clean = data["names"], data["includes"], data["clean"]
            if all(isinstance(x, list) and all(isinstance(v, str) for v in x) for x in (names, includes, clean)):
                self.names, self.includes, self.clean = frozenset(names), includes, clean
        except Exception:  # noqa: BLE001 - none kept, unreadable or damaged: found anew, and kept again
            pass

    def scanned(self, names: frozenset[str], includes: list[str]) -> None:
        self.names, self.includes = names, includes
        self._keep()

    def found_clean(self, shape: str) -> None:
        if shape not in self.clean:
            self.clean = [*self.clean, shape][-self.MAX_CLEAN:]
            self._keep()

    def _keep(self) -> None:
        if self.names is None or self.includes is None:
            return  # (a shape found clean before the walk: kept with the walk's findings)
        data = {"names": sorted(self.names), "includes": self.includes, "clean": self.clean}
        _write_whole(self.path, json.dumps(data).encode())


def _kept_tree(path: str, environment: Any) -> Optional[Any]:
    """The tree kept in ``path``, or None (none kept, unreadable, damaged, or holding anything but
    jinja2's syntax nodes)."""
    from jinja2 import nodes

    class _Nodes(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found = getattr(nodes, name, None) if module == "jinja2.nodes" else None
            if not (isinstance(found, type) and issubclass(found, nodes.Node)):
                raise pickle.UnpicklingError(f"{module}.{name} is not a syntax node")
            return found

        def persistent_load(self, pid: Any) -> Any:
            if pid != "environment":
                raise pickle.UnpicklingError(f"unknown reference {pid!r}")
            return environment

    try:
        with open(path, "rb") as f:
            tree = _Nodes(f).load()
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - damaged, truncated or foreign: parsed anew, and kept again
        return None
    return tree if isinstance(tree, nodes.Template) else None


def _keep_tree(path: str, tree: Any, environment: Any) -> None:
    """Write ``tree`` to ``path`` (see :func:`_write_whole`); a tree that cannot be pickled is
    passed over."""

    class _Tree(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Optional[str]:
            return "environment" if obj is environment else None

    try:
        data = io.BytesIO()
        _Tree(data, protocol=pickle.HIGHEST_PROTOCOL).dump(tree)
    except Exception:  # noqa: BLE001 - parsed anyway
        return
    _write_whole(path, data.getvalue())


def _write_whole(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a run reading it meanwhile sees the old
    file or the new one); a failure (read-only, full, gone) is passed over."""
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".kept-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except Exception:  # noqa: BLE001 - kept or not, the answer was found
        pass


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


__all__ = ["OFF", "REVISION", "Facts", "bytecode_cache", "environment_key"]
