"""Arithmetic in conditions: CEL's precedence, the unit rules as a table, evaluation by hand, the
canonical text, and every mistake of a condition said in one pass."""

from __future__ import annotations

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy import expr as ex
from killswitch.policy.expr import ValueType as T
from killswitch.policy.expr.check import check_types, type_errors
from killswitch.policy.expr.eval import comparisons, compile_predicate, numeric
from killswitch.policy.expr.parse import parse, parse_canonical
from killswitch.policy.load import load_text
from killswitch.policy.positions import ConditionError, parse_condition

TYPES = {"dd": T.RATIO, "dd_1h": T.RATIO, "vol": T.RATIO, "var_99": T.RATIO, "loss": T.RATIO,
         "stale": T.DURATION, "lat": T.DURATION, "lev": T.NUMBER, "n": T.NUMBER, "ok": T.BOOL}


def value(text, **values):
    node = parse(text)
    return numeric(node)(values)


@pytest.mark.parametrize("text, values, expected", [
    ("1 + 2 * 3", {}, 7.0),                    # * binds tighter than +
    ("(1 + 2) * 3", {}, 9.0),
    ("10 - 4 - 3", {}, 3.0),                   # left to right
    ("12 / 3 / 2", {}, 2.0),
    ("-n * 2", {"n": 3.0}, -6.0),              # unary minus binds tightest
    ("2 * -n", {"n": 3.0}, -6.0),
    ("--n", {"n": 3.0}, 3.0),
    ("max(4.5%, 3 * vol)", {"vol": 0.01}, 0.045),
    ("max(4.5%, 3 * vol)", {"vol": 0.02}, 0.06),
    ("min(10%, dd, dd_1h)", {"dd": 0.04, "dd_1h": 0.07}, 0.04),
    ("abs(n - 5)", {"n": 3.0}, 2.0),
    ("0.5 * var_99", {"var_99": 0.08}, 0.04),
    ("dd / vol", {"dd": 0.06, "vol": 0.02}, 3.0),
    ("1h - 30m", {}, 1800.0),
])
def test_arithmetic_evaluates_in_cels_precedence(text, values, expected):
    assert value(text, **values) == pytest.approx(expected)


@pytest.mark.parametrize("text, values", [
    ("dd / vol", {"dd": 0.05, "vol": 0.0}),        # a divisor 0 at this tick
    ("max(4.5%, 3 * vol)", {}),                    # a signal without a value
    ("n * n", {"n": 1e200}),                       # past a float: inf
    ("n * n - n * n", {"n": 1e200}),               # inf - inf: not a NaN compared as false
])
def test_arithmetic_without_a_value_is_unknown(text, values):
    assert value(text, **values) is None


@pytest.mark.parametrize("when, values, expected", [
    ("dd >= max(4.5%, 3 * vol)", {"dd": 0.05, "vol": 0.01}, True),
    ("dd >= max(4.5%, 3 * vol)", {"dd": 0.05, "vol": 0.02}, False),
    ("dd >= max(4.5%, 3 * vol)", {"dd": 0.06, "vol": 0.02}, True),      # inclusive at the threshold
    ("dd >= dd_1h / vol * 1%", {"dd": 0.05, "dd_1h": 0.05, "vol": 0.0}, None),  # 0 divisor: unknown
    ("dd >= dd_1h / vol * 1% || ok", {"dd": 0.05, "dd_1h": 0.05, "vol": 0.0, "ok": True}, True),
    ("dd >= dd_1h / vol * 1% && ok", {"dd": 0.05, "dd_1h": 0.05, "vol": 0.0, "ok": False}, False),
    ("!(dd >= 3 * vol)", {"dd": 0.05, "vol": 0.02}, True),
    ("loss >= 0.5 * var_99", {"loss": 0.04, "var_99": 0.08}, True),
    ("lev - 3 > 0", {"lev": 3.5}, True),
    ("day <= -8%", {"day": -0.09}, True),
])
def test_conditions_with_arithmetic_are_three_valued(when, values, expected):
    types = {**TYPES, "day": T.RATIO}
    node = parse(when)
    check_types(node, types)
    assert compile_predicate(node)(values) is expected


