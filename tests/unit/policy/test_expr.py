import pytest

from killswitch.policy import expr as ex
from killswitch.policy.expr import ValueType as T
from killswitch.policy.expr.check import check_types
from killswitch.policy.expr.eval import comparisons, compile_predicate
from killswitch.policy.expr.parse import parse, parse_canonical

TYPES = {"dd": T.RATIO, "dd_1h": T.RATIO, "stale": T.DURATION, "lev": T.NUMBER, "chg": T.RATIO}


def run(text, **values):
    node = parse(text)
    check_types(node, TYPES)
    return compile_predicate(node)(values)


@pytest.mark.parametrize(
    "text,values,expected",
    [
        ("dd >= 5%", {"dd": 0.05}, True),  # inclusive at the threshold
        ("dd >= 5%", {"dd": 0.0499999}, False),
        ("dd > 5%", {"dd": 0.05}, False),
        ("dd >= 4.5% || dd_1h >= 7%", {"dd": 0.01, "dd_1h": 0.07}, True),
        ("dd >= 4.5% && dd_1h >= 7%", {"dd": 0.05, "dd_1h": 0.06}, False),
        ("stale > 60s", {"stale": 61.0}, True),
        ("stale > 1m", {"stale": 60.0}, False),
        ("!(lev < 3)", {"lev": 3.0}, True),
        ("chg <= -8%", {"chg": -0.08}, True),
        ("5% <= dd", {"dd": 0.05}, True),
        ("dd == dd_1h", {"dd": 0.1, "dd_1h": 0.1}, True),
        ("(dd >= 1% || lev > 2) && stale < 30s", {"dd": 0.0, "lev": 3.0, "stale": 1.0}, True),
    ],
)
def test_condition_evaluates(text, values, expected):
    assert run(text, **values) is expected


@pytest.mark.parametrize(
    "text,values,expected",
    [
        ("dd >= 5%", {}, None),
        ("dd >= 5% || dd_1h >= 7%", {"dd_1h": 0.08}, True),  # true || unknown = true
        ("dd >= 5% || dd_1h >= 7%", {"dd_1h": 0.01}, None),  # false || unknown = unknown
        ("dd >= 5% && dd_1h >= 7%", {"dd_1h": 0.01}, False),  # false && unknown = false
        ("!(dd >= 5%)", {}, None),
    ],
)
def test_missing_values_are_unknown_not_false(text, values, expected):
    assert run(text, **values) is expected


@pytest.mark.parametrize(
    "text,offset,hint_part",
    [
        ("dd >= 5% and lev > 2", 9, "&&"),
        ("dd >= 5% or lev > 2", 9, "||"),
        ("(dd >= 5%", 9, "not closed"),
        ("dd >= ", 6, "both sides"),
        ("", 0, "comparison"),
        ("1% <= dd <= 5%", 9, "chained"),
        ("dd = 5%", 3, "=="),
        ("dd >= 5 %%", 9, None),
        ("dd >= 4.5x", 6, "unit"),
        ("stale > -5s", 8, None),
    ],
)
def test_syntax_errors_point_at_the_offending_column(text, offset, hint_part):
    with pytest.raises(ex.ExprError) as e:
        check_types(parse(text), TYPES)
    assert e.value.offset == offset
    if hint_part:
        assert hint_part in (e.value.hint or "") + e.value.message


@pytest.mark.parametrize(
    "text,kind,offset",
    [
        ("dd >= 4.5", "type", 6),  # points at the threshold: a ratio needs a percentage
        ("dd >= 60s", "type", 6),
        ("stale > 5%", "type", 8),
        ("lev >= 3 || dd", "type", 12),
        ("dd", "type", 0),
        ("ddd >= 5%", "unknown", 0),
        ("1 >= 2", "type", 2),
        ("dd >= 5% && nope > 1", "unknown", 12),
        ("dd < lev", "type", 3),  # a ratio and a number, no threshold: was a StopIteration (bench/fuzz.py)
        ("lev >= dd", "type", 4),
    ],
)
def test_type_errors(text, kind, offset):
    with pytest.raises(ex.ExprError) as e:
        check_types(parse(text), TYPES)
    assert e.value.kind == kind
    assert e.value.offset == offset


