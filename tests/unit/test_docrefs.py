"""Every Sphinx-style cross-reference in the code's docstrings and comments resolves (issue 80):
a ``:class:`` or ``:mod:`` role that names a module or a class that moved to another room, or is
gone, sends the reader nowhere, so each one is checked here, in the unit lane and so in CI.

What is read: the text of every ``.py`` under ``killswitch/`` and ``adapters/``, so that a role
is found wherever it is written — a module's, a class's or a function's docstring, an
attribute's docstring, a ``#`` comment (a target broken over two comment lines too). The roles
are ``:mod:``, ``:class:``, ``:func:``, ``:meth:``, ``:data:``, ``:attr:``, ``:exc:`` and
``:obj:``; a target is ``name``, ``a.b.c``, ``~a.b.c``, ``.relative``, ``..relative.x`` or
``text <target>``.

How a target resolves:

- ``.x`` names a sibling module or a name of the current package, or a name of the current
  module or of the class the text sits in (``.method``); each further dot climbs one package,
  as in a relative import.
- ``a.b.c`` is looked up in the class the text sits in, then in the module (whatever it
  defines or imports), then absolutely: the longest importable module prefix is imported and
  the rest walked with ``getattr`` (the standard library and third-party packages too), then
  among the builtins.
- What the source declares but the walk cannot see counts too: a name imported for type
  checking alone, a field declared by annotation (in a class's body, for type checking alone
  included), an instance attribute a method of the class (or a base) sets as ``self.name``.
- A ``:mod:`` target must be a module; a role's kind is not checked otherwise (a ``:func:``
  naming a method resolves).

A failure lists every reference left as ``file:line: :role:`target```. The check imports the
modules the references name (most of its time, a few seconds at most) and parses only the files
a lookup needs: the class a bare name may belong to, a name imported for type checking.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import importlib
import inspect
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("killswitch", "adapters")

_ROLE = re.compile(r":(mod|class|func|meth|data|attr|exc|obj):`([^`]+)`")
_LABELLED = re.compile(r"^[^<]*<([^>]+)>$")
_LEAF = object()  # a name the source declares, with nothing further to walk into
_MISSING = object()  # a name nothing declares


@dataclass(frozen=True)
class Ref:
    filename: str
    where: str  # the path relative to the root scanned
    line: int
    role: str
    target: str
    module: str  # the dotted name of the module the text sits in
    package: str  # the package relative targets start from

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: :{self.role}:`{self.target}`"


# --- reading -------------------------------------------------------------------------------------


def references(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[Ref]:
    """Every role in the files' text. Read as text, not parsed: parsing every file would take
    most of the check's time, and code holds no role outside a string or a comment."""
    refs = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            text = path.read_text()
            parts = path.relative_to(root).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            module = ".".join(parts[:-1] if is_package else parts)
            package = module if is_package else module.rpartition(".")[0]
            starts = [0] + [m.end() for m in re.finditer("\n", text)]
            for m in _ROLE.finditer(text):
                target = " ".join(m.group(2).replace("#", " ").split())
                refs.append(Ref(str(path), str(path.relative_to(root)), bisect.bisect_right(starts, m.start()),
                                m.group(1), target, module, package))
    return refs


# --- resolving -----------------------------------------------------------------------------------


@cache
def _module(name: str) -> ModuleType | None:
    if not name or not all(p.isidentifier() for p in name.split(".")):
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # no such module (or one that cannot be imported: the reference fails)
        return None


@cache
def _text(filename: str) -> str:
    try:
        return Path(filename).read_text()
    except (OSError, ValueError):
        return ""


@cache
def _source(filename: str) -> tuple[str, ast.Module] | None:
    """A file's text and tree, parsed only when a lookup needs it (parsing is most of the time)."""
    try:
        return _text(filename), ast.parse(_text(filename), filename)
    except (SyntaxError, ValueError):
        return None


