from decimal import Decimal

import pytest

from killswitch.policy.units import (
    Duration,
    UnitError,
    parse_amount,
    parse_confirmation,
    parse_duration,
    parse_ratio,
)


@pytest.mark.parametrize(
    "text,ms",
    [("30s", 30_000), ("15m", 900_000), ("1h", 3_600_000), ("1h30m", 5_400_000), ("500ms", 500),
     ("2d", 172_800_000), ("1.5s", 1500), (" 90m ", 5_400_000), (0, 0), ("0s", 0)],
)
def test_duration_parses(text, ms):
    assert parse_duration(text).ms == ms


@pytest.mark.parametrize("bad", ["30", 30, "15 minutes", "1h 2x", "-5s", "", "s", True, None, [1], "0.0001ms"])
def test_duration_rejects(bad):
    with pytest.raises(UnitError) as e:
        parse_duration(bad)
    assert e.value.kind == "duration"


def test_duration_canonical_text_is_shared_by_equal_spans():
    assert str(parse_duration("90m")) == str(parse_duration("1h30m")) == "1h30m"
    assert str(Duration(0)) == "0s"


@pytest.mark.parametrize(
    "value,exact",
    [("4.5%", "0.045"), ("100%", "1"), ("-8%", "-0.08"), (0.8, "0.8"), (1, "1"), (0, "0"), ("0.5 %", "0.005")],
)
def test_ratio_parses(value, exact):
    assert parse_ratio(value).exact == Decimal(exact)


@pytest.mark.parametrize("bad", [50, 2, "50", "4.5 percent", True, None, -0.1])
def test_ratio_rejects_ambiguous_or_bad(bad):
    with pytest.raises(UnitError):
        parse_ratio(bad)


def test_ratio_without_fraction_rejects_bare_numbers():
    with pytest.raises(UnitError):
        parse_ratio(0.5, allow_fraction=False)


def test_ratio_text_is_canonical():
    assert str(parse_ratio("4.50%")) == "4.5%"
    assert str(parse_ratio(0.8)) == "80%"


@pytest.mark.parametrize(
    "value,exact",
    [(50000, "50000"), ("50_000", "50000"), ("50k", "50000"), ("1.5M", "1500000"), ("2b", "2000000000"), (0.5, "0.5")],
)
def test_amount_parses(value, exact):
    assert parse_amount(value).exact == Decimal(exact)


@pytest.mark.parametrize("bad", ["50,000", "fifty", "50kk", True, None, float("nan"), float("inf")])
def test_amount_rejects(bad):
    with pytest.raises(UnitError):
        parse_amount(bad)


def test_amount_comma_hint_says_commas_are_not_allowed():
    with pytest.raises(UnitError, match="commas"):
        parse_amount("50,000")


@pytest.mark.parametrize("text,ticks,ms", [("3 ticks", 3, None), ("1 tick", 1, None), ("2m", None, 120_000)])
def test_confirmation_parses(text, ticks, ms):
    c = parse_confirmation(text)
    assert c.ticks == ticks
    assert (c.duration.ms if c.duration else None) == ms


@pytest.mark.parametrize("bad", [3, "0 ticks", "three ticks", "3 tocks", None])
def test_confirmation_rejects(bad):
    with pytest.raises(UnitError):
        parse_confirmation(bad)


# --- bounds: a number of 400 digits overflowed a float (Duration.seconds: an internal error) --------

D400 = "9" * 400


@pytest.mark.parametrize("text", [D400 + "s", D400 + "ms", "3651d", "522w", "3650d1ms", "1" + "0" * 30 + "h"])
def test_a_duration_over_ten_years_is_refused_with_its_ends_shown(text):
    with pytest.raises(UnitError) as e:
        parse_duration(text)
    assert e.value.kind == "duration" and "is longer than 3650d (ten years)" in e.value.short
    assert len(e.value.short) < 100  # 400 digits are said by their ends and their count


def test_ten_years_is_a_duration_and_its_seconds_a_float():
    assert parse_duration("3650d").seconds == 3650 * 86_400.0
    assert parse_duration("520w").seconds == 520 * 604_800.0


@pytest.mark.parametrize("parse, value, kind", [
    (parse_ratio, D400 + "%", "percent"), (parse_ratio, "-1000000000000000%", "percent"),
    (parse_amount, D400, "amount"), (parse_amount, D400 + "k", "amount"), (parse_amount, int(D400), "amount"),
    (parse_amount, 1e300, "amount"), (parse_amount, "1000000000000k", "amount"),
])
def test_an_amount_or_a_percentage_of_16_digits_or_more_is_refused(parse, value, kind):
    with pytest.raises(UnitError) as e:
        parse(value)
    assert e.value.kind == kind and "is too large" in e.value.short and "10^15" in e.value.hint


def test_just_under_the_magnitude_bound_is_an_amount_and_a_float():
    assert parse_amount("999999999999999").value == 999_999_999_999_999.0
    assert parse_amount("999999999999.999k").value == 999_999_999_999_999.0


@pytest.mark.parametrize("text, said", [
    (D400 + " ticks", "is more than 1,000,000 ticks"), ("9" * 5000 + " ticks", "is more than 1,000,000 ticks"),
    ("1000001 ticks", "is more than 1,000,000 ticks"), (D400 + "ms", "is longer than 3650d"),
])
def test_a_confirmation_past_its_bound_says_which_bound(text, said):
    with pytest.raises(UnitError) as e:
        parse_confirmation(text)
    assert e.value.kind == "confirmation" and said in e.value.short, e.value.short


def test_a_million_ticks_and_leading_zeros_are_a_confirmation():
    assert parse_confirmation("1000000 ticks").ticks == 1_000_000
    assert parse_confirmation("0003 ticks").ticks == 3
