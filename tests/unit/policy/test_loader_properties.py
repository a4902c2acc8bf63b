"""Property: whatever a policy file becomes, the loader and compiler answer with diagnostics only.

Valid policies are mutated at random, as text (YAML punctuation, anchors, tags, control bytes,
deleted and duplicated lines) and as structure (values replaced by other types, keys renamed
or removed), then loaded and compiled. Nothing may raise; every finding is a known code with a
message and a position inside the file.
"""

import io

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from ruamel.yaml import YAML

from killswitch.compile.compiler import compile_documents
from killswitch.policy.diagnostics import CODES
from killswitch.policy.load import load_text
from killswitch.policy.yamlbounds import MAX_DEPTH, ShapeRefused, new_loader
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


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structural_mutation())
def test_structural_mutations_give_only_diagnostics(text):
    check(text)


def test_deep_nesting_is_a_diagnostic():
    check("a: " + "[" * 5000 + "]" * 5000)
    check("- " * 3000 + "x")
    assert _codes("a: " + "[" * 5000 + "]" * 5000) == [("KS009", 1, 4 + 63)]  # the 64th "[" opens level 65
    assert _codes("- " * 3000 + "x") == [("KS009", 1, 1 + 2 * 64)]  # the 65th "-"


def test_alias_bomb_is_refused_not_expanded():
    bomb = "apiVersion: killswitch/v1\nkind: Policy\nmetadata: {name: b}\nspec:\n  a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 12):
        prev = f"*a{'' if i == 1 else i - 1}"
        bomb += f"  a{i}: &a{i} [{prev}, {prev}, {prev}]\n"
    result = load_text(bomb, "bomb.yaml")
    assert [x.code for x in result.diagnostics] == ["KS008"]


# --- the bounds of yamlbounds: nesting depth and aliases, refused at the token that crosses them ---


def _codes(text: str) -> list[tuple[str, int | None, int | None]]:
    return [(x.code, x.pos.line if x.pos else None, x.pos.col if x.pos else None)
            for x in load_text(text, "m.yaml").diagnostics]


def _flow(depth: int) -> str:
    return "a: " + "[" * (depth - 1) + "x" + "]" * (depth - 1) + "\n"  # the document's mapping is level 1


def _block(depth: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth - 1)) + "  " * (depth - 1) + "k: v\n"


def _dashes(depth: int) -> str:
    return "- " * depth + "x\n"


def _flow_maps(depth: int) -> str:
    return "{a: " * depth + "x" + "}" * depth + "\n"


@pytest.mark.parametrize("shape", [_flow, _block, _dashes, _flow_maps], ids=lambda f: f.__name__.strip("_"))
def test_nesting_of_exactly_max_depth_is_read_and_one_more_is_refused(shape):
    assert not any(c == "KS009" for c, _, _ in _codes(shape(MAX_DEPTH)))
    [(code, line, col)] = _codes(shape(MAX_DEPTH + 1))
    assert code == "KS009" and line is not None and col is not None


def test_a_route_tree_thirty_routes_deep_is_a_valid_document():
    """No real document comes near the bound: a NotificationRoutes tree 30 child routes deep loads."""
    lines = ["apiVersion: killswitch/v1", "kind: NotificationRoutes", "metadata: {name: desk}", "spec:",
             "  route:", "    receiver: desk", "    routes:"]
    for k in range(1, 31):
        pad = " " * (4 * k + 4)
        lines += [" " * (4 * k + 2) + "- receiver: desk", pad + f'match: {{depth: "{k}"}}']
        if k < 30:
            lines.append(pad + "routes:")
    lines += ["  receivers:", "    - name: desk", "      apprise: [{env: KS_DESK}]"]
    result = compile_documents(load_text("\n".join(lines) + "\n", "routes.yaml"))
    assert not result.errors, result.errors
    assert [d.kind for d in result.docs] == ["NotificationRoutes"]


def test_a_refused_shape_refuses_the_whole_file():
    """The documents before the token that crosses a bound are not kept: a file runs as a whole."""
    good = (POLICIES / "spot-book.yaml").read_text()
    assert load_text(good, "p.yaml").docs
    for bad in (_flow(MAX_DEPTH + 1), "x: &a 1\ny: *a\n"):
        result = load_text(good + "\n---\n" + bad, "p.yaml")
        assert result.docs == [] and [x.code for x in result.diagnostics] in (["KS009"], ["KS008"])