@cache
def _classes(filename: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """Each class of a file reachable by attribute from its module: first and last line, qualified name."""
    out: list[tuple[int, int, tuple[str, ...]]] = []

    def visit(body: list[ast.stmt], scope: tuple[str, ...]) -> None:
        for node in _top_level(body):
            if isinstance(node, ast.ClassDef):
                out.append((node.lineno, node.end_lineno or node.lineno, (*scope, node.name)))
                visit(node.body, (*scope, node.name))

    source = _source(filename)
    visit(source[1].body if source else [], ())
    return out


def _scope(ref: Ref) -> tuple[str, ...]:
    """The class (in its outer classes) a reference's text sits in, if any."""
    inside = [q for lo, hi, q in _classes(ref.filename) if lo <= ref.line <= hi]
    return max(inside, key=len) if inside else ()


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """A module's statements, those under ``if`` (``TYPE_CHECKING``) and ``try`` included."""
    out = []
    for node in body:
        out.append(node)
        if isinstance(node, (ast.If, ast.Try)):
            out += _top_level(node.body + node.orelse + getattr(node, "finalbody", []))
    return out


@cache
def _declarations(filename: str, package: str) -> dict[str, str | None]:
    """The names a module's source declares at its top level: an import's dotted source, or
    None for an annotation without a value."""
    source = _source(filename)
    out: dict[str, str | None] = {}
    for node in _top_level(source[1].body if source else []):
        if isinstance(node, ast.ImportFrom):
            base = package if node.level else ""
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            origin = ".".join(p for p in (base, node.module or "") if p)
            out.update({a.asname or a.name: f"{origin}.{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            out.update({a.asname: a.name for a in node.names if a.asname})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = None
    return out


@cache
def _members_declared(filename: str, qualname: str) -> frozenset[str]:
    """The members a class's source declares that its namespace may lack: the instance
    attributes its methods assign (``self.name = ...``) and the annotations of its body (those
    made for type checking alone included)."""
    source = _source(filename)
    body: list[ast.stmt] = source[1].body if source else []
    node = None
    for name in qualname.split("."):
        node = next((n for n in _top_level(body) if isinstance(n, ast.ClassDef) and n.name == name), None)
        if node is None:
            return frozenset()
        body = node.body
    names = {n.target.id for n in _top_level(body) if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    for sub in ast.walk(node) if node else ():
        if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) and isinstance(sub.value, ast.Name) \
                and sub.value.id == "self":
            names.add(sub.attr)
    return frozenset(names)


_NAMES_ONLY = re.compile(r"[\w\s,()]*")
_ANNOTATION = re.compile(r"\s*\w+\s*:")


@cache
def _may_declare(filename: str) -> frozenset[str]:
    """Every word of a file's lines that could declare a name at its top level (an import, an
    annotation, a line of an import's parenthesised names): a superset, read without parsing."""
    words: set[str] = set()
    for line in _text(filename).splitlines():
        if line.lstrip().startswith(("import ", "from ")) or _ANNOTATION.match(line) or _NAMES_ONLY.fullmatch(line):
            words.update(re.findall(r"\w+", line))
    return frozenset(words)


def _declared_in_module(module: ModuleType, name: str) -> object:
    """What ``module``'s source declares as ``name`` that its namespace lacks: an import made for
    type checking alone (followed to what it names), or a bare annotation."""
    filename = getattr(module, "__file__", None) or ""
    if name not in _may_declare(filename):
        return _MISSING  # no import or annotation could declare it: the file is not parsed
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    declared = _declarations(filename, package)
    if name not in declared:
        return _MISSING
    origin = declared[name]
    return _LEAF if origin is None else _lookup(origin)


def _declared_in_class(klass: type, name: str) -> object:
    for base in klass.__mro__:
        if name in base.__dict__.get("__annotations__", {}):
            return _LEAF
        try:
            filename = inspect.getsourcefile(base) or ""
        except TypeError:  # a builtin class
            continue
        if name in _text(filename) and name in _members_declared(filename, base.__qualname__):
            return _LEAF
    return _MISSING


def _walk(obj: object, rest: list[str]) -> object:
    for i, part in enumerate(rest):
        try:
            nxt = getattr(obj, part, _MISSING)
        except Exception:  # a descriptor that cannot be read on the class
            nxt = _LEAF
        if nxt is _MISSING and isinstance(obj, ModuleType):
            nxt = _module(f"{obj.__name__}.{part}") or _declared_in_module(obj, part)
        elif nxt is _MISSING and isinstance(obj, type):
            nxt = _declared_in_class(obj, part)
        if nxt is _MISSING or (nxt is _LEAF and i < len(rest) - 1):
            return _MISSING
        obj = nxt
    return obj


@cache
def _lookup(dotted: str) -> object:
    """The object a dotted name reaches: its longest importable prefix, then attributes."""
    parts = dotted.split(".")
    if not all(p.isidentifier() for p in parts):
        return _MISSING
    for i in range(len(parts), 0, -1):
        module = _module(".".join(parts[:i]))
        if module is not None:
            return _walk(module, parts[i:])
    return _walk(builtins, parts)


def _candidates(ref: Ref, scope: tuple[str, ...]) -> list[str]:
    target = ref.target
    labelled = _LABELLED.match(target)
    if labelled:
        target = labelled.group(1).strip()
    target = target.lstrip("~!")
    target = target.removesuffix("()")
    classes = [".".join((ref.module, *scope[:i])) for i in range(len(scope), 0, -1)]
    if target.startswith("."):
        name = target.lstrip(".")
        base = ref.package
        for _ in range(len(target) - len(name) - 1):
            base = base.rpartition(".")[0]
        out = [f"{base}.{name}"]
        if len(target) - len(name) == 1:
            out += [f"{c}.{name}" for c in classes] + [f"{ref.module}.{name}"]
        return out
    return [f"{c}.{target}" for c in classes] + [f"{ref.module}.{target}", target]


def resolves(ref: Ref) -> bool:
    """Whether a reference names something: read without its class first, which spares parsing
    the file when the module, a package or an import resolves it."""

    def found(obj: object) -> bool:
        return isinstance(obj, ModuleType) if ref.role == "mod" else obj is not _MISSING

    if any(found(_lookup(c)) for c in _candidates(ref, ())):
        return True
    scope = _scope(ref)
    return bool(scope) and any(found(_lookup(c)) for c in _candidates(ref, scope))


def unresolved(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    return [str(r) for r in references(root, packages) if not resolves(r)]


# --- the checks ----------------------------------------------------------------------------------


def test_every_cross_reference_in_the_code_resolves():
    refs = references(ROOT)
    assert len(refs) > 3000  # the walk found them: docstrings and comments of both packages
    left = [str(r) for r in refs if not resolves(r)]
    assert not left, f"{len(left)} unresolved:\n" + "\n".join(left)


# A package of three modules whose references all resolve, one of each form; a case adds one bad
# reference to ``room/a.py`` and the check names it, and it alone.
_GOOD = {
    "__init__.py": "",
    "top.py": '"""The top module."""\n',
    "room/__init__.py": '"""A room: :mod:`.a` and :mod:`.b`, :class:`~.b.Thing`."""\n',
    "room/b.py": '''"""Where things live."""


class Thing:
    """:meth:`make_more` and :attr:`size`."""

    size: int

    def make_more(self) -> None:
        """The next one."""


class Hidden:
    """Imported for type checking alone."""


def make() -> Thing:
    return Thing()
''',
    "room/a.py": '''"""Uses :class:`.b.Thing` from :mod:`.b` (:func:`~{pkg}.room.b.make`, :class:`a thing <.b.Thing>`),
:mod:`..top`, :meth:`.b.Thing.make_more`, :exc:`ValueError`, :class:`asyncio.Task`, :mod:`ast`."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .b import Hidden


class Local:
    """:meth:`run`, :meth:`.run`, :attr:`count`, :attr:`Local.count`, :class:`Hidden`."""

    def __init__(self) -> None:
        self.count = 0

    def run(self) -> None:
        """Sets :attr:`count`; :func:`{pkg}.room.b.make()` makes a :class:`~{pkg}.room.b.Thing`."""
        # a comment names :func:`.b.make` and :class:`a thing
        # <.b.Thing>` on two lines
''',
}


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> tuple[str, str]:
    """The package written under ``tmp_path`` (a name of its own, so no other case's modules
    answer for it), ``extra`` added to ``room/a.py``: its name and ``room/a.py``'s text."""
    pkg = f"docrefs_{tmp_path.name.replace('-', '_')}"
    for name, text in _GOOD.items():
        path = tmp_path / pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((text + (extra if name == "room/a.py" else "")).replace("{pkg}", pkg))
    monkeypatch.syspath_prepend(str(tmp_path))
    return pkg, (tmp_path / pkg / "room" / "a.py").read_text()


@pytest.fixture
def _forget_modules():
    yield
    for name in [m for m in sys.modules if m.startswith("docrefs_")]:
        del sys.modules[name]


def test_the_check_passes_a_package_whose_references_all_resolve(tmp_path, monkeypatch, _forget_modules):
    pkg, _ = _package(tmp_path, monkeypatch)
    assert len(references(tmp_path, (pkg,))) == 24
    assert unresolved(tmp_path, (pkg,)) == []


@pytest.mark.parametrize("extra,reference", [
    ('"""A module that moved: :mod:`.gone`."""', ":mod:`.gone`"),
    ('"""A class that moved: :class:`~.b.Gone`."""', ":class:`~.b.Gone`"),
    ('"""A function that is gone: :func:`{pkg}.room.b.unmade`."""', ":func:`{pkg}.room.b.unmade`"),
    ('"""A label over a bad target: :class:`the thing <.b.Thin>`."""', ":class:`the thing <.b.Thin>`"),
    ('"""Climbs too far: :mod:`...top`."""', ":mod:`...top`"),
    ('"""A class named as a module: :mod:`.b.Thing`."""', ":mod:`.b.Thing`"),
    ('"""A method the class lacks: :meth:`Local.stop`."""', ":meth:`Local.stop`"),
    ('"""An attribute outside its class: :attr:`count`."""', ":attr:`count`"),
    ('"""A name the standard library lacks: :class:`asyncio.NoSuchTask`."""', ":class:`asyncio.NoSuchTask`"),
    ("# a comment: :func:`.b.unmade`", ":func:`.b.unmade`"),
    ("# a comment: :class:`a thing\n# <.b.Gone>`", ":class:`a thing <.b.Gone>`"),
])
def test_the_check_names_a_reference_that_does_not_resolve(tmp_path, monkeypatch, _forget_modules, extra,
                                                           reference):
    pkg, text = _package(tmp_path, monkeypatch, "\n\n" + extra + "\n")
    line = text.count("\n", 0, text.rindex(reference.split("`")[0] + "`")) + 1
    assert unresolved(tmp_path, (pkg,)) == [f"{pkg}/room/a.py:{line}: {reference.replace('{pkg}', pkg)}"]
