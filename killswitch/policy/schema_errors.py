"""pydantic's validation errors → diagnostics with positions, and salvage of a broken Policy.

What it owns: turning each error pydantic reports into one :class:`Diagnostic` with a code, the
line:col of the offending key or value, and a hint (the keys allowed there, a close match of a
misspelled name); and salvage: when a Policy has schema errors, its broken signals, triggers
and stages are dropped and the rest validated again, so that the compiler can still report
unresolved references and unsafe stages in the same run (names of dropped items are kept as
``poisoned`` so that nothing is reported twice).

Pure: no I/O.
"""

from __future__ import annotations

import copy
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from . import diagnostics as d
from .diagnostics import Diagnostic
from .documents import LoadedDoc, Path


# --- pydantic errors → diagnostics ----------------------------------------------------------------


@dataclass
class _Err:
    type: str
    path: Path  # cleaned: only keys and indices of the document
    message: str
    ctx: dict[str, Any]
    input: Any
    union: bool  # the error came from one branch of a union


def _looks_like_tag(el: Any) -> bool:
    """pydantic's names for union branches and validators (``constrained-float``, ``function-after[…]``,
    ``AppriseTarget``, ``str``). Only met for elements that are not keys of the document."""
    return isinstance(el, str) and (
        "[" in el or "-" in el or el[:1].isupper() or el in ("str", "int", "float", "bool", "dict", "list")
    )


def clean_errors(e: ValidationError, raw: dict[str, Any], cls: type) -> list[_Err]:
    out: list[_Err] = []
    seen: dict[Path, _Err] = {}
    missing: dict[Path, _Err] = {}
    for err in e.errors(include_url=False):
        path: list[Any] = []
        node: Any = raw
        union = False
        for el in err["loc"]:
            if isinstance(node, dict) and isinstance(el, str) and el in node:
                path.append(el)
                node = node[el]
            elif isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node):
                path.append(el)
                node = node[el]
            elif el == "[key]":
                path.append(el)
                node = None
            elif _looks_like_tag(el):
                union = True
            else:
                path.append(el)
                node = None
        key = tuple(path)
        if union and key in seen:
            # one diagnostic per place: the branches of a union become "expected A, or B"
            prev = seen[key]
            if err["msg"] not in prev.message:
                prev.message += ", or " + _reword(err["msg"]).replace("expected ", "", 1)
            continue
        item = _Err(err["type"], key, err["msg"], dict(err.get("ctx") or {}), err.get("input"), union)
        if item.type == "missing" and key:
            # all missing keys of one mapping in one diagnostic
            group = missing.get(key[:-1])
            if group is not None:
                group.ctx["keys"].append(str(key[-1]))
                continue
            item.ctx["keys"] = [str(key[-1])]
            missing[key[:-1]] = item
        seen[key] = item
        out.append(item)
    return out


_TYPE_CODES = {
    "ks_duration": d.KS110,
    "ks_percent": d.KS111,
    "ks_amount": d.KS112,
    "ks_confirmation": d.KS113,
    "ks_secret": d.KS209,
    "ks_series": d.KS140,
    "ks_missing": d.KS102,
}

_SECRET_KEYS = {"credentials", "apprise", "url"}


def human_path(path: Path) -> str:
    parts: list[str] = []
    for el in path:
        if isinstance(el, int):
            parts.append(f"[{el}]")
        elif el == "[key]":
            continue
        else:
            parts.append(("." if parts else "") + str(el))
    text = "".join(parts)
    return text[5:] if text.startswith("spec.") else text


def diagnostic(err: _Err, doc: LoadedDoc, cls: type) -> Diagnostic:
    sm, file, path = doc.srcmap, doc.file, err.path
    where = human_path(path)
    secret = any(isinstance(el, str) and el in _SECRET_KEYS for el in path)
    if err.type == "extra_forbidden":
        key = str(path[-1])
        allowed = allowed_keys(cls, path[:-1])
        parent = human_path(path[:-1]) or "the document"
        return Diagnostic.make(d.KS101, file, sm.key(path), f'unknown key "{key}" in {parent}',
                               d.suggestion_hint(key, allowed, f"keys allowed under {parent}"))

    if err.type == "missing":
        keys = err.ctx.get("keys") or [str(path[-1])]
        parent_path = path[:-1]
        where_parent = human_path(parent_path) or "the document"
        pos = sm.key(parent_path) if parent_path else sm.doc
        names = ", ".join(f'"{k}"' for k in keys)
        noun = "key" if len(keys) == 1 else "keys"
        return Diagnostic.make(d.KS102, file, pos, f"missing required {noun} {names} in {where_parent}",
                               f"add {', '.join(k + ':' for k in keys)} under {where_parent}")
    if path and path[-1] == "[key]":
        name = str(path[-2])
        return Diagnostic.make(d.KS103, file, sm.key(path[:-1]), f'invalid name "{name}" in {human_path(path[:-2])}',
                               _name_hint(err))
    if err.type == "ks_one_kind":
        choices = err.ctx.get("choices", [])
        return Diagnostic.make(d.KS103, file, sm.key(path), f"{where}: {err.message}",
                               "one of: " + ", ".join(choices) if choices else None)
    if err.type == "ks_missing":
        return Diagnostic.make(d.KS102, file, sm.key(path), f"{where}: {err.message}")
    code = _TYPE_CODES.get(err.type, d.KS103)
    message = _reword(err.message)
    hint = None
    if err.type == "string_pattern_mismatch":
        shown = f' "{err.input}"' if isinstance(err.input, str) and not secret and len(err.input) <= 80 else ""
        message = f"{where}:{shown} is not a valid name"
        hint = _PATTERN_HINTS.get(err.ctx.get("pattern", ""), f"it must match {err.ctx.get('pattern', '')}")
        return Diagnostic.make(code, file, sm.value(path), message, hint)
    if err.type in ("literal_error", "enum") and isinstance(err.input, str) and not secret:
        options = [o.strip().strip("'") for o in err.ctx.get("expected", "").replace(" or ", ", ").split(",")
                   if o.strip()]
        best = d.did_you_mean(err.input, options)
        if best:
            hint = f'did you mean "{best}"?'
        message = f'"{err.input}" is not allowed; expected {err.ctx.get("expected", "")}'
    elif "choices" in err.ctx and isinstance(err.input, list):
        pass
    if err.type == "ks_value" and "choices" in err.ctx:
        bad = message.split('"')[1] if '"' in message else ""
        best = d.did_you_mean(bad, err.ctx["choices"])
        hint = f'did you mean "{best}"?' if best else "one of: " + ", ".join(err.ctx["choices"])
    return Diagnostic.make(code, file, sm.value(path), f"{where}: {message}" if where else message, hint)