def test_a_merge_key_is_named_at_its_key():
    assert _codes("base: &b {x: 1}\nother:\n  <<: *b\n") == [("KS008", 3, 3)]
    assert load_text("o: {<<: *b}\n", "m.yaml").diagnostics[0].message == "YAML merge keys (<<) are not allowed"
    assert _codes("o: [<<, *b]\n") == [("KS008", 1, 9)]  # "<<" as a plain value: an ordinary alias


class _ReadSpy:
    """Records how far ruamel's scanner read into the text, and how many scans began: installed
    on ruamel's own Scanner, so it watches the loader without knowing how the bounds work."""

    def __init__(self, monkeypatch):
        from ruamel.yaml import scanner

        self.furthest = -1
        self.scans = 0
        fetch, start = scanner.Scanner.fetch_more_tokens, scanner.Scanner.fetch_stream_start

        def fetch_more_tokens(s):
            self.furthest = max(self.furthest, s.reader.index)
            return fetch(s)

        def fetch_stream_start(s):
            self.scans += 1
            return start(s)

        monkeypatch.setattr(scanner.Scanner, "fetch_more_tokens", fetch_more_tokens)
        monkeypatch.setattr(scanner.Scanner, "fetch_stream_start", fetch_stream_start)


def _nth(text: str, sub: str, n: int) -> int:
    i = -1
    for _ in range(n):
        i = text.index(sub, i + 1)
    return i


