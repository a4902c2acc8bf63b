"""The lists other layers keep of kinds are the catalogue's flags: what a firm-wide policy may read
and do (compile.shards, an entry's ``firm``), and what the engine reads from its shared pass over
the positions (an entry's ``position_aggregate``). Each is pinned here to the kinds it held
as a list of names, so a flag dropped or set on the wrong entry shows."""

from __future__ import annotations

from killswitch.compile.shards import FIRM_ACTIONS, FIRM_SIGNALS
from killswitch.policy.actions import ACTIONS
from killswitch.policy.asked import asked
from killswitch.policy.signals import SIGNALS


def test_a_firm_wide_policy_reads_the_signals_the_facts_carry():
    assert FIRM_SIGNALS == ("equity_drawdown", "equity_change", "data_age")


def test_a_firm_wide_policy_does_what_every_shard_carries_out_on_its_accounts():
    assert FIRM_ACTIONS == ("cancel_orders", "close_all", "lock_trading", "notify", "runbook")
    # the firm's directives carry out what each asks (killswitch.policy.asked: reading no position):
    # a cancel, a close of every position, a lock; a notification and a runbook render
    asks = {name: k.plan and asked(k.plan, k.build(k.model.model_construct())) for name, k in ACTIONS.items()
            if k.firm and k.build is not None and name != "notify" and name != "runbook"}
    assert [name for name, got in asks.items() if got.cancels] == ["cancel_orders"]
    assert [name for name, got in asks.items() if got.closes_all] == ["close_all"]
    assert [name for name, got in asks.items() if got.locks] == ["lock_trading"]


def test_the_engine_reads_the_position_aggregates_of_these_kinds():
    # read from the shared pass over the positions, each through KindInputs.position_aggregates
    assert {name for name, k in SIGNALS.items() if k.position_aggregate} == {
        "position_loss", "liquidation_distance", "gross_exposure", "net_exposure", "leverage", "concentration"}

