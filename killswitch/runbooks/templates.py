"""Runbook templates: a ``runbooks/`` directory read once, rendered in jinja2's sandbox.

Templates are jinja2 files named ``<name>.md.j2`` (markdown). A template may have an HTML twin
``<name>.html.j2``, rendered from the same data with HTML autoescaping; without one, the HTML
form is the markdown converted by :func:`killswitch.markdown.markdown_html`. Templates
may ``{% include %}`` and ``{% extends %}`` each other, and nothing else: the loader knows only
the files of the directory, read up front, so rendering reads no file.

The environment is a :class:`~jinja2.sandbox.SandboxedEnvironment` with
:class:`~jinja2.StrictUndefined`: a template cannot reach Python internals
(``{{ ''.__class__ }}`` is refused), and a misspelled variable is an error, never an empty
string in a runbook. The context is the incident's plain data (dicts, lists, strings,
numbers): there is no object in it through which a secret could be reached.

jinja2 is imported on first use, never at import: ``ksctl validate`` pays for it only when
there are templates to check.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from .incident import DEFAULT_TEMPLATE, iso

TEMPLATE_SUFFIX = ".j2"
MAX_TEMPLATE_BYTES = 1_000_000
# what a template may read besides the incident's keys: jinja2's default globals, and the names
# jinja2 defines inside loops, macros and blocks
BUILTIN_NAMES = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace",
                           "loop", "caller", "varargs", "kwargs", "self", "super"})


class TemplateError(Exception):
    """A template that cannot be used: ``kind`` is ``unknown`` (no such template), ``syntax``
    (it does not parse) or ``render`` (it fails on the data: an undefined variable, a refused
    attribute, a type error). ``file`` and ``line`` say where in the template, when known."""

    def __init__(self, kind: str, template: str, message: str, file: Optional[str] = None,
                 line: Optional[int] = None, missing: Optional[str] = None):
        super().__init__(message)
        self.kind = kind
        self.template = template
        self.message = message
        self.file = file
        self.line = line
        self.missing = missing  # the template name that was not found (kind "unknown")

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file or self.template
        return f"{where}: {self.message}"


def html_twin(name: str) -> Optional[str]:
    """``flatten.md.j2`` → ``flatten.html.j2`` (None for a name that is not ``*.md.j2``)."""
    if name.endswith(".md" + TEMPLATE_SUFFIX):
        return name[: -len(".md" + TEMPLATE_SUFFIX)] + ".html" + TEMPLATE_SUFFIX
    return None


def find_runbooks_dir(paths: Iterable[str | os.PathLike]) -> Optional[Path]:
    """The ``runbooks/`` directory that goes with policy paths: the nearest one found walking up
    from each path, stopping at the root of its git work tree (a directory holding ``.git``)."""
    for raw in paths:
        p = Path(raw).resolve()
        d = p if p.is_dir() else p.parent
        while True:
            cand = d / "runbooks"
            if cand.is_dir():
                return cand
            if (d / ".git").exists() or d.parent == d:
                break
            d = d.parent
    return None


def display_path(path: Path) -> str:
    """A path as people see it in diagnostics: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _pct(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{float(value) * 100:.{int(digits)}f}%"


def _amount(value: Any) -> str:
    if value is None:
        return "-"
    v = float(value)
    return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:.6g}"


def _cell(value: Any) -> str:
    """A value inside a markdown table cell: ``|`` escaped, one line."""
    text = "-" if value is None else str(value)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _finalize(value: Any) -> Any:
    return "-" if value is None else value