# The unit rules, one row each: the condition, and None (accepted) or (kind, offset of the mistake).
UNIT_TABLE = [
    # a ratio times a plain number is a ratio; a plain number times a ratio too
    ("dd >= 3 * vol", None),
    ("dd >= vol * 3", None),
    ("dd >= 3 * 1.5%", None),                       # a constant threshold computed from literals
    ("dd >= max(4.5%, 3 * vol)", None),
    ("loss >= 0.5 * var_99", None),
    ("dd >= vol / 2", None),                        # a ratio over a plain number: a ratio
    ("dd / vol >= 3", None),                        # a ratio over a ratio: a plain number
    ("dd - dd_1h >= 1%", None),
    ("stale > 2 * lat", None),
    ("stale - lat > 30s", None),
    ("lev >= abs(n) + 1", None),
    ("dd >= -vol", None),
    ("ok == (dd >= 3 * vol)", None),
    # a ratio and a duration do not add, take a max, or compare
    ("dd >= 4.5% + stale", ("unit", 11)),      # at the "+"
    ("dd >= max(4.5%, stale)", ("unit", 16)),
    ("dd >= 3 * stale", ("unit", 3)),
    # a ratio times a ratio is a ratio², which compares with no ratio
    ("dd >= vol * vol", ("unit", 3)),
    ("dd * dd >= 1%", ("unit", 8)),
    ("dd >= dd * dd / vol", None),                  # ratio² over a ratio: a ratio again
    # a bare number and a ratio do not add either: 1 + vol could mean 100% or 1%
    ("dd >= 1 + vol", ("unit", 8)),
    ("dd / vol >= 3%", ("unit", 9)),                  # a plain number compared with a ratio
    # a division by a constant 0
    ("dd >= vol / 0", ("zero", 12)),
    ("dd >= vol / 0%", ("zero", 12)),
    ("dd >= vol / (1 - 1)", ("zero", 13)),
    # functions: unknown, or given the wrong count of values
    ("dd >= maxx(4.5%, vol)", ("function", 6)),
    ("dd >= max(4.5%)", ("arity", 6)),
    ("dd >= abs(vol, dd)", ("arity", 6)),
    ("dd >= max()", ("arity", 6)),
    # arithmetic on a condition, a condition that is a number, two constants
    ("dd >= 3 * ok", ("type", 10)),
    ("3 * vol", ("type", 0)),
    ("3 * 1% >= 2%", ("type", 7)),
    # plain comparisons keep their own rule
    ("dd >= 60s", ("type", 6)),
    ("dd >= 0.045", ("type", 6)),
]


@pytest.mark.parametrize("when, expected", UNIT_TABLE, ids=[w for w, _ in UNIT_TABLE])
def test_the_unit_table(when, expected):
    errors = type_errors(parse(when), TYPES)
    if expected is None:
        assert errors == []
    else:
        assert [(e.kind, e.offset) for e in errors][:1] == [expected], [e.message for e in errors]
        assert errors[0].hint  # every mistake says what to write instead


def test_the_messages_name_the_units_and_what_to_write():
    [e] = type_errors(parse("dd >= vol * vol"), TYPES)
    assert e.message == "cannot compare a ratio with a ratio²"
    assert "multiply a ratio by a plain number (3 * vol_1h)" in e.hint
    [e] = type_errors(parse("dd >= 4.5% + stale"), TYPES)
    assert e.message == "cannot add a duration to a ratio"
    [e] = type_errors(parse("dd >= maxx(4.5%, vol)"), TYPES)
    assert e.message == 'unknown function "maxx"' and e.hint.startswith('did you mean "max"?')
    [e] = type_errors(parse("dd >= 1 + vol"), TYPES)
    assert "1 read as a fraction is 100%" in e.hint


def test_every_mistake_of_a_condition_is_said_once_in_one_pass():
    errors = type_errors(parse("dd >= maxx(4.5%, 3 * vl) || dd >= vol / 0 || stale >= 1% + stale"), TYPES)
    assert [(e.kind, e.offset) for e in errors] == [("unknown", 21), ("function", 6), ("zero", 40),
                                                    ("unit", 57)]
    # a mistake inside a value makes its unit unknown: nothing around it is said again
    assert [e.kind for e in type_errors(parse("dd >= 3 * maxx(vol) + stale"), TYPES)] == ["function"]


@pytest.mark.parametrize("text, canon", [
    ("dd>=max(4.5%,3*vol)", "dd >= max(4.5%, 3 * vol)"),
    ("dd >= 3*vol+1%", "dd >= 3 * vol + 1%"),
    ("dd >= 3*(vol+1%)", "dd >= 3 * (vol + 1%)"),
    ("dd >= (dd_1h - vol) - 1%", "dd >= (dd_1h - vol) - 1%"),
    ("dd >= dd_1h - (vol - 1%)", "dd >= dd_1h - (vol - 1%)"),
    ("dd >= - vol", "dd >= -vol"),
    ("dd >= -(4.5%)", "dd >= -(4.5%)"),
    ("dd >= --4.5%", "dd >= -(-4.5%)"),
    ("day <= - 8%", "day <= -8%"),                 # a minus before a number is the number's sign
    ("day<=-8%", "day <= -8%"),                    # as before arithmetic: the digest is unchanged
])
def test_the_canonical_text_reads_back_as_the_same_tree(text, canon):
    node = parse(text)
    assert ex.canonical(node) == canon
    assert parse_canonical(canon) == parse(canon)
    assert ex.canonical(parse(canon)) == canon
    rows = [{"dd": 0.05, "dd_1h": 0.06, "vol": 0.01, "day": -0.1}, {"dd": 0.01, "dd_1h": 0.0, "vol": 0.03,
                                                                     "day": 0.0}]
    pred, back = compile_predicate(node), compile_predicate(parse(canon))
    assert [pred(r) for r in rows] == [back(r) for r in rows]


