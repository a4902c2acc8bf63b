import pytest

from killswitch.policy import expr as ex
from killswitch.policy.expr import ValueType as T

TYPES = {"dd": T.RATIO, "dd_1h": T.RATIO, "stale": T.DURATION, "lev": T.NUMBER, "chg": T.RATIO}


def run(text, **values):
    node = ex.parse(text)
    ex.check_types(node, TYPES)
    return ex.compile_predicate(node)(values)


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
        ex.check_types(ex.parse(text), TYPES)
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
    ],
)
def test_type_errors(text, kind, offset):
    with pytest.raises(ex.ExprError) as e:
        ex.check_types(ex.parse(text), TYPES)
    assert e.value.kind == kind
    assert e.value.offset == offset


def test_ratio_compared_with_bare_number_hints_at_percent():
    with pytest.raises(ex.ExprError) as e:
        ex.check_types(ex.parse("dd >= 4.5"), TYPES)
    assert "percentage" in e.value.hint


def test_canonical_text_ignores_spacing_and_unit_spelling():
    a = ex.canonical(ex.parse("dd>=4.50%||stale>1m"))
    b = ex.canonical(ex.parse("dd >= 4.5%   ||  stale > 60s"))
    assert a == b == "dd >= 4.5% || stale > 1m"


def test_refs_lists_every_signal_read():
    assert [r.name for r in ex.refs(ex.parse("dd >= 1% || (lev > 2 && !(stale < 5s))"))] == ["dd", "lev", "stale"]


def test_disjunct_thresholds_only_takes_simple_top_level_comparisons():
    ths = ex.disjunct_thresholds(ex.parse("dd >= 4.5% || 7% <= dd_1h || (lev > 2 && dd > 1%)"))
    assert [(t.signal, t.op, t.text) for t in ths] == [("dd", ">=", "4.5%"), ("dd_1h", ">=", "7%")]


@pytest.mark.parametrize("evil", ["__import__('os')", "dd.__class__", "dd[0]", "f(dd)", "dd >= 5% ; x", "`ls`"])
def test_nothing_python_like_parses(evil):
    with pytest.raises(ex.ExprError):
        ex.check_types(ex.parse(evil), TYPES)


BOOLS = {**TYPES, "a": T.BOOL, "b": T.BOOL}


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
    node = ex.parse(text)
    canon = ex.canonical(node)
    assert ex.canonical(ex.parse(canon)) == canon
    pred, back = ex.compile_predicate(node), ex.compile_predicate(ex.parse(canon))
    rows = [{"a": a, "b": b, "dd": dd, "dd_1h": 0.05} for a in (True, False) for b in (True, False) for dd in (0, 1)]
    assert [pred(r) for r in rows] == [back(r) for r in rows]
    if other is not None:  # a condition that means something else has another canonical text
        assert ex.canonical(ex.parse(other)) != canon
        assert [pred(r) for r in rows] != [ex.compile_predicate(ex.parse(other))(r) for r in rows]
