"""What a runbook template reads of the incident's data, checked without an incident.

Owns the *shape* of the data a template is rendered from (:func:`data_shape`: every key any
of the sample incidents has, where it has it) and the walk of a template's syntax tree that
finds what it reads and the data does not have (:func:`unknown_names`), in every branch, taken
or not, with a close match for a misspelled key (:func:`suggest`). :class:`~.templates.Templates`
checks its templates with them.

A shape is None (anything: a scalar, or a value no sample shows), ("dict", {key: shape}) or
("list", shape of the items). Keys are checked only where the shape is known.

jinja2 is imported on first use, never at import. Must not: read a file or render a template.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

if TYPE_CHECKING:
    from jinja2 import nodes as jn

Shape = Optional[tuple[str, Any]]
"""A shape, as above: None, ("dict", {key: Shape}) or ("list", Shape)."""

Unknown = tuple[str, str, list[str], Optional[int]]
"""What a template reads that the data does not have: (expression, missing name or key, what is
known there, line)."""

# what a template may read besides the incident's keys: jinja2's default globals, and the names
# jinja2 defines inside loops, macros and blocks
BUILTIN_NAMES = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace",
                           "loop", "caller", "varargs", "kwargs", "self", "super"})

_DICT_METHODS = frozenset({"items", "keys", "values", "get"})


def data_shape(incidents: Iterable[Mapping[str, Any]]) -> Shape:
    """The shape of ``incidents`` together: every key any of them has, where it has it."""
    shape = None
    for c in incidents:
        shape = _add(shape, c)
    return shape


def project_shape(shape: Shape, names: frozenset[str]) -> Shape:
    """``shape`` with only the keys in ``names``, at every level."""
    if shape is None:
        return None
    if shape[0] == "dict":
        return ("dict", {k: project_shape(v, names) for k, v in shape[1].items() if k in names})
    return ("list", project_shape(shape[1], names))


def frozen_shape(shape: Shape, names: frozenset[str]) -> Shape:
    """``project_shape(shape, names)`` as a value that can be a key (keys in their order: a shape read
    in another order only misses the cache)."""
    if shape is None:
        return None
    if shape[0] == "dict":
        return ("dict", tuple((k, frozen_shape(v, names)) for k, v in shape[1].items() if k in names))
    return ("list", frozen_shape(shape[1], names))


_SCALARS = (str, int, float, bool, type(None))


def _add(shape: Shape, value: Any) -> Shape:
    """``merge_shapes(shape, <the shape of value>)``, built in place: ``shape`` must be this function's
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


def merge_shapes(a: Shape, b: Shape) -> Shape:
    if a is None:
        return b
    if b is None or a[0] != b[0]:
        return a
    if a[0] == "dict":
        keys = dict(a[1])
        for k, v in b[1].items():
            keys[k] = merge_shapes(keys.get(k), v)
        return ("dict", keys)
    return ("list", merge_shapes(a[1], b[1]))


def suggest(word: str, known: Iterable[str]) -> str:
    from ..policy.diagnostics import did_you_mean

    best = did_you_mean(word, known)
    return f' (did you mean "{best}"?)' if best else ""


def unknown_names(ast: "jn.Node", shape: Shape) -> list[Unknown]:
    """What a template reads that the data does not have, in every branch, taken or not:
    (expression, missing name or key, what is known there, line). A top-level name must be a
    key of the data (or bound by the template: ``set``, ``for``, ``macro``, ``import``, ``with``);
    ``a.b`` / ``a["b"]`` must be a key of ``a`` where ``a``'s shape is known. Loop variables take
    the shape of the list's items, ``{% set %}`` names the shape of their value."""
    from jinja2 import nodes

    keys = dict(shape[1]) if shape is not None and shape[0] == "dict" else {}
    reader = _Reader(nodes, sorted(keys))
    reader.walk(ast, keys)
    seen: set[tuple[str, str]] = set()  # (expression, missing name): the first report of each
    unique = []
    for x in reader.out:
        if x[:2] not in seen:
            seen.add(x[:2])
            unique.append(x)
    return unique


