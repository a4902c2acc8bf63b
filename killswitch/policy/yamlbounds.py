"""Bounded YAML reading: ruamel's round-trip loader, with limits on the shape of the text that
its scanner checks token by token.

Owns the limits every policy, policy test, accounts and routes document is read under, and the
ruamel instances that enforce them (one per thread: ruamel's loaders are not reentrant, and a
policy reload compiles on a worker thread while the CLI or a test may load on another).

- **Nesting**: every indented block collection and every open ``[`` or ``{`` is one level. The
  scanner refuses the level past :data:`MAX_DEPTH` at the very token that opens it, before it
  reads further. Unbounded, ruamel's scanner does work proportional to the depth for every token
  (its simple-key bookkeeping), then the composer recurses until Python's recursion limit: a
  2 KB line of brackets took seconds, a 43 KB routes document minutes.
- **Aliases** are refused at the first ``*`` token, so nothing is ever expanded: the alias
  expansion a document may cause is zero nodes, and a billion-laughs file costs one scan up to
  its first alias. (Anchors alone are harmless: nothing refers to them.)
- **Document starts** are recorded as the composer meets them, so a file of many scalar
  documents is not scanned again for each of them.

ruamel is imported on first use: the fast path (:mod:`.yamlfast`) reads ordinary files without
it, under the same bound on nesting.

It must not build models, make diagnostics (:mod:`killswitch.policy.load` turns the exceptions
below into them) or read files.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.scanner import RoundTripScanner

# Counted as the scanner sees it: open block collections plus open brackets. The documents in
# policies/ reach 7 levels, those in tests/ 8; a NotificationRoutes tree of 30 nested child
# routes fits (two levels per child). The bound keeps the recursion of ruamel's composer, of
# the model's validators and of the compiler far from Python's limit (figures: bench/validate.py).
MAX_DEPTH = 64


class ShapeRefused(Exception):
    """The text has a shape the loader refuses; ``line`` and ``col`` are 1-based."""

    def __init__(self, line: int, col: int, index: int):
        super().__init__(f"{line}:{col}")
        self.line = line
        self.col = col
        self.index = index  # offset of the offending character in the text


class NestingTooDeep(ShapeRefused):
    """Opening a collection here would nest it deeper than :data:`MAX_DEPTH` levels."""


class AliasFound(ShapeRefused):
    """An alias (``*name``) starts here."""


_types: tuple[type[RoundTripScanner], type[Composer]] | None = None


def _loader_types() -> tuple[type[RoundTripScanner], type[Composer]]:
    """The bounded scanner and the recording composer: subclasses of ruamel's, made on first use."""
    global _types
    if _types is None:
        _types = (_scanner_type(), _composer_type())
    return _types


def _scanner_type() -> type[RoundTripScanner]:
    from ruamel.yaml.scanner import RoundTripScanner, ScannerError

    class _BoundedScanner(RoundTripScanner):
        """ruamel's round-trip scanner, refusing to open a level past :data:`MAX_DEPTH` and refusing
        any alias. Depth is ``len(self.indents)`` (open block collections) plus ``self.flow_level``."""

        def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
            if len(self.indents) + self.flow_level >= MAX_DEPTH:
                r = self.reader
                raise NestingTooDeep(r.line + 1, r.column + 1, r.index)
            super().fetch_flow_collection_start(TokenClass, to_push)

        def add_indent(self, column: int) -> bool:
            # Called in block context only, when a sequence entry, a key or a value may open a block
            # collection at ``column``. A simple key sits on the line being scanned (ruamel drops a
            # key possibility at a line break), so the new collection starts at (this line, column).
            if self.indent < column and len(self.indents) + self.flow_level >= MAX_DEPTH:
                r = self.reader
                raise NestingTooDeep(r.line + 1, column + 1, r.index - (r.column - column))
            return super().add_indent(column)

        def fetch_alias(self) -> None:
            r = self.reader
            raise AliasFound(r.line + 1, r.column + 1, r.index)

        # ruamel looks at every pending simple-key possibility (one per open level) on every token,
        # to find the oldest and drop the stale ones: work proportional to the depth, per token. The
        # possibilities are kept in the order they were saved, which is also the order of their
        # positions and token numbers (a level's entry is saved after the levels below it, and the
        # levels above it are dropped when their brackets close), so the oldest is the first and the
        # stale ones (on an earlier line, or over 1024 characters back) are a prefix. Same answers as
        # ruamel's loops (tests/unit/policy/test_loader_properties.py compares the token streams), at a cost
        # that no longer grows with the depth.

        def next_possible_simple_key(self) -> Any:
            for key in self.possible_simple_keys.values():
                return key.token_number
            return None

        def stale_possible_simple_keys(self) -> None:
            keys = self.possible_simple_keys
            if not keys:
                return
            r = self.reader
            line, index = r.line, r.index
            while keys:
                level = next(iter(keys))
                key = keys[level]
                if key.line == line and index - key.index <= 1024:
                    return
                if key.required:
                    raise ScannerError("while scanning a simple key", key.mark, "could not find expected ':'",
                                       r.get_mark())
                del keys[level]

    return _BoundedScanner