def test_a_comparison_names_its_computed_threshold_and_its_value_at_a_tick():
    [c] = comparisons(parse("max(4.5%, 3 * vol) <= dd"))  # mirrored: the signal on the left
    assert (c.signal, c.op, c.threshold, c.text, c.reads, c.computed) == \
        ("dd", ">=", None, "max(4.5%, 3 * vol)", ("vol",), True)
    assert c.threshold_at({"vol": 0.02}) == pytest.approx(0.06) and c.threshold_at({}) is None
    assert c.other is None
    lit, other = comparisons(parse("dd >= 4.5% || dd >= dd_1h"))
    assert (lit.computed, lit.threshold_at({}), other.other, other.threshold_at({"dd_1h": 0.1})) == \
        (False, 0.045, "dd_1h", 0.1)


@pytest.mark.parametrize("text", [
    "-" * 33 + "n",                      # a run of unary minus: each a level
    "max(" * 33 + "n" + ")" * 33,        # a call's parenthesis: a level
])
def test_arithmetic_stays_within_the_depth_bound(text):
    with pytest.raises(ex.ExprError) as e:
        parse(f"lev >= {text}")
    assert e.value.kind == "limit"


def test_a_long_flat_sum_costs_no_recursion():
    text = "lev >= " + " + ".join(["n"] * 250)
    node = parse(text)
    check_types(node, TYPES)
    assert compile_predicate(node)({"lev": 250.0, "n": 1.0}) is True
    assert parse_canonical(ex.canonical(node)) == node


@pytest.mark.parametrize("where, ok", [
    ("loss_on_notional >= 2 * liquidation_distance", True),
    ("loss_on_notional >= max(5%, liquidation_distance / 2)", True),
    ("notional >= 10 * loss_on_margin", False),    # a number compared with a ratio
    ("loss_on_margin >= maxx(10%, loss_on_notional)", False),
])
def test_position_conditions_take_the_same_arithmetic(where, ok):
    if ok:
        parse_condition(where)
    else:
        with pytest.raises(ConditionError):
            parse_condition(where)


POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: p}}
spec:
  signals:
    dd_15m: {{equity_drawdown: {{window: 15m}}}}
    vol_1h: {{realized_volatility: {{window: 1h}}}}
    stale: {{data_age: {{}}}}
  triggers:
    soft:
      when: {when}
      on_missing_data: hold
  stages:
    - {{level: 1, name: cut, on: [soft], actions: [close_all]}}
"""


@pytest.mark.parametrize("when, codes", [
    ("dd_15m >= max(4.5%, 3 * vol_1h)", []),
    ("dd_15m >= 4.5% + stale", [("KS124", 11, 28)]),
    ("dd_15m >= vol_1h * vol_1h", [("KS124", 11, 20)]),
    ("dd_15m >= vol_1h / 0", [("KS125", 11, 32)]),
    ("dd_15m >= maxx(4.5%, vol_1h)", [("KS126", 11, 23)]),
    ("dd_15m >= max(vol_1h)", [("KS127", 11, 23)]),
    ("dd_15m >= max(4.5%, 3 * vol_1hh) + stale_x", [("KS122", 11, 37), ("KS122", 11, 48)]),
])
def test_the_compiler_says_each_mistake_at_file_line_col_with_its_code(when, codes):
    result = compile_documents(load_text(POLICY.format(when=when), "p.yaml"), revision=None)
    assert [(x.code, x.pos.line, x.pos.col) for x in result.errors] == codes
    assert all(x.hint for x in result.errors)


@pytest.mark.parametrize("cond", ["hb > 3 / min_()", "hb > 1 / max()", "hb > 2 / abs(1, 2)",
                                  "hb > 1 / (maxx(hb)) / min_()"])
def test_a_call_the_check_refuses_has_no_value_in_a_divisors_constant_fold(cond):
    # a fuzzed policy crashed the compiler here (max() of no values) before it could say why
    from killswitch.compile.compiler import compile_documents
    from killswitch.policy.load import load_text

    text = ("apiVersion: killswitch/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n"
            "  scope: {level: account, allow_empty: true}\n  interval: 5s\n"
            "  signals:\n    hb: {heartbeat_age: {source: strategy-a, grace: 10m}}\n"
            f"  triggers:\n    t: {{when: \"{cond}\", on_missing_data: fire}}\n"
            "  stages:\n    - {level: 1, name: s, on: [t], reset: manual, actions: [close_all]}\n")
    codes = {d.code for d in compile_documents(load_text(text, "p.yaml")).diagnostics}
    assert codes & {"KS126", "KS127"}, codes