class Templates:
    """The templates of one directory: ``name`` (path relative to it, ``/``-separated) → source."""

    def __init__(self, sources: Mapping[str, str], root: str = "runbooks"):
        self.sources = dict(sources)
        self.root = root
        self._env: Any = None
        self._asts: dict[str, Any] = {}  # parsed once: checking a template asks several questions of it
        # what checking asks again for every policy that uses a template, answered once
        self._closures: dict[str, list[str]] = {}
        self._includes: dict[str, list[str]] = {}
        self._readable: dict[str, frozenset[str]] = {}
        self._clean: dict[tuple[str, Any], bool] = {}
        # a shape a caller holds and passes again (``known_covers``: one per policy, for each of
        # its stages): its key for ``_clean`` by template, kept with the shape itself (so that
        # its id is never another's)
        self._keys_of_held: dict[tuple[str, int], tuple[Any, Any]] = {}

    @classmethod
    def load(cls, root: Path) -> "Templates":
        """Read every ``*.j2`` file under ``root``. A file that cannot be read is left out (a
        template that names it is then reported as unknown)."""
        sources: dict[str, str] = {}
        base = Path(root)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
            for fn in sorted(filenames):
                if not fn.endswith(TEMPLATE_SUFFIX) or fn.startswith("."):
                    continue
                f = Path(dirpath) / fn
                try:
                    if f.stat().st_size > MAX_TEMPLATE_BYTES:
                        continue
                    sources[f.relative_to(base).as_posix()] = f.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
        return cls(sources, display_path(base))

    @property
    def names(self) -> list[str]:
        return sorted(self.sources)

    def __contains__(self, name: object) -> bool:
        return name in self.sources

    def path(self, name: str) -> str:
        return f"{self.root}/{name}" if self.root else name

    # --- the sandbox -----------------------------------------------------------------------------

    @property
    def env(self) -> Any:
        if self._env is None:
            self._env = _make_env(self)
        return self._env

    def warm(self) -> None:
        """Compile every template now. One that does not compile is left for :meth:`render` to
        report (and its caller to fall back from)."""
        for name in self.names:
            try:
                self.env.get_template(name)
            except Exception:  # noqa: BLE001 - reported when it is used
                pass

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render ``name`` against ``context``; raises :class:`TemplateError`."""
        from jinja2 import TemplateNotFound, TemplateSyntaxError

        if name not in self.sources:
            raise TemplateError("unknown", name, f'no template "{name}" in {self.root}/', missing=name)
        try:
            return self.env.get_template(name).render(dict(context))
        except TemplateSyntaxError as e:
            raise self._syntax(name, e) from None
        except TemplateNotFound as e:
            file, line = self._where(e, name)
            raise TemplateError("unknown", name, f'"{e.name}" is included or extended but is not in {self.root}/',
                                file, line, missing=str(e.name)) from None
        except RecursionError:
            raise TemplateError("render", name, "templates include or extend each other in a loop",
                                self.path(name)) from None
        except Exception as e:  # noqa: BLE001 - every failure of a template is a finding, not a crash
            file, line = self._where(e, name)
            raise TemplateError("render", name, f"{type(e).__name__}: {e}", file, line) from None

    def check(self, name: str, contexts: Iterable[Mapping[str, Any]], known: Any = None, *,
              known_covers: bool = False) -> list[TemplateError]:
        """Every problem of ``name`` found without an incident: it exists, it and what it
        includes parse, every variable it reads is a key of the data, every key it reads of
        the data (``stage.name``, ``o.status`` in ``for o in actions.orders``) exists in the
        data's shape — in every branch, taken or not —, and it renders against each of
        ``contexts``. ``known`` is the shape of more incidents whose keys count as known
        (:func:`data_shape`; the shape is the union of all). ``known_covers``: the caller knows
        that ``known`` already holds every key of ``contexts`` (a stage's sample incident is
        within its policy's full samples), so their shape is not taken again and ``known`` is
        the shape. One problem per kind and place."""
        from jinja2 import TemplateSyntaxError

        if name not in self.sources:
            return [TemplateError("unknown", name, f'no template "{name}" in {self.root}/')]
        found: dict[tuple, TemplateError] = {}

        def add(err: TemplateError) -> None:
            found.setdefault((err.kind, err.file, err.line, err.message), err)

        try:
            self.env.get_template(name)
        except TemplateSyntaxError as e:
            return [self._syntax(name, e)]
        contexts = list(contexts)
        held = known_covers and known is not None  # the caller's own shape, passed again for each stage
        shape = known if held else _merge(data_shape(contexts), known)
        keys = set(shape[1]) if shape is not None else set()
        for tname in self._closure(name):
            try:
                self.env.get_template(tname)
            except TemplateSyntaxError as e:
                add(self._syntax(tname, e))
                continue
            if shape is None:
                continue
            # What the template reads of the data depends only on the keys it names: a template
            # found clean on one shape is clean on every shape that has the same of those keys
            # (policies differ in others: the names of their signals and triggers). A finding
            # is made again on the whole shape, whose other keys go into its did-you-mean.
            names = self._names(tname)
            seen = self._key_of_held(tname, shape, names) if held else (tname, _frozen(shape, names))
            clean = self._clean.get(seen)
            if clean is None:
                clean = self._clean[seen] = not _unknown_names(self._ast(tname), _project(shape, names))
            for expr, key, there, line in [] if clean else _unknown_names(self._ast(tname), shape):
                if expr == key:
                    add(TemplateError("render", tname, f'"{key}" is undefined: the incident has no such key'
                                      + _suggest(key, keys), self.path(tname), line))
                else:
                    add(TemplateError("render", tname, f'"{expr}" is undefined: no key "{key}" there'
                                      + _suggest(key, there), self.path(tname), line))
        if found:
            return list(found.values())
        for ctx in contexts:
            try:
                self.render(name, ctx)
            except TemplateError as e:
                add(e)
                break
        return list(found.values())

    # --- helpers -----------------------------------------------------------------------------

    def _key_of_held(self, tname: str, shape: Any, names: frozenset[str]) -> tuple[str, Any]:
        """``(tname, _frozen(shape, names))``, made once for a shape its caller passes again."""
        held = self._keys_of_held.get((tname, id(shape)))
        if held is None or held[0] is not shape:
            held = self._keys_of_held[(tname, id(shape))] = (shape, (tname, _frozen(shape, names)))
        return held[1]

    def _syntax(self, name: str, e: Any) -> TemplateError:
        tname = e.name or name
        return TemplateError("syntax", tname, e.message or "syntax error", self.path(tname), e.lineno)

    def _where(self, e: BaseException, name: str) -> tuple[str, Optional[int]]:
        import traceback

        by_path = {self.path(n): n for n in self.sources}
        file, line = self.path(name), None
        for frame in traceback.extract_tb(e.__traceback__):
            if frame.filename in by_path:
                file, line = frame.filename, frame.lineno
        return file, line

    def _ast(self, name: str) -> Any:
        if name not in self._asts:
            self._asts[name] = self.env.parse(self.sources[name], name, self.path(name))
        return self._asts[name]

    def _names(self, name: str) -> frozenset[str]:
        """Every name, attribute and constant subscript template ``name`` mentions."""
        if name not in self._readable:
            self._scan(name)
        return self._readable[name]

    def _closure(self, name: str) -> list[str]:
        """``name`` and every template it includes or extends (by literal name), in order."""
        from jinja2 import TemplateSyntaxError

        if name in self._closures:
            return self._closures[name]
        out: list[str] = []
        todo = [name]
        while todo:
            n = todo.pop(0)
            if n in out or n not in self.sources:
                continue
            out.append(n)
            if n not in self._includes:  # a walk of the whole tree: once per template, not per closure
                try:
                    self._scan(n)
                except TemplateSyntaxError:
                    continue
            todo += self._includes[n]
        self._closures[name] = out
        return out

    def _scan(self, name: str) -> None:
        """One walk of ``name``'s syntax tree for both things checking asks of it: what it mentions
        (:meth:`_names`) and the templates it includes, extends or imports (:meth:`_closure`), as
        jinja2's :func:`~jinja2.meta.find_referenced_templates` reads them (a literal name, each
        of a literal list, or none for a computed one), in the template's order. A walk visits
        every node of the tree, most of them text and output: one instead of two is a tenth of
        checking the example runbooks."""
        from jinja2 import meta, nodes

        found: set[str] = set()
        refs: list[Any] = []
        todo = [self._ast(name)]
        while todo:  # depth first, children in their order: the order find_all yields them in
            n = todo.pop()
            if isinstance(n, nodes.Name):
                found.add(n.name)
            elif isinstance(n, nodes.Getattr):
                found.add(n.attr)
            elif isinstance(n, nodes.Getitem):
                if isinstance(n.arg, nodes.Const) and isinstance(n.arg.value, str):
                    found.add(n.arg.value)
            elif isinstance(n, (nodes.Extends, nodes.FromImport, nodes.Import, nodes.Include)):
                refs.append(n)
            todo.extend(reversed(list(n.iter_child_nodes())))
        self._includes[name] = [r for r in meta.find_referenced_templates(nodes.Template(refs)) if isinstance(r, str)]
        self._readable[name] = frozenset(found)


# --- the shape of the data, and the keys a template reads of it ------------------------------------
#
# A shape is None (anything: a scalar, or a value no sample shows), ("dict", {key: shape}) or
# ("list", shape of the items). Keys are checked only where the shape is known.

_DICT_METHODS = frozenset({"items", "keys", "values", "get"})


def data_shape(incidents: Iterable[Mapping[str, Any]]) -> Any:
    """The shape of ``incidents`` together: every key any of them has, where it has it."""
    shape = None
    for c in incidents:
        shape = _add(shape, c)
    return shape


def _project(shape: Any, names: frozenset[str]) -> Any:
    """``shape`` with only the keys in ``names``, at every level."""
    if shape is None:
        return None
    if shape[0] == "dict":
        return ("dict", {k: _project(v, names) for k, v in shape[1].items() if k in names})
    return ("list", _project(shape[1], names))


def _frozen(shape: Any, names: frozenset[str]) -> Any:
    """``_project(shape, names)`` as a value that can be a key (keys in their order: a shape read
    in another order only misses the cache)."""
    if shape is None:
        return None
    if shape[0] == "dict":
        return ("dict", tuple((k, _frozen(v, names)) for k, v in shape[1].items() if k in names))
    return ("list", _frozen(shape[1], names))


_SCALARS = (str, int, float, bool, type(None))


def _add(shape: Any, value: Any) -> Any:
    """``_merge(shape, <the shape of value>)``, built in place: ``shape`` must be this function's
    own result (never a shape kept elsewhere), and is changed."""
    t = type(value)
    if t in _SCALARS:  # most of an incident; the ABC check below is slow
        return shape
    if t is dict or isinstance(value, Mapping):
        if shape is None:
            shape = ("dict", {})
        elif shape[0] != "dict":
            return shape
        keys = shape[1]
        for k, v in value.items():
            if type(v) in _SCALARS:  # its shape is None: the key is known, nothing below it (no call)
                if k not in keys:
                    keys[k] = None
            else:
                keys[k] = _add(keys.get(k), v)
        return shape
    if isinstance(value, (list, tuple)):
        if shape is None:
            shape = ("list", None)
        elif shape[0] != "list":
            return shape
        item = shape[1]
        for v in value:
            if type(v) not in _SCALARS:
                item = _add(item, v)
        return ("list", item)
    return shape


def _merge(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None or a[0] != b[0]:
        return a
    if a[0] == "dict":
        keys = dict(a[1])
        for k, v in b[1].items():
            keys[k] = _merge(keys.get(k), v)
        return ("dict", keys)
    return ("list", _merge(a[1], b[1]))


def _suggest(word: str, known: Iterable[str]) -> str:
    from ..policy.diagnostics import did_you_mean

    best = did_you_mean(word, known)
    return f' (did you mean "{best}"?)' if best else ""


def _unknown_names(ast: Any, shape: Any) -> list[tuple[str, str, list[str], Optional[int]]]:
    """What a template reads that the data does not have, in every branch, taken or not:
    (expression, missing name or key, what is known there, line). A top-level name must be a
    key of the data (or bound by the template: ``set``, ``for``, ``macro``, ``import``, ``with``);
    ``a.b`` / ``a["b"]`` must be a key of ``a`` where ``a``'s shape is known. Loop variables take
    the shape of the list's items, ``{% set %}`` names the shape of their value."""
    from jinja2 import nodes

    out: list[tuple[str, str, list[str], Optional[int]]] = []
    top = sorted(shape[1]) if shape is not None and shape[0] == "dict" else []

    def resolve(n: Any, scope: dict) -> tuple[Any, Optional[str]]:
        """The shape of an expression made of names, attributes and constant subscripts."""
        if isinstance(n, nodes.Name):
            if n.name not in scope and n.name not in BUILTIN_NAMES:
                out.append((n.name, n.name, top, n.lineno))
            return scope.get(n.name), n.name
        key = None
        if isinstance(n, nodes.Getattr):
            key = n.attr
        elif isinstance(n, nodes.Getitem) and isinstance(n.arg, nodes.Const) and isinstance(n.arg.value, str):
            key = n.arg.value
        if key is None:
            if isinstance(n, nodes.Getitem):  # a subscript that is not a constant key: check its parts
                walk(n.node, scope)
                walk(n.arg, scope)
            else:
                walk(n, scope)
            return None, None
        base, text = resolve(n.node, scope)
        if base is None or text is None or base[0] != "dict":
            return None, None
        if key not in base[1]:
            if not (isinstance(n, nodes.Getattr) and key in _DICT_METHODS):
                out.append((f"{text}.{key}", key, sorted(base[1]), n.lineno))
            return None, None
        return base[1][key], f"{text}.{key}"

    def bind(target: Any, value: Any, scope: dict) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = value
        elif isinstance(target, nodes.Tuple):
            for item in target.items:
                bind(item, None, scope)

    def walk(n: Any, scope: dict) -> None:
        if isinstance(n, nodes.Name):
            if n.ctx == "load":
                resolve(n, scope)
            return
        if isinstance(n, (nodes.Getattr, nodes.Getitem)):
            resolve(n, scope)
            return
        if isinstance(n, nodes.For):
            walk(n.iter, scope)
            items = _quiet(resolve, n.iter, scope, out) if isinstance(
                n.iter, (nodes.Name, nodes.Getattr, nodes.Getitem)) else None
            inner = dict(scope)
            bind(n.target, items[1] if items is not None and items[0] == "list" else None, inner)
            for child in [*([n.test] if n.test is not None else []), *n.body]:
                walk(child, inner)
            for child in n.else_:
                walk(child, scope)
            return
        if isinstance(n, (nodes.Macro, nodes.CallBlock)):
            if isinstance(n, nodes.Macro):
                scope[n.name] = None
            else:
                walk(n.call, scope)
            inner = dict(scope)
            for a in n.args:
                inner[a.name] = None
            for child in [*n.defaults, *n.body]:
                walk(child, inner)
            return
        if isinstance(n, nodes.Assign):
            walk(n.node, scope)
            value = _quiet(resolve, n.node, scope, out) if isinstance(
                n.node, (nodes.Name, nodes.Getattr, nodes.Getitem)) else None
            bind(n.target, value, scope)
            return
        if isinstance(n, nodes.AssignBlock):
            for child in n.body:
                walk(child, scope)
            bind(n.target, None, scope)
            return
        if isinstance(n, nodes.With):
            for v in n.values:
                walk(v, scope)
            inner = dict(scope)
            for t in n.targets:
                bind(t, None, inner)
            for child in n.body:
                walk(child, inner)
            return
        if isinstance(n, nodes.Import):
            scope[n.target] = None
            return
        if isinstance(n, nodes.FromImport):
            for name in n.names:
                scope[name[1] if isinstance(name, tuple) else name] = None
            return
        for child in n.iter_child_nodes():
            walk(child, scope)

    walk(ast, {k: v for k, v in (shape[1].items() if shape is not None and shape[0] == "dict" else ())})
    seen: set[tuple[str, str]] = set()  # (expression, missing name): the first report of each
    unique = []
    for x in out:
        if x[:2] not in seen:
            seen.add(x[:2])
            unique.append(x)
    return unique