class _Reader:
    """One walk of a template's syntax tree: ``out`` collects what it reads that is not known.
    A scope maps the names bound at a point of the template to their shapes."""

    def __init__(self, nodes: ModuleType, top: list[str]) -> None:
        self.nodes = nodes
        self.top = top
        self.out: list[Unknown] = []
        # the nodes that bind names or read a shape, each with its walk; any other node's
        # children are walked in the same scope
        self.walks: list[tuple[Any, Callable[[Any, dict], None]]] = [
            (nodes.Name, self._name), ((nodes.Getattr, nodes.Getitem), self._read),
            (nodes.For, self._for), (nodes.Macro, self._macro), (nodes.CallBlock, self._call_block),
            (nodes.Assign, self._assign), (nodes.AssignBlock, self._assign_block),
            (nodes.With, self._with), (nodes.Import, self._import), (nodes.FromImport, self._from_import),
        ]

    def walk(self, n: "jn.Node", scope: dict) -> None:
        for kinds, walk in self.walks:
            if isinstance(n, kinds):
                walk(n, scope)
                return
        for child in n.iter_child_nodes():
            self.walk(child, scope)

    def resolve(self, n: "jn.Node", scope: dict) -> tuple[Shape, Optional[str]]:
        """The shape of an expression made of names, attributes and constant subscripts."""
        nodes = self.nodes
        if isinstance(n, nodes.Name):
            if n.name not in scope and n.name not in BUILTIN_NAMES:
                self.out.append((n.name, n.name, self.top, n.lineno))
            return scope.get(n.name), n.name
        keyed = self._keyed(n)
        if keyed is None:
            self._walk_parts(n, scope)
            return None, None
        inner, key = keyed
        base, text = self.resolve(inner, scope)
        if base is None or text is None or base[0] != "dict":
            return None, None
        if key not in base[1]:
            if not (isinstance(n, self.nodes.Getattr) and key in _DICT_METHODS):
                self.out.append((f"{text}.{key}", key, sorted(base[1]), n.lineno))
            return None, None
        return base[1][key], f"{text}.{key}"

    def _keyed(self, n: "jn.Node") -> Optional[tuple["jn.Node", str]]:
        """What ``n`` reads a key of, and the key: an attribute, or a constant string subscript."""
        if isinstance(n, self.nodes.Getattr):
            return n.node, n.attr
        if isinstance(n, self.nodes.Getitem) and isinstance(n.arg, self.nodes.Const) and isinstance(n.arg.value, str):
            return n.node, n.arg.value
        return None

    def _walk_parts(self, n: "jn.Node", scope: dict) -> None:
        """An expression whose shape is not known: what it reads is checked all the same."""
        if isinstance(n, self.nodes.Getitem):  # a subscript that is not a constant key: check its parts
            self.walk(n.node, scope)
            self.walk(n.arg, scope)
        else:
            self.walk(n, scope)

    def shape_of(self, n: "jn.Node", scope: dict) -> Shape:
        """The shape of ``n`` when it is made of names, attributes and subscripts, reporting nothing
        (what it reads was reported when the node was walked); None otherwise."""
        if not isinstance(n, (self.nodes.Name, self.nodes.Getattr, self.nodes.Getitem)):
            return None
        mark = len(self.out)
        value = self.resolve(n, scope)[0]
        del self.out[mark:]
        return value

    def bind(self, target: "jn.Node", value: Shape, scope: dict) -> None:
        if isinstance(target, self.nodes.Name):
            scope[target.name] = value
        elif isinstance(target, self.nodes.Tuple):
            for item in target.items:
                self.bind(item, None, scope)

    def _name(self, n: "jn.Name", scope: dict) -> None:
        if n.ctx == "load":
            self.resolve(n, scope)

    def _read(self, n: "jn.Getattr | jn.Getitem", scope: dict) -> None:
        self.resolve(n, scope)

    def _for(self, n: "jn.For", scope: dict) -> None:
        self.walk(n.iter, scope)
        items = self.shape_of(n.iter, scope)
        inner = dict(scope)
        self.bind(n.target, items[1] if items is not None and items[0] == "list" else None, inner)
        for child in [*([n.test] if n.test is not None else []), *n.body]:
            self.walk(child, inner)
        for child in n.else_:
            self.walk(child, scope)

    def _macro(self, n: "jn.Macro", scope: dict) -> None:
        scope[n.name] = None
        self._body_with_args(n, scope)

    def _call_block(self, n: "jn.CallBlock", scope: dict) -> None:
        self.walk(n.call, scope)
        self._body_with_args(n, scope)

    def _body_with_args(self, n: "jn.Macro | jn.CallBlock", scope: dict) -> None:
        inner = dict(scope)
        for a in n.args:
            inner[a.name] = None
        for child in [*n.defaults, *n.body]:
            self.walk(child, inner)

    def _assign(self, n: "jn.Assign", scope: dict) -> None:
        self.walk(n.node, scope)
        self.bind(n.target, self.shape_of(n.node, scope), scope)

    def _assign_block(self, n: "jn.AssignBlock", scope: dict) -> None:
        for child in n.body:
            self.walk(child, scope)
        self.bind(n.target, None, scope)

    def _with(self, n: "jn.With", scope: dict) -> None:
        for v in n.values:
            self.walk(v, scope)
        inner = dict(scope)
        for t in n.targets:
            self.bind(t, None, inner)
        for child in n.body:
            self.walk(child, inner)

    def _import(self, n: "jn.Import", scope: dict) -> None:
        scope[n.target] = None

    def _from_import(self, n: "jn.FromImport", scope: dict) -> None:
        for name in n.names:
            scope[name[1] if isinstance(name, tuple) else name] = None