def test_ratio_compared_with_bare_number_hints_at_percent():
    with pytest.raises(ex.ExprError) as e:
        check_types(parse("dd >= 4.5"), TYPES)
    assert "percentage" in e.value.hint


def test_canonical_text_ignores_spacing_and_unit_spelling():
    a = ex.canonical(parse("dd>=4.50%||stale>1m"))
    b = ex.canonical(parse("dd >= 4.5%   ||  stale > 60s"))
    assert a == b == "dd >= 4.5% || stale > 1m"


def test_refs_lists_every_signal_read():
    assert [r.name for r in ex.refs(parse("dd >= 1% || (lev > 2 && !(stale < 5s))"))] == ["dd", "lev", "stale"]


def test_disjunct_thresholds_only_takes_simple_top_level_comparisons():
    ths = ex.disjunct_thresholds(parse("dd >= 4.5% || 7% <= dd_1h || (lev > 2 && dd > 1%)"))
    assert [(t.signal, t.op, t.text) for t in ths] == [("dd", ">=", "4.5%"), ("dd_1h", ">=", "7%")]


@pytest.mark.parametrize("evil", ["__import__('os')", "dd.__class__", "dd[0]", "f(dd)", "dd >= 5% ; x", "`ls`"])
def test_nothing_python_like_parses(evil):
    with pytest.raises(ex.ExprError):
        check_types(parse(evil), TYPES)


# --- bounds -----------------------------------------------------------------------------------------

D, N = ex.MAX_DEPTH, ex.MAX_OPERANDS
BOOLS = {**TYPES, "a": T.BOOL, "b": T.BOOL}


def _alternating(levels: int) -> str:
    """(a || (a && (a || ... a))): a level of parentheses and a node of the tree on each."""
    s = "a"
    for i in range(levels):
        s = f"(a && {s})" if i % 2 else f"(a || {s})"
    return s


def _compared(levels: int) -> str:
    """!b == (!b == (... a)): each level a negated comparison, which the canonical text writes
    with one more parenthesis than here (``!(b == (...))``)."""
    s = "a"
    for _ in range(levels):
        s = f"!b == ({s})"
    return s