def _quiet(resolve: Any, n: Any, scope: dict, out: list) -> Any:
    """``resolve`` for the shape only: what it reports was reported when the node was walked."""
    mark = len(out)
    value = resolve(n, scope)[0]
    del out[mark:]
    return value


def _make_env(templates: Templates) -> Any:
    from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound, select_autoescape
    from jinja2.sandbox import SandboxedEnvironment

    from .compiled import bytecode_cache, environment_key

    class _Loader(BaseLoader):
        def get_source(self, environment, template):  # noqa: ANN001 - jinja2's signature
            if template not in templates.sources:
                raise TemplateNotFound(template)
            return templates.sources[template], templates.path(template), lambda: True

        def list_templates(self):
            return templates.names

        def load(self, environment, name, globals=None):  # noqa: ANN001 - jinja2's signature
            # Compiled from the syntax tree the checks read (Templates._ast), so that a template
            # is parsed once, not once to compile and once to check.
            if name not in templates.sources:
                raise TemplateNotFound(name)
            path, cache = templates.path(name), environment.bytecode_cache
            bucket = cache.get_bucket(environment, name, path, templates.sources[name]) if cache else None
            code = bucket.code if bucket is not None else None
            if code is None:
                code = environment.compile(templates._ast(name), name, path)
                if bucket is not None:  # (a template that does not compile raised: nothing is kept)
                    bucket.code = code
                    cache.set_bucket(bucket)
            return environment.template_class.from_code(environment, code, {} if globals is None else globals,
                                                        lambda: True)

    env = SandboxedEnvironment(
        loader=_Loader(),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "html.j2", "htm.j2"),
                                     default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
        auto_reload=False,
        # The optimizer folds constants by changing the syntax tree in place, and that tree is
        # shared with the checks (see _Loader.load); it changes no output.
        optimized=False,
    )
    env.filters.update(pct=_pct, amount=_amount, iso=iso, cell=_cell)
    # the code a template compiles into, kept between runs for the same text and options
    env.bytecode_cache = bytecode_cache(environment_key(env))
    return env


__all__ = ["DEFAULT_TEMPLATE", "TEMPLATE_SUFFIX", "TemplateError", "Templates", "find_runbooks_dir", "html_twin"]
