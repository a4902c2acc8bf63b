"""Salvage of a policy document with schema errors: what can be trusted of it, validated again.

What it owns: :func:`salvage`: when a document has schema errors (as :mod:`.errors`
cleaned them), a stage keeps its identity without its bad fields or actions, broken signals,
triggers and other items of ``spec`` are dropped and the rest validated again, so that the
compiler can still report unresolved references and unsafe stages in the same run (names of
dropped items are kept as ``poisoned``, and fields not as written as ``uncertain``, so that
nothing is reported twice or judged on a default).

Pure: no I/O.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from .. import diagnostics as d
from ..documents import LoadedDoc, Path
from .errors import _Err
from .tree import _is_model, _unwrap, allowed_keys, model_at

# Placeholder for a stage name that is missing or not a valid name while the model is validated
# again; the name as written (when it is text) is put back afterwards, for the messages.
_NO_NAME = "unnamed"


@dataclass
class _StageFix:
    """What salvage does to one stage with errors: keep it (its level is its identity) without the
    fields that are bad, or drop it when its level itself is unusable."""

    drop: bool = False
    keys: set[str] = field(default_factory=set)  # keys dropped from the stage
    unsure: set[str] = field(default_factory=set)  # fields not as written ("*": an unknown key like none)
    actions: set[int] = field(default_factory=set)  # indices of the actions dropped
    name: Any = None  # the name as written, when it is the bad field


def salvage(doc: LoadedDoc, cls: type[BaseModel], errors: list[_Err]) -> None:
    """Keep what can be trusted of a document with schema errors, and validate it again.

    A stage (under ``spec.stages``) keeps its identity: an error in one of its fields drops that
    field (its default stands in, and the field is recorded in ``doc.uncertain`` so that no check
    judges it), an error in one of its actions drops that action; only an unusable ``level``
    drops the stage. An error inside another item of a collection under ``spec`` (a signal, a
    trigger, an account) drops that item, and its name is remembered so that references to it are
    not reported as unknown. An error in an optional ``spec`` field, or an unknown key of ``spec``,
    drops the field. Anything else (metadata.name, a required section) leaves no model.
    """
    if _salvage(doc, cls, errors, keep_stages=True):
        return
    _salvage(doc, cls, errors, keep_stages=False)  # the stages' fixes did not validate: drop them whole


@dataclass
class _Drops:
    """What the errors ask salvage to drop of a document's spec: items of its sections, stages'
    fields and actions (or the stages whole), optional fields of spec; and the sections of spec no
    longer as written."""

    items: dict[str, set[Any]] = field(default_factory=dict)  # section -> the keys or indices dropped
    stage_fixes: dict[int, _StageFix] = field(default_factory=dict)
    fields: set[str] = field(default_factory=set)
    spec_unsure: set[str] = field(default_factory=set)  # sections of spec not as written (their defaults stand in)


def _salvage(doc: LoadedDoc, cls: type[BaseModel], errors: list[_Err], keep_stages: bool) -> bool:
    raw = copy.deepcopy(doc.raw)
    spec = raw.get("spec")
    spec_model = _unwrap(cls.model_fields["spec"].annotation)
    if not isinstance(spec, dict) or not _is_model(spec_model):
        return True  # nothing to salvage, and nothing better to try
    optional = {f.alias or n for n, f in spec_model.model_fields.items() if not f.is_required()}
    drops = _Drops()
    stages = spec.get("stages")
    for err in errors:
        if not _sort(err, drops, raw, cls, optional, keep_stages):
            return True  # the document's frame is broken; nothing trustworthy to check further
    for name in drops.fields:
        spec.pop(name, None)
    drops.spec_unsure |= drops.fields
    # a section of fixed keys (scope, risk_score) or a list that lost an item (correlation_groups)
    # is no longer as written; name-keyed sections (signals, triggers) keep their dropped names
    drops.spec_unsure |= {section for section, coll in ((k, spec.get(k)) for k in drops.items)
                          if section != "stages"
                          and (isinstance(coll, list) or model_at(cls, ("spec", section)) is not None)}
    names: dict[str, list[str]] = {}
    poisoned: set[Path] = {("spec", f) for f in drops.fields}
    uncertain: dict[Path, frozenset[str]] = {}
    kept_actions: dict[int, tuple[int, ...]] = {}
    written_names: dict[int, str] = {}
    for i, fix in drops.stage_fixes.items():
        if fix.drop:
            drops.items.setdefault("stages", set()).add(i)
            continue
        stage = cast(list[dict[str, Any]], stages)[i]  # a stage with fixes is a mapping in a list
        _fix_stage_fields(stage, fix, i, kept_actions, written_names)
        uncertain[("spec", "stages", i)] = frozenset(fix.unsure | ({"actions"} if fix.actions else set()))
    if drops.spec_unsure:
        uncertain[("spec",)] = frozenset(drops.spec_unsure)
    kept = _drop_items(spec, drops.items, names, poisoned)
    try:
        model = cls.model_validate(raw)
    except ValidationError:
        return not drops.stage_fixes  # with stage fixes, the caller tries again dropping those stages whole
    doc.model = _with_written_names(model, written_names, kept.get("stages"))
    doc.kept = kept
    doc.kept_actions = kept_actions
    doc.uncertain = uncertain
    doc.poisoned = frozenset(poisoned)
    doc.dropped_names = names
    return True


def _sort(err: _Err, drops: _Drops, raw: dict[str, Any], cls: type[BaseModel], optional: set[str],
          keep_stages: bool) -> bool:
    """Notes in ``drops`` what ``err`` asks to drop (an unknown key of metadata is dropped from
    ``raw`` at once); False when the error breaks the document's frame."""
    p = err.path
    spec = raw["spec"]
    stages = spec.get("stages")
    if (keep_stages and len(p) >= 4 and p[:2] == ("spec", "stages") and isinstance(stages, list)
            and isinstance(p[2], int) and 0 <= p[2] < len(stages) and isinstance(stages[p[2]], dict)):
        _fix_stage(drops.stage_fixes.setdefault(p[2], _StageFix()), err, p[3:], allowed_keys(cls, p[:3]))
    elif len(p) >= 3 and p[0] == "spec" and isinstance(spec.get(p[1]), (dict, list)) and p[2] != "[key]":
        drops.items.setdefault(p[1], set()).add(p[2])
    elif len(p) >= 4 and p[0] == "spec" and p[3] == "[key]":
        drops.items.setdefault(p[1], set()).add(p[2])
    elif len(p) >= 2 and p[0] == "spec" and (p[1] in optional or err.type == "extra_forbidden"):
        drops.fields.add(p[1])
        if err.type == "extra_forbidden":  # an unknown key of spec: the section it resembles, or any
            drops.spec_unsure.add(d.did_you_mean(str(p[1]), optional) or "*")
    elif len(p) >= 2 and p[0] == "metadata" and p[1] != "name":
        raw["metadata"].pop(p[1], None)
    else:
        return False
    return True