@pytest.mark.parametrize(
    "text,offset,message",
    [
        ("(" * 200 + "dd >= 5%" + ")" * 200, D, f"nested deeper than {D} levels"),  # the 33rd "("
        ("!" * 1_200 + "a", D, f"nested deeper than {D} levels"),  # the 33rd "!"
        ("!(" * 40 + "a" + ")" * 40, D, f"nested deeper than {D} levels"),  # the "!" of level 33
        ("(" * D + "a" + ")" * D + " || " + "(" * (D + 1) + "a" + ")" * (D + 1), (2 * D + 1) + 4 + D,
         "nested deeper"),  # levels are counted where they are open, not in total
        (_alternating(D + 1), 6 * D, "nested deeper"),  # each level opens with "(a || " or "(a && "
        (_compared(D // 2 + 1), 7 * (D // 2), "nested deeper"),  # "!b == (" is 7 characters, 2 levels
        (" || ".join(["dd >= 5%"] * 5_000), ex.MAX_LENGTH, "59,996 characters long, over the limit of 4,096"),
        (" && ".join(["(dd >= 5%)"] * 5_000), ex.MAX_LENGTH, "over the limit of 4,096"),
        (" " * 5_000 + "a", ex.MAX_LENGTH, "5,001 characters"),
        (" || ".join(["a"] * (N + 1)), 5 * N, f"more than {N} operands"),  # the 257th, after 256 "a || "
        (" || ".join(["dd >= 5%"] * (N // 2 + 1)), 12 * (N // 2), f"more than {N} operands"),
    ],
    ids=["200 parentheses", "1,200 !", "40 !(", "two groups, the second too deep", "alternating && ||",
         "negated comparisons", "5,000-term || chain", "5,000-term && chain", "5,000 spaces", "257 names",
         "129 comparisons"],
)
def test_a_condition_past_a_bound_is_refused_where_it_crosses_it(text, offset, message):
    with pytest.raises(ex.ExprError) as e:
        parse(text)
    assert (e.value.kind, e.value.offset) == ("limit", offset)
    assert message in e.value.message and e.value.hint


@pytest.mark.parametrize("text", ["not " * 1_200 + "(a)", "a" + " ||" * 1_200, "(" * 1_200])
def test_other_long_conditions_are_syntax_errors_not_crashes(text):
    with pytest.raises(ex.ExprError) as e:
        parse(text)
    assert e.value.kind in ("syntax", "limit")


AT_THE_BOUNDS = {
    "32 parentheses": "(" * D + "dd >= 5%" + ")" * D,
    "32 !": "!" * D + "a",
    "32 ! before a comparison": "!" * D + "dd >= 5%",
    "16 !(": "!(" * (D // 2) + "a" + ")" * (D // 2),
    "alternating && || 32 deep": _alternating(D),
    "16 negated comparisons": _compared(D // 2),
    "256 names": " || ".join(["a"] * N),
    "128 comparisons": " && ".join(["dd >= 5%"] * (N // 2)),
    "4,096 characters": "a ||" + " " * (ex.MAX_LENGTH - 6) + " b",
}
# Frames a condition at the bounds may take above its caller, for everything that walks it: the
# worst above takes about 175. The default limit is 1,000: callers keep the rest.
HEADROOM = 400


@pytest.mark.parametrize("text", AT_THE_BOUNDS.values(), ids=AT_THE_BOUNDS.keys())
def test_a_condition_at_the_bounds_goes_through_everything_that_walks_it_within_the_headroom(text):
    import inspect
    import sys

    def everything() -> object:
        node = parse(text)
        check_types(node, BOOLS)
        ex.refs(node), comparisons(node), ex.disjunct_thresholds(node)
        canon = ex.canonical(node)
        again = parse_canonical(canon)  # what node_build reads of a position condition
        assert ex.canonical(again) == canon
        pred = compile_predicate(again)
        return [pred({"a": x, "b": not x, "dd": 0.1 if x else None}) for x in (True, False)]

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + HEADROOM)
    try:
        results = everything()
    finally:
        sys.setrecursionlimit(limit)
    assert results == everything()  # the same, with the whole stack


@pytest.mark.parametrize(
    "text,other",
    [
        ("(a && b) == a", "a && (b == a)"),  # the canonical text used to drop the parentheses: same digest
        ("(a || b) != a", "a || (b != a)"),
        ("(dd >= 5%) == (dd_1h >= 5%)", None),  # its canonical text used to be a chained comparison
        ("a == (b == a)", None),
        ("(!a) == b", None),
        ("!a == b", None),  # "!" binds looser than ==: !(a == b)
    ],
)
def test_the_canonical_text_reads_back_as_the_same_condition(text, other):
    node = parse(text)
    canon = ex.canonical(node)
    assert ex.canonical(parse(canon)) == canon
    pred, back = compile_predicate(node), compile_predicate(parse(canon))
    rows = [{"a": a, "b": b, "dd": dd, "dd_1h": 0.05} for a in (True, False) for b in (True, False) for dd in (0, 1)]
    assert [pred(r) for r in rows] == [back(r) for r in rows]
    if other is not None:  # a condition that means something else has another canonical text
        assert ex.canonical(parse(other)) != canon
        assert [pred(r) for r in rows] != [compile_predicate(parse(other))(r) for r in rows]


@pytest.mark.parametrize("text, offset, message", [
    ("stale > " + "9" * 400 + "s", 8, "is longer than 3650d (ten years)"),  # was an OverflowError
    ("dd >= " + "9" * 400 + "%", 6, "is too large"),  # was a float's infinity
    ("positions > " + "9" * 400, 12, "is too large"),  # a threshold of infinity: never crossed
    ("a || positions < -1000000000000000", 17, "is too large"),
    ("stale > 0.0001ms", 8, "is finer than a millisecond"),  # was the units' error, raised through parse
])
def test_a_number_past_the_units_bounds_is_a_syntax_error_at_the_number(text, offset, message):
    with pytest.raises(ex.ExprError) as e:
        parse(text)
    assert (e.value.kind, e.value.offset) == ("syntax", offset)
    assert message in e.value.message and e.value.hint and len(e.value.message) < 100


def test_numbers_just_inside_the_bounds_parse():
    parse("stale > 3650d && positions > 999999999999999 && dd >= 99999999999999%")