def _composer_type() -> type[Composer]:
    from ruamel.yaml.composer import Composer

    class _RecordingComposer(Composer):
        """Records where the root node of every document starts (0-based line, column): a scalar
        document carries no position of its own once constructed."""

        def __init__(self, loader: Any = None) -> None:
            super().__init__(loader)
            # Anchors are legal (only aliases are refused); a reused one is not worth a warning on
            # stderr, and warnings filters are process-wide, not something a worker thread may touch.
            self.warn_double_anchors = False
            self.document_starts: list[tuple[int, int]] = []

        def start(self) -> None:
            self.document_starts.clear()
            self.depth = 0  # ruamel leaves it raised after an exception; unused (max_depth is off)

        def compose_document(self) -> Any:
            node = super().compose_document()
            self.document_starts.append((node.start_mark.line, node.start_mark.column))
            return node

    return _RecordingComposer


_local = threading.local()


def new_loader() -> YAML:
    """A bounded round-trip loader (quotes preserved, duplicate keys refused). Costly to build:
    use :func:`loader`, this thread's own."""
    from ruamel.yaml import YAML

    y = YAML(typ="rt", pure=True)
    y.Scanner, y.Composer = _loader_types()
    y.preserve_quotes = True
    y.allow_duplicate_keys = False
    return y


def loader() -> YAML:
    """This thread's bounded loader."""
    y = getattr(_local, "yaml", None)
    if y is None:
        y = _local.yaml = new_loader()
    return y


def load_all(text: str) -> tuple[Any, list[tuple[int, int]]]:
    """The documents of ``text`` (a generator, as ruamel's ``load_all``) and the list the start
    of each document's root is appended to as it is composed.

    Raises :class:`NestingTooDeep` or :class:`AliasFound` from the generator, and ruamel's own
    errors for invalid YAML.
    """
    y = loader()
    y.doc_infos.clear()  # ruamel appends one per document and never drops them: a runner reloads for weeks
    composer = y.composer
    composer.start()
    return y.load_all(text), composer.document_starts


def open_flow_collections(text: str, upto: int) -> list[tuple[int, int, str]]:
    """The ``[`` and ``{`` still open where the scanner stops (an error, or offset ``upto``), as
    (0-based line, 0-based column, character), outermost first. Scans the text once more, under
    the same bounds (an alias or a level too deep stops the scan there)."""
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.tokens import (
        FlowMappingEndToken,
        FlowMappingStartToken,
        FlowSequenceEndToken,
        FlowSequenceStartToken,
    )

    y = loader()
    stack: list[tuple[int, int, str]] = []
    tokens = y.scan(text)
    try:
        for tok in tokens:
            mark = tok.start_mark
            if mark.index >= upto:
                break
            if isinstance(tok, (FlowSequenceStartToken, FlowMappingStartToken)):
                stack.append((mark.line, mark.column, "[" if isinstance(tok, FlowSequenceStartToken) else "{"))
            elif isinstance(tok, (FlowSequenceEndToken, FlowMappingEndToken)) and stack:
                stack.pop()
    except (YAMLError, ShapeRefused, ValueError, TypeError, AttributeError, KeyError, IndexError):
        pass
    finally:
        tokens.close()
        y.doc_infos.clear()
    return stack