FILLER = "".join(f"k{i}: {{a: [1, 2], b: value {i}}}\n" for i in range(3100))  # 100 KB of shallow YAML
HOSTILE = {
    # name: (text of at least 100 KB, offset of the token that must stop the scan, expected code)
    "deep flow sequences": ("x: " + "[" * 50_000 + "]" * 50_000, 3 + 63, "KS009"),
    "deep routes, flow": ("spec: {route: " + "{routes: [" * 9_000 + "]}" * 9_000 + "}", None, "KS009"),
    "deep compact sequences": ("- " * 60_000 + "x", 2 * 64, "KS009"),
    "deep block mappings": ("".join(" " * i + f"k{i}:\n" for i in range(450)), None, "KS009"),
    "too deep, then 100 KB of plain YAML": (_flow(MAX_DEPTH + 1) + FILLER, None, "KS009"),
    "alias bomb": ("a: &a [" + "x, " * 9 + "x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i > 1 else "*a"] * 9) + "]\n" for i in range(1, 2_000)),
        None, "KS008"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_100kb_document_is_refused_at_the_token_that_crosses_the_bound(name, monkeypatch):
    """Structural, not timed: the scanner stops at the offending token and never reads the rest,
    so the cost of a hostile file is the cost of its first few hundred bytes (figures per 100 KB:
    bench/validate.py)."""
    text, stop, code = HOSTILE[name]
    assert len(text) >= 100_000
    spy = _ReadSpy(monkeypatch)
    result = load_text(text, "hostile.yaml")
    [diag] = result.diagnostics
    assert diag.code == code and result.docs == []
    if stop is None:  # where it must stop: the position the diagnostic names
        lines = text.split("\n")
        stop = sum(len(x) + 1 for x in lines[:diag.pos.line - 1]) + diag.pos.col - 1
    # a bracket, a dash or an alias is refused where it stands; a block key once its ":" is seen
    limit = stop if text[stop] in "[{-*" else text.index(":", stop)
    assert spy.scans == 1
    assert spy.furthest <= limit, f"read up to offset {spy.furthest}, past the refused token at {limit}"
    assert spy.furthest < 10_000


def test_many_scalar_documents_are_scanned_once(monkeypatch):
    """A scalar document's position comes from the one scan, not from a scan per document (which
    made a file of two thousand ``--- x`` lines take a minute)."""
    spy = _ReadSpy(monkeypatch)
    text = "--- x\n" * 500
    result = load_text(text, "m.yaml")
    assert [(x.code, x.pos.line, x.pos.col) for x in result.diagnostics] == [("KS004", n, 5) for n in range(1, 501)]
    assert spy.scans == 1


def test_loading_on_two_threads_at_once_gives_the_same_answers():
    """A policy reload compiles on a worker thread while other loads may run: each thread has its
    own ruamel instance (they are not reentrant)."""
    import threading

    texts = SEEDS * 4
    expected = [[(x.code, x.pos) for x in load_text(t, "m.yaml").diagnostics] + [len(load_text(t, "m.yaml").docs)]
                for t in texts]
    got: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(tid: int) -> None:
        try:
            for _ in range(5):
                for i, t in enumerate(texts):
                    r = load_text(t, "m.yaml")
                    got.setdefault((tid, i), [])
                    assert [(x.code, x.pos) for x in r.diagnostics] + [len(r.docs)] == expected[i]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def _tokens(y, text: str) -> list:
    """The token stream of ``text`` (kind, position, value), ending with the error that stopped it."""
    out: list = []
    try:
        for t in y.scan(text):
            out.append((type(t).__name__, t.start_mark.line, t.start_mark.column, getattr(t, "value", None)))
    except ShapeRefused:
        return []  # beyond the bounds: nothing to compare (the bounds are tested above)
    except Exception as e:  # noqa: BLE001 - ruamel's own error, to be compared
        out.append((type(e).__name__, str(e)))
    return out


_yaml_chars = st.text(alphabet="[]{},:-?#'\" ab\n\t|>&!", max_size=160)
_long_keys = st.builds(lambda n, m, close: "{" * n + "k" * m + ": v" + "}" * (n if close else 0),
                       st.integers(0, 4), st.integers(1000, 1040), st.booleans())


# collections as keys: several key possibilities pending at once, resolved oldest first
_KEYS_IN_KEYS = ["{[a, b]: c}", "[[x]: y]", "{{a: b}: c}", "- [a]: b\n", "[{a: [b]}: c]", "a: [[1, [2]]: 3]\n",
                 "[[[a]]: b, c]", "{ [a]: [b]: c }", "[[a,\n b]: c]", "k: {x: [y\n  ]}\n"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(text_mutation(), _yaml_chars, _long_keys, st.sampled_from(_KEYS_IN_KEYS)))
def test_the_bounded_scanner_reads_every_text_as_ruamel_does(text):
    """Within the bounds, the scanner's own simple-key bookkeeping gives ruamel's token stream,
    positions and errors exactly."""
    ours = _tokens(new_loader(), text)
    if ours:
        assert ours == _tokens(YAML(typ="rt", pure=True), text)


@pytest.mark.parametrize("text", _KEYS_IN_KEYS)
def test_keys_that_are_collections_scan_as_ruamel_scans_them(text):
    ours = _tokens(new_loader(), text)
    assert ours and ours == _tokens(YAML(typ="rt", pure=True), text)


def test_a_check_that_raises_half_way_leaves_the_loader_whole(monkeypatch):
    """A bug in a document's checks must not leave this thread's ruamel instance half-way through
    a file, to be reset in the middle of the next one (the exception kept alive keeps the load):
    the file is read whole, and ruamel reset, before any document is checked."""
    import killswitch.policy.load as load
    from killswitch.policy import yamlfast

    monkeypatch.setattr(yamlfast, "read", lambda text, lines: None)  # ruamel's instance is at stake
    real, calls = load._checked_document, []

    def first_raises(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in a check")
        return real(*args, **kwargs)

    monkeypatch.setattr(load, "_checked_document", first_raises)
    two = SEEDS[0] + "\n---\n" + SEEDS[0]
    with pytest.raises(RuntimeError) as kept:
        load_text(two, "a.yaml")
    assert kept.value is not None  # still referenced: its traceback holds the failed load's frame
    assert len(load_text(two, "b.yaml").docs) == len(load_text(SEEDS[0], "c.yaml").docs) * 2


def test_a_reused_anchor_loads_without_a_warning(recwarn):
    load_text("a: &x 1\nb: &x 2\n", "m.yaml")
    assert not [w for w in recwarn.list if "anchor" in str(w.message)]
