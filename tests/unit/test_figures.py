"""One number formatter for the console and ``ksctl status``: separators, no float noise, no
exponent for a million, a price on its market's tick where the tick is known."""

from __future__ import annotations

import pytest

from killswitch.figures import as_read, fees_text, figure, money, places, pnl_text


@pytest.mark.parametrize("x, step, shown", [
    (52611.594000000005, None, "52,611.594"),  # float noise gone
    (52611.594000000005, 0.1, "52,611.6"),  # on a 0.1 tick
    (140.0, 0.01, "140.00"),
    (61199.99999999999, 0.5, "61,200.0"),
    (1e6, None, "1,000,000"),  # never 1e+06
    (500000, None, "500,000"),  # never 500000 beside 1,000,000
    (0.00012345678, None, "0.00012345678"),
    (-2.5, None, "-2.5"),
    (-0.0, None, "0"),
    (-0.00000000000001, None, "0"),
    (5.0, None, "5"),
    (None, None, "-"),
    (1e16, None, "1.000e+16"),
    (float("nan"), None, "unknown"),
])
def test_a_figure_reads_one_way(x, step, shown):
    assert figure(x, step) == shown


def test_places_and_money():
    assert [places(s) for s in (0.1, 0.005, 1.0, 5e-05, 10.0)] == [1, 3, 0, 5, 0]
    assert money(1234567.891) == "1,234,567.89" and money(-0.001) == "0.00" and money(None) == "-"


def test_a_read_is_said_with_its_age_only_once_older_than_the_interval():
    now = 1_772_456_400_000
    assert as_read(now - 5_000, now, 5.0) is None  # a tick's read, the interval old: fresh
    assert as_read(now - 70_000, now, 5.0) == "as read 70 s ago"
    assert as_read(now - 70_000, now, 60.0) == "as read 70 s ago"
    assert as_read(now - 190_000, now, 60.0) == "as read 3m10s ago"
    assert as_read(None, now, 5.0) is None and as_read(now - 70_000, now, None) is None


def test_what_a_close_came_to_reads_not_reported_or_not_known_never_0():
    assert fees_text(((0.1200000001, "USDT"),)) == "0.12 USDT"
    assert fees_text(((0.1, "USDT"), (0.0002, "BNB"))) == "0.1 USDT + 0.0002 BNB"
    assert fees_text(((0.3, None),)) == "0.3"
    assert fees_text(()) == "not reported"  # the venue's answer carried no fee
    assert fees_text(None) == "not known"  # journaled before fees were
    assert pnl_text(976.0, "ETH/USDT:USDT") == "+976.00 USDT"
    assert pnl_text(-2029.2, "BTC/USDT:USDT") == "-2,029.20 USDT"
    assert pnl_text(0.001, "BTC/USDT:USDT") == "0.00 USDT"
    assert pnl_text(None, "BTC/USDT:USDT") == "not known"
