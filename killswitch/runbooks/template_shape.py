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

from typing import Any, Iterable, Mapping, Optional

# what a template may read besides the incident's keys: jinja2's default globals, and the names
# jinja2 defines inside loops, macros and blocks
BUILTIN_NAMES = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace",
                           "loop", "caller", "varargs", "kwargs", "self", "super"})

_DICT_METHODS = frozenset({"items", "keys", "values", "get"})


def data_shape(incidents: Iterable[Mapping[str, Any]]) -> Any:
    """The shape of ``incidents`` together: every key any of them has, where it has it."""
    shape = None
    for c in incidents:
        shape = _add(shape, c)
    return shape


def project_shape(shape: Any, names: frozenset[str]) -> Any:
    """``shape`` with only the keys in ``names``, at every level."""
    if shape is None:
        return None
    if shape[0] == "dict":
        return ("dict", {k: project_shape(v, names) for k, v in shape[1].items() if k in names})
    return ("list", project_shape(shape[1], names))


def frozen_shape(shape: Any, names: frozenset[str]) -> Any:
    """``project_shape(shape, names)`` as a value that can be a key (keys in their order: a shape read
    in another order only misses the cache)."""
    if shape is None:
        return None
    if shape[0] == "dict":
        return ("dict", tuple((k, frozen_shape(v, names)) for k, v in shape[1].items() if k in names))
    return ("list", frozen_shape(shape[1], names))


_SCALARS = (str, int, float, bool, type(None))


def _add(shape: Any, value: Any) -> Any:
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


def merge_shapes(a: Any, b: Any) -> Any:
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


def unknown_names(ast: Any, shape: Any) -> list[tuple[str, str, list[str], Optional[int]]]:
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
