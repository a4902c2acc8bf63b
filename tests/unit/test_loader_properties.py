"""Property: whatever a policy file becomes, the loader and compiler answer with diagnostics only.

Valid policies are mutated at random, as text (YAML punctuation, anchors, tags, control bytes,
deleted and duplicated lines) and as structure (values replaced by other types, keys renamed
or removed), then loaded and compiled. Nothing may raise; every finding is a known code with a
message and a position inside the file.
"""

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from killswitch.compile.compiler import compile_documents
from killswitch.policy.diagnostics import CODES
from killswitch.policy.load import load_text
from tests.conftest import POLICIES

SEEDS = [p.read_text() for p in sorted(POLICIES.glob("*.yaml"))]
TOKENS = [
    "&a ", "*a", "<<: *a", "!!python/object:os.system ", "!custom ", "{", "}", "[", "]", ": ", "- ",
    "'", '"', "%", "\t", "\x00", "\x1b", "…", "---\n", "...\n", "? ", "|\n", ">-\n", "#", "@", "`",
    "~", "null", "true", "1e999", "-.inf", ".nan", "0x1F", "2026-13-45", "on", "yes", "9" * 40,
    "dd >= ", "||", "&&", "!(", "4.5%", "60s", "3 ticks", "level: 1", "name: x",
]


def check(text: str) -> None:
    result = compile_documents(load_text(text, "m.yaml"))
    lines = text.count("\n") + 2
    for x in result.diagnostics:
        assert x.code in CODES, x
        assert isinstance(x.message, str) and x.message, x
        if x.pos is not None:
            assert 1 <= x.pos.line <= lines and x.pos.col >= 1, x


@st.composite
def text_mutation(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["delete", "insert", "token", "dup_line", "swap_lines"]))
        n = len(text)
        if op == "delete" and n:
            i = draw(st.integers(0, n - 1))
            text = text[:i] + text[i + draw(st.integers(1, 40)):]
        elif op == "insert":
            i = draw(st.integers(0, n))
            text = text[:i] + draw(st.text(max_size=12)) + text[i:]
        elif op == "token":
            i = draw(st.integers(0, n))
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            if op == "dup_line":
                lines.insert(i, lines[i])
            else:
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_mutation())
def test_text_mutations_give_only_diagnostics(text):
    check(text)


_safe = YAML(typ="safe", pure=True)
SEED_DATA = [list(_safe.load_all(t)) for t in SEEDS]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["4.5%", "30s", "3 ticks", "50k", "-8%", "manual", "fire", "close_all"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)), max_leaves=8)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


@st.composite
def structural_mutation(draw):
    import copy

    docs = copy.deepcopy(draw(st.sampled_from(SEED_DATA)))
    for _ in range(draw(st.integers(1, 4))):
        doc_i = draw(st.integers(0, len(docs) - 1))
        all_paths = list(paths(docs[doc_i]))
        path = draw(st.sampled_from(all_paths))
        op = draw(st.sampled_from(["replace", "delete", "rename"]))
        if not path:
            if op == "replace":
                docs[doc_i] = draw(values)
            continue
        parent = docs[doc_i]
        for el in path[:-1]:
            parent = parent[el]
        key = path[-1]
        if op == "replace":
            parent[key] = draw(values)
        elif op == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[str(key) + draw(st.sampled_from(["_", "s", "x", ""])) + draw(st.text(max_size=2))] = parent.pop(key)
    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump_all(docs, buf)
    return buf.getvalue()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structural_mutation())
def test_structural_mutations_give_only_diagnostics(text):
    check(text)


def test_deep_nesting_is_a_diagnostic():
    check("a: " + "[" * 5000 + "]" * 5000)
    check("- " * 3000 + "x")


def test_alias_bomb_is_refused_not_expanded():
    bomb = "apiVersion: killswitch/v1\nkind: Policy\nmetadata: {name: b}\nspec:\n  a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 12):
        bomb += f"  a{i}: &a{i} [*a{'' if i == 1 else i - 1}, *a{'' if i == 1 else i - 1}, *a{'' if i == 1 else i - 1}]\n"
    result = load_text(bomb, "bomb.yaml")
    assert [x.code for x in result.diagnostics] == ["KS008"]
