"""The console's positions rows (face/console/positions_model.py): figures as a reader takes them."""

from __future__ import annotations

from killswitch.face.console.positions_model import _row
from killswitch.view import PositionRow


def row(liq, mark):
    return PositionRow("BTC/USDT:USDT", "long", None, 1.0, mark, mark, 0.0, liq, 0.5, None, None, None, 0)


def test_a_liquidation_price_is_shown_at_the_marks_decimals_not_the_venues_eight():
    assert _row("binanceusdm/main", row(27431.33742857, 60011.4))["liq_price"] == "27,431.34"
    assert _row("binanceusdm/main", row(0.0812345678, 0.1234))["liq_price"] == "0.0812"
    assert _row("binanceusdm/main", row(327.0612, 140.0))["liq_price"] == "327.06"
    assert _row("binanceusdm/main", row(None, 140.0))["liq_price"] == "-"
