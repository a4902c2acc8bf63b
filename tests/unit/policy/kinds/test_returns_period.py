"""A returns kind's period (``sample`` of realized_volatility, ``horizon`` of the tail kinds) is
longer than 0s, said at the field that is not (killswitch/policy/kinds/_returns.py, ReturnsWindow)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from killswitch.policy.signals import SIGNALS


@pytest.mark.parametrize("kind, period", [("realized_volatility", "sample"), ("value_at_risk", "horizon"),
                                          ("expected_shortfall", "horizon")])
def test_a_return_over_no_time_is_refused_at_its_field(kind, period):
    model = SIGNALS[kind].model
    assert getattr(model.model_validate({"window": "1h", period: "5m"}), period).ms == 300_000
    with pytest.raises(ValidationError) as e:
        model.model_validate({"window": "1h", period: "0s"})
    [err] = e.value.errors()
    assert err["loc"] == (period,) and err["msg"] == f"{period} must be longer than 0s"
