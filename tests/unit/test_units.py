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