def _fix_stage_fields(stage: dict[str, Any], fix: _StageFix, i: int, kept_actions: dict[int, tuple[int, ...]],
                      written_names: dict[int, str]) -> None:
    """Stage ``i`` without its bad fields and actions; notes the actions kept and the name as written."""
    for k in fix.keys:
        stage.pop(k, None)
    if fix.name is not None:
        stage["name"] = _NO_NAME
        if isinstance(fix.name, str) and fix.name.strip():
            written_names[i] = fix.name
    acts = stage.get("actions")
    if fix.actions and isinstance(acts, list):
        keep = tuple(j for j in range(len(acts)) if j not in fix.actions)
        stage["actions"] = [acts[j] for j in keep]
        kept_actions[i] = keep


def _drop_items(spec: dict[str, Any], drop_items: dict[str, set[Any]], names: dict[str, list[str]],
                poisoned: set[Path]) -> dict[str, tuple[int, ...]]:
    """The sections' items dropped from ``spec``, their names noted in ``names`` and their paths
    in ``poisoned``; returns the indices each list section kept."""
    kept: dict[str, tuple[int, ...]] = {}
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
            kept[section] = keep
    return kept


def _fix_stage(fix: _StageFix, err: _Err, rest: Path, allowed: list[str]) -> None:
    head = rest[0]
    if err.type == "missing":
        keys = [str(k) for k in err.ctx.get("keys") or [head]]
        if "level" in keys:
            fix.drop = True
        if "name" in keys:
            fix.name = ""
            fix.unsure.add("name")
        return
    if head == "level":
        fix.drop = True
    elif head == "name":
        fix.name = err.input if isinstance(err.input, str) else ""
        fix.keys.add("name")
        fix.unsure.add("name")
    elif head == "actions" and len(rest) >= 2 and isinstance(rest[1], int):
        fix.actions.add(rest[1])
    elif err.type == "extra_forbidden" and len(rest) == 1:
        # an unknown key stands for a field the author meant to set: the closest one, or any
        fix.keys.add(str(head))
        fix.unsure.add(d.did_you_mean(str(head), allowed) or "*")
    else:
        fix.keys.add(str(head))
        fix.unsure.add(str(head))


def _with_written_names(model: BaseModel, names: dict[int, str], kept: tuple[int, ...] | None) -> BaseModel:
    """The salvaged model with each stage's name as written (not valid, but what the messages
    about that stage should call it)."""
    if not names:
        return model
    spec = getattr(model, "spec")  # noqa: B009 - every policy kind has a spec; BaseModel, to mypy, has none
    stages = list(spec.stages)
    for i, st in enumerate(stages):
        file_i = kept[i] if kept else i
        if file_i in names:
            stages[i] = st.model_copy(update={"name": names[file_i]})
    return model.model_copy(update={"spec": spec.model_copy(update={"stages": stages})})
