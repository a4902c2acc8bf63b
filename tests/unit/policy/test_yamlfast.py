"""The loader's fast path (libyaml's events) reads what it reads exactly as ruamel's round-trip
loader does: the same documents, data, positions and models, the same diagnostics; and it leaves
to ruamel what it cannot read so.

Every text is loaded twice, through :func:`killswitch.policy.load.load_text` as it is and with
the fast path declining everything, and the two results compared field by field.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from killswitch.policy import load, yamlfast, yamlread
from killswitch.policy.yamlbounds import MAX_DEPTH
from tests.conftest import POLICIES, ROOT
from tests.unit.policy.test_loader_properties import TOKENS, structural_mutation, text_mutation

pytestmark = pytest.mark.skipif(not yamlfast.available(), reason="PyYAML without libyaml: no fast path")

YAML_FILES = sorted(p for pattern in ("*.yaml", "*.yml") for p in ROOT.rglob(pattern)
                    if not any(part.startswith(".") and part not in (".github",) for part in p.relative_to(ROOT).parts)
                    and "node_modules" not in p.parts)


def _state(result: load.LoadResult) -> tuple:
    docs = [(d.file, d.index, d.kind, d.raw, d.srcmap.doc, d.srcmap.keys, d.srcmap.values, d.srcmap.content_offset,
             d.srcmap.lines, d.model, d.complete, d.poisoned, d.dropped_names, d.kept, d.kept_actions, d.uncertain)
            for d in result.docs]
    return docs, result.diagnostics


def _round_trip_only(text: str) -> load.LoadResult:
    real = yamlfast.read
    yamlfast.read = lambda text, lines: None  # type: ignore[assignment]
    try:
        return load.load_text(text, "f.yaml")
    finally:
        yamlfast.read = real  # type: ignore[assignment]


def _round_trip_documents(text: str) -> list[tuple]:
    """What the round-trip loader makes of each document: its plain data and source map."""
    from killswitch.policy import yamlbounds

    lines = text.splitlines()
    docs, starts = yamlbounds.load_all(text)
    out = []
    try:
        for index, node in enumerate(docs):
            sm = yamlread.source_map(node, index, lines, starts)
            raw = None if node is None else yamlread.plain(node, (), sm, set(), sm.doc)
            out.append((raw, sm))
    finally:
        docs.close()
    return out


def _maps(documents: list[tuple]) -> list[tuple]:
    return [(raw, sm.doc if raw is not None else None, sm.keys, sm.values, sm.content_offset, sm.lines)
            for raw, sm in documents]


def assert_alike(text: str) -> None:
    """Both paths load ``text`` alike; when the fast path reads it, every document's data, every
    position and every scalar's offset are the round-trip loader's."""
    assert _state(load.load_text(text, "f.yaml")) == _state(_round_trip_only(text))
    fast = yamlfast.read(text, text.splitlines())
    if fast is not None:
        assert _maps(fast) == _maps(_round_trip_documents(text))


def test_the_repository_has_yaml_files_to_compare():
    assert len(YAML_FILES) > 100
    assert POLICIES / "futures-book.yaml" in YAML_FILES


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_of_the_repository_reads_alike(path):
    assert_alike(path.read_text(encoding="utf-8"))


def test_the_example_policies_take_the_fast_path():
    for path in sorted(POLICIES.rglob("*.yaml")):
        text = path.read_text()
        assert yamlfast.read(text, text.splitlines()) is not None, path


CASES = {
    "plain types": "a: 1\nb: -2\nc: +3\nd: 1.5\ne: -0.0\nf: true\ng: False\nh: ~\ni: null\nj:\nk: NULL\nl: TRUE\n",
    "other numbers": "a: 0x1F\nb: 0o17\nc: 010\nd: 1_000\ne: 1e3\nf: .5\ng: .inf\nh: -.Inf\ni: .nan\nj: 1.\nk: 0b11\n",
    "dates": "a: 2026-01-02\nb: 2026-01-02T03:04:05Z\nc: 2026-1-2 3:04:05\n",
    "strings that are not numbers": "a: 4.5%\nb: 30s\nc: 3 ticks\nd: 50k\ne: x1.5\nf: yes\ng: on\nh: 1:30\ni: 2M\n",
    "keys of YAML 1.1": "on: [a]\nyes: 1\nno: 2\noff: 3\ny: 4\n",
    "keys that are not strings": "1: a\ntrue: b\n~: c\n1.5: d\n",
    "quoted keys": "\"a\": 1\n'b': 2\n\"on\": 3\n\"1\": 4\n",
    "duplicate keys": "a: 1\nb: 2\na: 3\n",
    "duplicate quoted key": "a: 1\n\"a\": 2\n",
    "merge key": "base: {a: 1}\nx:\n  <<: {b: 2}\n",
    "quoted merge key": "\"<<\": 1\n",
    "value key": "=: 1\n",
    "quotes": "a: \"x y\"\nb: 'it''s'\nc: \"\"\nd: ''\ne: \"esc \\\" \\t \\u00e9\"\n",
    "block scalars": "a: |\n  one\n  two\nb: >\n  folded\n  text\n\nc: |-\n  strip\nd: |+\n  keep\n\n"
                     "e: >2\n   indented\n",
    "block scalar at the end": "a: |\n  last",
    "multi-line plain": "a: one\n  two\n\n  three\nb: [x,\n  y]\n",
    "flow": "a: {b: [1, {c: d}], e: [BTC/USDT:USDT, 'x']}\nf: [a: b]\ng: {}\nh: []\n",
    "nested sequences": "- - - a\n  - b\n- c\n",
    "indentless sequence": "a:\n- 1\n- 2\nb:\n  - 3\n",
    "documents": "---\na: 1\n---\n---\n- x\n...\n---\nb: 2\n",
    # a "..." after a document's "...": libyaml passes over it, ruamel refuses it (found by the
    # token soup below)
    "end marker after an end marker": "---\n...\n...\n",
    "end marker after a document's end": "a: 1\n...\n# x\n...\n",
    "end markers alone": "...\n...\n",
    "end marker with a comment": "a: 1\n... # c\n",
    "scalar documents": "--- s\n--- 5\n--- |\n  x\n---\n",
    "block scalar document": "|\n---\n",
    "empty": "",
    "comments only": "# nothing\n# here\n",
    "scalar document": "just text\n",
    "crlf": "a: 1\r\nb:\r\n  - x\r\n",
    "lone cr": "a: 1\rb: 2\r",
    "unicode": "a: héllo 🙂 x\n🙂: \"é\"\nb: [🙂, é]\n",
    "tab": "a:\tb\n",
    "tab indentation": "a:\n\tb: 1\n",
    "bom": "\ufeffa: 1\n",
    "nel": "a: b\x85c: d\n",
    "line separator": "a: b\u2028c\n",
    "control character": "a: b\x01\n",
    "lone surrogate": "a: \ud800\n",
    "directive": "%YAML 1.1\n---\na: yes\n",
    "tag directive": "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "tags": "a: !!str 1\nb: !custom x\nc: !!map {d: 1}\n",
    "anchor": "a: &x 1\nb: 2\n",
    "alias": "a: &x 1\nb: *x\n",
    "complex key": "? [a, b]\n: c\n",
    "syntax error": "a: [1, 2\nb: 3\n",
    "unclosed quote": "a: \"abc\nb: 1\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "colon in value": "description: note: this\n",
    "long key": "k" * 1100 + ": 1\n",
    "deep at the bound": "a: " + "[" * (MAX_DEPTH - 1) + "x" + "]" * (MAX_DEPTH - 1) + "\n",
    "deep past the bound": "a: " + "[" * MAX_DEPTH + "x" + "]" * MAX_DEPTH + "\n",
    "dashes past the bound": "- " * (MAX_DEPTH + 1) + "x\n",
    "not a mapping": "- a\n- b\n",
    "policy with errors": (POLICIES / "spot-book.yaml").read_text().replace("level: 1", "level: x")
                          .replace("cancel_orders: all", "cancel_order: all"),
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_each_shape_reads_alike(text):
    assert_alike(text)


@pytest.mark.parametrize("name", ["plain types", "strings that are not numbers", "keys of YAML 1.1", "quotes",
                                  "block scalars", "multi-line plain", "flow", "documents", "crlf", "unicode",
                                  "deep at the bound", "quoted merge key"])
def test_ordinary_shapes_take_the_fast_path(name):
    text = CASES[name]
    assert yamlfast.read(text, text.splitlines()) is not None


@pytest.mark.parametrize("name", ["other numbers", "dates", "keys that are not strings", "duplicate keys",
                                  "duplicate quoted key", "merge key", "tab", "bom", "nel", "lone surrogate",
                                  "directive", "tags", "anchor", "alias", "scalar documents", "block scalar document",
                                  "complex key", "syntax error", "deep past the bound", "dashes past the bound",
                                  "control character"])
def test_what_ruamel_must_read_is_declined(name):
    text = CASES[name]
    assert yamlfast.read(text, text.splitlines()) is None


# --- generated text ------------------------------------------------------------------------------


def _ruamel_tag(value: str) -> str:
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    return str(VersionedResolver().resolve(ScalarNode, value, (True, False)))


PLAIN_ALPHABET = "0123456789+-._eExXoObB:~nulNULtrueTRUEfalsFALSinfINFaN <=T Z"


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=PLAIN_ALPHABET, max_size=12))
def test_plain_scalars_are_typed_as_ruamel_types_them(value):
    ours = yamlfast._plain_type(value)
    theirs = _ruamel_tag(value).rpartition(":")[2]
    assert (ours or "str") == theirs, value


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=PLAIN_ALPHABET + "'\"[]{},#&*!|>%@`\\ \n", max_size=16))
def test_a_value_of_any_text_reads_alike(value):
    assert_alike(f"a: {value}\nb: [{value}]\n")


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_mutation())
def test_mutated_policies_read_alike(text):
    assert_alike(text)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structural_mutation())
def test_restructured_policies_read_alike(text):
    assert_alike(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS + ["\n", "  ", "a", "b: ", "- ", "x"]), max_size=12))
def test_token_soup_reads_alike(tokens):
    assert_alike("".join(tokens))
