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

import functools
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional

from ..figures import figure
from .incident import DEFAULT_TEMPLATE, amount_text, iso
from .template_shape import Shape, data_shape, frozen_shape, merge_shapes, project_shape, suggest, unknown_names

if TYPE_CHECKING:
    from jinja2 import TemplateSyntaxError, nodes as jn

TEMPLATE_SUFFIX = ".j2"
MAX_TEMPLATE_BYTES = 1_000_000


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


# where the built-in template lives in the source tree (its errors point there)
BUILTIN_ROOT = "killswitch/runbooks"


@functools.cache
def builtin_default_text() -> Optional[str]:
    """The package's ``default.md.j2`` (the repository's ``runbooks/default.md.j2``), or None
    when the install did not ship its package data."""
    from importlib import resources

    try:
        return (resources.files(__package__) / DEFAULT_TEMPLATE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


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
    """An amount as the incident's data writes one (:func:`~.incident.amount_text`), ``-`` for none."""
    return amount_text(None if value is None else float(value)) or "-"


def _cell(value: object) -> str:
    """A value inside a markdown table cell: ``|`` escaped, one line."""
    text = "-" if value is None else str(value)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _finalize(value: Any) -> Any:
    return "-" if value is None else value


class Templates:
    """The templates of one directory: ``name`` (path relative to it, ``/``-separated) → source."""

    def __init__(self, sources: Mapping[str, str], root: str = "runbooks", borrowed: Iterable[str] = ()):
        self.sources = dict(sources)
        self.root = root
        # names the directory lacks, taken from the package (the built-in default.md.j2)
        self.borrowed = frozenset(borrowed)
        self._env: Any = None
        self._asts: dict[str, Any] = {}  # parsed once: checking a template asks several questions of it
        # what checking asks again for every policy that uses a template, answered once
        self._closures: dict[str, list[str]] = {}
        self._includes: dict[str, list[str]] = {}
        self._readable: dict[str, frozenset[str]] = {}
        self._clean: dict[tuple[str, Any], bool] = {}
        self._facts: dict[str, Any] = {}  # name -> what checking found of its text, kept between runs
        # a shape a caller holds and passes again (``known_covers``: one per policy, for each of
        # its stages): its key for ``_clean`` by template, kept with the shape itself (so that
        # its id is never another's)
        self._keys_of_held: dict[tuple[str, int], tuple[Any, Any]] = {}

    @classmethod
    def load(cls, root: Path) -> "Templates":
        """Read every ``*.j2`` file under ``root``. A file that cannot be read is left out (a
        template that names it is then reported as unknown). A directory without a readable
        ``default.md.j2`` (a copy that kept the repository's link to the package's file as a
        dangling link, or a firm's directory of its own templates) is given the built-in one,
        which its templates may extend: not a problem, the default that was meant."""
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
        borrowed: list[str] = []
        if DEFAULT_TEMPLATE not in sources and (text := builtin_default_text()) is not None:
            sources[DEFAULT_TEMPLATE] = text
            borrowed.append(DEFAULT_TEMPLATE)
        return cls(sources, display_path(base), borrowed)

    @property
    def names(self) -> list[str]:
        return sorted(self.sources)

    def __contains__(self, name: object) -> bool:
        return name in self.sources

    def path(self, name: str) -> str:
        if name in self.borrowed:
            return f"{BUILTIN_ROOT}/{name}"
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

    def check(self, name: str, contexts: Iterable[Mapping[str, Any]], known: Shape = None, *,
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
        shape = known if held else merge_shapes(data_shape(contexts), known)
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
            seen = self._key_of_held(tname, shape, names) if held else (tname, frozen_shape(shape, names))
            clean = self._clean.get(seen)
            if clean is None:
                clean = self._clean[seen] = self._clean_on(tname, seen[1], shape, names)
            for expr, key, there, line in [] if clean else unknown_names(self._ast(tname), shape):
                if expr == key:
                    add(TemplateError("render", tname, f'"{key}" is undefined: the incident has no such key'
                                      + suggest(key, keys), self.path(tname), line))
                else:
                    add(TemplateError("render", tname, f'"{expr}" is undefined: no key "{key}" there'
                                      + suggest(key, there), self.path(tname), line))
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

    def _clean_on(self, tname: str, frozen: Shape, shape: Shape, names: frozenset[str]) -> bool:
        """Whether ``tname`` reads no unknown key of ``shape`` (``frozen``: the shape cut to the
        keys it names, as a key): found clean on the same shape in an earlier run, else walked."""
        facts = self._kept(tname)
        digest = hashlib.sha256(repr(frozen).encode("utf-8", "surrogatepass")).hexdigest()
        if facts is not None and digest in facts.clean:
            return True
        clean = not unknown_names(self._ast(tname), project_shape(shape, names))
        if clean and facts is not None:
            facts.found_clean(digest)
        return clean

    def _kept(self, name: str) -> Any:
        """What checking found of ``name``'s text in earlier runs (:class:`~.compiled.Facts`), or
        None without a cache or the checking code's source."""
        if name not in self._facts:
            cache, code = self.env.bytecode_cache, _checking_code()
            self._facts[name] = cache.facts(self.sources[name], code) if cache is not None and code else None
        return self._facts[name]

    def _key_of_held(self, tname: str, shape: Shape, names: frozenset[str]) -> tuple[str, Shape]:
        """``(tname, frozen_shape(shape, names))``, made once for a shape its caller passes again."""
        held = self._keys_of_held.get((tname, id(shape)))
        if held is None or held[0] is not shape:
            held = self._keys_of_held[(tname, id(shape))] = (shape, (tname, frozen_shape(shape, names)))
        return held[1]

    def _syntax(self, name: str, e: TemplateSyntaxError) -> TemplateError:
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

    def _ast(self, name: str) -> jn.Template:
        if name not in self._asts:
            env, source, path = self.env, self.sources[name], self.path(name)
            cache = env.bytecode_cache  # the tree kept for this text, else parsed (and kept)
            self._asts[name] = cache.parse(env, name, path, source) if cache else env.parse(source, name, path)
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
        facts = self._kept(name)
        if facts is not None and facts.names is not None and facts.includes is not None:
            self._readable[name], self._includes[name] = facts.names, facts.includes
            return
        from jinja2 import meta, nodes

        found: set[str] = set()
        refs: list[jn.Node] = []
        todo: list[jn.Node] = [self._ast(name)]
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
        if facts is not None:
            facts.scanned(self._readable[name], self._includes[name])


@functools.cache
def _checking_code() -> Optional[str]:
    """A digest of the code whose findings :class:`~.compiled.Facts` keeps (this module and
    :mod:`.template_shape`, read once a process), or None when its source cannot be read."""
    from . import template_shape

    digest = hashlib.sha256()
    try:
        for module in (__file__, template_shape.__file__):
            digest.update(Path(module).read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


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
    # figure: a quantity as status shows it (float noise gone: killswitch.figures)
    env.filters.update(pct=_pct, amount=_amount, iso=iso, cell=_cell, figure=figure)
    # the code a template compiles into, kept between runs for the same text and options
    env.bytecode_cache = bytecode_cache(environment_key(env))
    return env


__all__ = ["DEFAULT_TEMPLATE", "TEMPLATE_SUFFIX", "TemplateError", "Templates", "find_runbooks_dir", "html_twin"]
