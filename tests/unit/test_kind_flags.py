"""The lists other layers keep of kinds are the catalogue's flags: what a firm-wide policy may read
and do (compile.shards, an entry's ``firm``), and what the engine reads from its shared pass over
the positions (engine.signals, ``position_aggregate``). Each is pinned here to the kinds it held
as a list of names, so a flag dropped or set on the wrong entry shows."""

from __future__ import annotations

from killswitch.compile.shards import FIRM_ACTIONS, FIRM_SIGNALS
from killswitch.engine.signals import POSITION_KINDS
from killswitch.policy.actions import ACTIONS


def test_a_firm_wide_policy_reads_the_signals_the_facts_carry():
    assert FIRM_SIGNALS == ("equity_drawdown", "equity_change", "data_age")


def test_a_firm_wide_policy_does_what_every_shard_carries_out_on_its_accounts():
    assert FIRM_ACTIONS == ("cancel_orders", "close_all", "lock_trading", "notify", "runbook")
    # of the kinds of their own module, those whose cancels and locks the firm's directives carry out
    # (killswitch.policy.asked: what they ask, reading no position); any other is planned per scope
    assert [name for name, k in ACTIONS.items() if k.firm and k.plan is not None] == ["cancel_orders", "lock_trading"]


def test_the_engine_reads_the_position_aggregates_of_these_kinds():
    assert POSITION_KINDS == {"position_loss", "liquidation_distance", "gross_exposure", "net_exposure",
                              "leverage", "concentration"}

