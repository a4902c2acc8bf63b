"""The model tree of a policy document: the model a path of it leads to, and the keys allowed there.

What it owns: :func:`model_at` (the model class of the value at a path of a document, through
its fields, lists, mappings, unions and ``Annotated``) and :func:`allowed_keys` (the keys allowed
there, as written: a field's alias, else its name), which the schema diagnostics
(:mod:`.errors`: did-you-mean on a misspelled key) and salvage (:mod:`.salvage`:
which section a dropped key resembles) read. ``_unwrap`` and ``_is_model`` are the policy
package's own, shared with salvage.

Pure: no I/O.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

from ..documents import Path


def _unwrap(ann: Any) -> Any:
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            ann = typing.get_args(ann)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            pick = next((a for a in args if _is_model(_unwrap(a)) or typing.get_origin(_unwrap(a)) in (list, dict)),
                        None)
            if pick is None:
                return ann
            ann = pick
        else:
            return ann


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _field_ann(model: type[BaseModel], key: Any) -> Any:
    for name, f in model.model_fields.items():
        if key == name or key == f.alias:
            return f.annotation
    return None


def model_at(root: type[BaseModel], path: Path) -> type[BaseModel] | None:
    """The model class of the value at ``path`` of a document of class ``root`` (None when that
    value is not a model, or the path leads nowhere)."""
    ann: Any = root
    for el in path:
        ann = _unwrap(ann)
        if _is_model(ann):
            ann = _field_ann(ann, el)
            if ann is None:
                return None
        elif typing.get_origin(ann) in (list, dict):
            ann = typing.get_args(ann)[-1]
        else:
            return None
    ann = _unwrap(ann)
    return ann if _is_model(ann) else None


def allowed_keys(root: type[BaseModel], path: Path) -> list[str]:
    """The keys allowed at ``path`` of a document of class ``root`` (empty when unknown)."""
    model = model_at(root, path)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]
