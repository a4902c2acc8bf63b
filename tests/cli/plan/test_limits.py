"""``ksctl plan`` and the policies' pre-trade limits: what the live book and its open orders break
already, listed in every format, and a ``limits.symbols`` entry on a symbol the venue does not
list, KS267 at its line (live: the venues' symbol lists are read with the snapshots)."""

from __future__ import annotations

import json

from killswitch.cli.plan import EXIT_ERROR, EXIT_NO_CHANGES
from tests.cli.plan.test_previews import armed_from_the_start, live, stdout_of

# sim-main (one-way): BTC long 5 (≈300k), ETH long 100 (≈300k), SOL short 1000 (≈140k)
# sim-hedge: BTC LONG 2 / SHORT 4, ETH LONG 30 / SHORT 80 (≤ 240k a leg)
LIMITS = """\
  limits:
    max_position_notional: 250k
    symbols:
      BTC/USDT:USDT: {max_position_notional: 400k}
"""


def with_limits(tmp_path, limits=LIMITS):
    f = armed_from_the_start(tmp_path)
    f.write_text(f.read_text() + limits)
    return f


def test_a_live_plan_lists_the_positions_over_their_limit(tmp_path):
    r = live(tmp_path, "--detailed-exitcode", policies=with_limits(tmp_path))
    assert r.exit_code == EXIT_NO_CHANGES, r.output  # a breach is no action: the exit code is the plan's
    out = stdout_of(r)
    assert "Limits the book breaks now (1):" in out, out
    assert ("  ! futures-book binanceusdm/sim-main: POSITION_LIMIT: position in ETH/USDT:USDT is " in out), out
    assert "> limit 250,000.00" in out
    assert "BTC/USDT:USDT is" not in out  # BTC's own limit (400k) holds its ≈300k
    doc = json.loads(stdout_of(live(tmp_path, "-o", "json", policies=with_limits(tmp_path))))
    [b] = doc["limit_breaches"]
    assert b["code"] == "POSITION_LIMIT" and b["symbol"] == "ETH/USDT:USDT" and b["value"] == 250_000
    assert 290_000 < b["usage"] < 310_000 and b["account"] == "binanceusdm/sim-main" and b["order_id"] is None
    md = stdout_of(live(tmp_path, "-o", "markdown", policies=with_limits(tmp_path)))
    assert "Limits the book breaks now (1):" in md and "- futures-book binanceusdm/sim-main: POSITION\\_LIMIT" in md


def test_a_live_plan_within_the_limits_says_so(tmp_path):
    r = live(tmp_path, policies=with_limits(tmp_path, "  limits: {max_position_notional: 1M}\n"))
    assert r.exit_code == EXIT_NO_CHANGES, r.output
    assert "Limits: the book breaks none of the policies' pre-trade limits." in stdout_of(r)


def test_a_plan_of_policies_without_limits_says_nothing_of_them(tmp_path):
    r = live(tmp_path, "-o", "json", policies=armed_from_the_start(tmp_path))
    assert "limit_breaches" not in json.loads(stdout_of(r))


def test_a_limit_on_a_symbol_the_venue_does_not_list_is_ks262_at_its_line(tmp_path):
    policy = with_limits(tmp_path, LIMITS + "      BTC/USDT: {max_position_notional: 1M}\n")
    r = live(tmp_path, policies=policy)
    assert r.exit_code == EXIT_ERROR, r.output
    line = len(policy.read_text().splitlines())
    assert (f'{policy}:{line}:7: error[KS267]: policy "futures-book": limits.symbols names "BTC/USDT", which no '
            "venue the policy selects lists") in r.output, r.output
    assert 'hint: did you mean "BTC/USDT:USDT"?' in r.output
