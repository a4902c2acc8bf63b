"""The loaded form of a policy file: each document's plain data, its source map and its model.

What it owns: :class:`SourceMap` (the line:col of every key and value by path, and of a
character inside a scalar, so that a diagnostic points at the exact spot), :class:`LoadedDoc`
(one document: its data, positions, validated model, and what salvage dropped) and
:class:`LoadResult`. Written by :mod:`.load` and :mod:`.schema.salvage`, read by the compiler.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .diagnostics import Diagnostic, Position

Path = tuple[Any, ...]  # a key path into a document, e.g. ("spec", "stages", 2)


@dataclass
class SourceMap:
    """Positions (1-based) of keys and values by path, e.g. ``("spec", "stages", 2, "on", 0)``."""

    doc: Position
    keys: dict[Path, Position] = field(default_factory=dict)
    values: dict[Path, Position] = field(default_factory=dict)
    # Where the text of a scalar starts relative to its position (1 for a quoted scalar),
    # or None when columns inside it cannot be mapped (block scalars).
    content_offset: dict[Path, int | None] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list, repr=False)  # the source, for scalars over several lines

    def key(self, path: Path) -> Position:
        """Position of the key that introduces ``path`` (or of the nearest enclosing one)."""
        return self._nearest(path, self.keys, self.values)

    def value(self, path: Path) -> Position:
        """Position of the value at ``path`` (or of the nearest enclosing one)."""
        return self._nearest(path, self.values, self.keys)

    def _nearest(self, path: Path, first: dict[Path, Position], then: dict[Path, Position]) -> Position:
        for n in range(len(path), 0, -1):
            p = tuple(path[:n])
            if p in first:
                return first[p]
            if p in then:
                return then[p]
        return self.doc

    def inside(self, path: Path, offset: int, value: str | None = None) -> Position:
        """Position of character ``offset`` of the scalar ``value`` at ``path``.

        Follows a plain or quoted scalar over line breaks (YAML folds each break and the next
        line's indentation into one space). Falls back to the scalar's start when the text
        cannot be followed (escape sequences, block scalars).
        """
        path = tuple(path)
        base = self.value(path)
        extra = self.content_offset.get(path)
        if path not in self.values or extra is None:
            return base
        simple = Position(base.line, base.col + extra + offset)
        if value is None or not self.lines:
            return simple
        line, col = base.line - 1, base.col - 1 + extra
        for ch in value[:offset]:
            src = self.lines[line] if line < len(self.lines) else ""
            if src[col:].strip() == "" and line + 1 < len(self.lines):
                line += 1  # a folded line break: it reads as one space
                while line + 1 < len(self.lines) and not self.lines[line].strip():
                    line += 1
                src = self.lines[line]
                col = len(src) - len(src.lstrip())
                if ch == " ":
                    continue
            if col < len(src) and src[col] == ch:
                col += 1
                continue
            return simple
        return Position(line + 1, col + 1)


@dataclass
class LoadedDoc:
    """One document of a file as read: its YAML, its source map and, if it validated (or was salvaged),
    its model."""

    file: str
    index: int  # 0-based position of the document in its file
    kind: str
    raw: dict[str, Any]
    srcmap: SourceMap
    model: BaseModel | None = None  # None when invalid and not salvageable (or not even YAML)
    complete: bool = True  # False when the document has errors (its model, if any, was salvaged)
    poisoned: frozenset[Path] = frozenset()  # paths of dropped items, e.g. ("spec", "signals", "dd")
    dropped_names: dict[str, list[str]] = field(default_factory=dict)  # section → names of dropped items
    # For lists under spec that lost items: item i of the model is item kept[section][i] of the file.
    kept: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # A stage kept by salvage with some of its actions dropped: action j of the model's stage is
    # action kept_actions[file index of the stage][j] of the file.
    kept_actions: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # Items kept by salvage whose bad fields were dropped (their defaults stand in): file path of
    # the item → the fields that are not as written ("*": any field may be, e.g. after an unknown
    # key that resembles none). Checks that read such a field skip the item.
    uncertain: dict[Path, frozenset[str]] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        md = self.raw.get("metadata")
        return md.get("name") if isinstance(md, dict) and isinstance(md.get("name"), str) else None

    def item_path(self, section: str, i: int) -> Path:
        """Path in the file of item ``i`` of the list ``spec.<section>`` of the (salvaged) model."""
        kept = self.kept.get(section)
        return ("spec", section, kept[i] if kept else i)

    def stage_path(self, i: int) -> Path:
        return self.item_path("stages", i)

    def action_path(self, i: int, j: int) -> Path:
        """Path in the file of action ``j`` of stage ``i`` of the (salvaged) model."""
        sp = self.stage_path(i)
        kept = self.kept_actions.get(sp[2])
        return sp + ("actions", kept[j] if kept else j)

    def stage_uncertain(self, i: int, *fields: str) -> bool:
        """Whether salvage dropped any of ``fields`` of stage ``i`` of the model (its default stands
        in, so a check of it would judge something the author did not write)."""
        bad = self.uncertain.get(self.stage_path(i), frozenset())
        return "*" in bad or any(f in bad for f in fields)

    def spec_uncertain(self, *sections: str) -> bool:
        """Whether salvage dropped (part of) any of ``sections`` of spec, or an unknown key of spec
        may stand for one of them."""
        bad = self.uncertain.get(("spec",), frozenset())
        return "*" in bad or any(s in bad for s in sections)

    @property
    def dropped_stages(self) -> bool:
        """Whether salvage dropped a whole stage (its level was unusable): the policy's levels are
        then not all known."""
        return any(len(p) == 3 and p[:2] == ("spec", "stages") for p in self.poisoned)

    def poisoned_names(self, section: str) -> set[str]:
        """Names of the items of ``spec.<section>`` dropped by salvage: declared, but broken."""
        return set(self.dropped_names.get(section, ()))


@dataclass
class LoadResult:
    """The documents of one or more files, and every finding met loading them."""

    docs: list[LoadedDoc] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def extend(self, other: "LoadResult") -> None:
        self.docs.extend(other.docs)
        self.diagnostics.extend(other.diagnostics)