def _pattern_hints() -> dict[str, str]:
    from .model import IDENT_RE, NAME_RE

    return {
        NAME_RE: "names take lower-case letters, digits and dashes, and start and end with a letter or digit",
        IDENT_RE: "names used in conditions take letters, digits and _, and start with a letter or _",
        r"^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name takes letters, digits and _",
        r"^[a-z0-9_]+$": "a venue is a ccxt exchange id such as binanceusdm, bybit or okx",
    }


_PATTERN_HINTS = _pattern_hints()


def _name_hint(err: _Err) -> str:
    pattern = err.ctx.get("pattern", "")
    if "_" in pattern and "A-Z" in pattern:
        return "names used in conditions take letters, digits and _ and start with a letter"
    return "names take lower-case letters, digits and dashes"


def _reword(msg: str) -> str:
    msg = msg.replace("Input should be", "expected").replace("Value error, ", "")
    msg = msg.replace("String should match pattern", "does not match the pattern")
    return msg


# --- the model tree, for did-you-mean on keys -------------------------------------------------------


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


def allowed_keys(root: type[BaseModel], path: Path) -> list[str]:
    """The keys allowed at ``path`` of a document of class ``root`` (empty when unknown)."""
    ann: Any = root
    for el in path:
        ann = _unwrap(ann)
        if _is_model(ann):
            ann = _field_ann(ann, el)
            if ann is None:
                return []
        elif typing.get_origin(ann) in (list, dict):
            ann = typing.get_args(ann)[-1]
        else:
            return []
    ann = _unwrap(ann)
    if not _is_model(ann):
        return []
    return [f.alias or name for name, f in ann.model_fields.items()]


# --- salvage ----------------------------------------------------------------------------------------

def salvage(doc: LoadedDoc, cls: type[BaseModel], errors: list[_Err]) -> None:
    """Drop the broken items of the collections under ``spec`` and validate the rest again.

    An error inside ``spec.<section>.<item>`` drops that item (its name is remembered, so
    references to it are not reported as unknown); an error in an optional ``spec`` field
    drops the field. Anything else (metadata.name, the spec itself) leaves no model.
    """
    raw = copy.deepcopy(doc.raw)
    spec = raw.get("spec")
    spec_model = _unwrap(cls.model_fields["spec"].annotation)
    if not isinstance(spec, dict) or not _is_model(spec_model):
        return
    optional = {f.alias or n for n, f in spec_model.model_fields.items() if not f.is_required()}
    drop_items: dict[str, set[Any]] = {}

    drop_fields: set[str] = set()
    for err in errors:
        p = err.path
        if len(p) >= 3 and p[0] == "spec" and isinstance(spec.get(p[1]), (dict, list)) and p[2] != "[key]":
            drop_items.setdefault(p[1], set()).add(p[2])
        elif len(p) >= 4 and p[0] == "spec" and p[3] == "[key]":
            drop_items.setdefault(p[1], set()).add(p[2])
        elif len(p) >= 2 and p[0] == "spec" and p[1] in optional:
            drop_fields.add(p[1])
        elif len(p) >= 2 and p[0] == "metadata" and p[1] != "name":
            raw["metadata"].pop(p[1], None)
        else:
            return  # the document's frame is broken; nothing trustworthy to check further
    for name in drop_fields:
        spec.pop(name, None)
    names: dict[str, list[str]] = {}
    poisoned: set[Path] = {("spec", f) for f in drop_fields}
    for section, items in drop_items.items():
        coll = spec.get(section)
        if isinstance(coll, dict):
            for key in items:
                coll.pop(key, None)
                names.setdefault(section, []).append(str(key))
                poisoned.add(("spec", section, key))
        elif isinstance(coll, list):
            keep = tuple(i for i in range(len(coll)) if i not in items)
            for i in sorted(items):
                item = coll[i] if isinstance(i, int) and i < len(coll) else None
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    names.setdefault(section, []).append(item["name"])
                poisoned.add(("spec", section, i))
            spec[section] = [coll[i] for i in keep]
            doc.kept[section] = keep
    try:
        doc.model = cls.model_validate(raw)
    except ValidationError:
        doc.model = None
        doc.kept = {}
        return
    doc.poisoned = frozenset(poisoned)
    doc.dropped_names = names
