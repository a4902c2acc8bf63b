"""Issue 81, finding 7: the console's override dialog posted ``800k`` or ``1.5M`` as null
(``Number("800k")``), and the runner answered that ``raise_to`` goes with ``limit``: the wrong
field blamed for a value ``ksctl override request --raise-to 800k`` takes. Now the console sends
the text as typed and the API reads it by the CLI's one rule
(:func:`killswitch.policy.units.parse_limit_value`); what it cannot read is refused naming the
field and the limit. One table of cases is read by both, so they cannot drift apart."""

from __future__ import annotations

from typing import Any, Optional

import click
import pytest

from killswitch.cli.override import _amount
from killswitch.view import OverrideResult

from .rig import FakeView, run, serve

# what a person types, and the value it is (None: not a number, refused by both)
CASES: list[tuple[str, Optional[float]]] = [
    ("800k", 800_000.0),
    ("1.5M", 1_500_000.0),
    ("200000", 200_000.0),
    ("50_000", 50_000.0),
    (" 200k ", 200_000.0),
    ("2b", 2_000_000_000.0),
    ("7%", 0.07),
    ("0.5", 0.5),
    ("1.5X", None),
    ("1,000", None),
    ("1e5", None),
    ("k", None),
    ("", None),
]
LIMIT = "max_order_notional"
BODY = {"scope": "binanceusdm/main", "limit": LIMIT, "reason_code": "BLOCK_TRADE", "reason": "agreed with risk",
        "expires_s": 1800}


class OverrideView(FakeView):
    def override_request(self, scope: str, kind: str, reason_code: str, reason: str, expires_s: float, *,
                         actor: str, strategy: Optional[str] = None, limit: Optional[str] = None,
                         raise_to: Optional[float] = None, order: Optional[str] = None) -> OverrideResult:
        self._record("override_request", kind, limit, raise_to)
        return OverrideResult(True, f"OVERRIDE_REQUESTED: raise {limit} to {raise_to:g}")


def _post(raise_to: Any) -> tuple[int, dict, list]:
    async def main():
        async with serve(OverrideView()) as c:
            status, answer, _ = await c.post("/v1/overrides", {**BODY, "raise_to": raise_to})
            return status, answer, c.view.calls
    return run(main())


def _cli(text: str) -> Optional[float]:
    try:
        return _amount(text)
    except click.BadParameter:
        return None


@pytest.mark.parametrize(("text", "value"), CASES, ids=[repr(t) for t, _ in CASES])
def test_the_api_reads_raise_to_as_the_cli_reads_it(text, value):
    assert _cli(text) == value, "the CLI's --raise-to"
    status, answer, calls = _post(text)
    if value is None:
        assert status == 400 and answer["error"] == "BAD_REQUEST", answer
        assert answer["reason"] == (f"BAD_REQUEST: raise_to for {LIMIT}: cannot read {text!r} as a number; "
                                    "write it like 200000, 200k, 1.5M or 7%"), answer
        assert calls == []
    else:
        assert status == 200 and calls == [("override_request", ("raise", LIMIT, value))], (answer, calls)


@pytest.mark.parametrize(("raise_to", "said"), [
    (None, f"raise_to for {LIMIT}: a value is needed"),  # what the console sent for 800k before
    (0, f"raise_to for {LIMIT}: must be a finite number above 0, not 0"),
    ("-5k", f"raise_to for {LIMIT}: must be a finite number above 0, not -5000.0"),
    (True, f"raise_to for {LIMIT}: must be a finite number above 0, not True"),
    ("9" * 20 + "b", f"raise_to for {LIMIT}: '{'9' * 20}b' is too large"),
])
def test_a_raise_to_refused_names_the_field_and_the_limit(raise_to, said):
    status, answer, calls = _post(raise_to)
    assert status == 400 and answer["reason"].startswith("BAD_REQUEST: " + said), answer
    assert calls == []


def test_a_number_is_still_read_as_a_number():
    status, _, calls = _post(250_000)
    assert status == 200 and calls == [("override_request", ("raise", LIMIT, 250_000.0))], calls
