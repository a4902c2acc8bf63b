"""An account's rate_tier (KS225, KS226): checked against its venue's dialect's tiers at validate, and
an account on a venue with tiers that names none paced at the lowest and said so at start."""

from __future__ import annotations

import asyncio
import logging

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.compile.venue_weights import declared_costs, venue_rate_tiers
from killswitch.policy.accounts_doc import Account
from killswitch.policy.load import load_text

CREDS = {"api_key": {"env": "KS_T_KEY"}, "secret": {"env": "KS_T_SECRET"}}


def findings(accounts: str) -> list[str]:
    text = ("apiVersion: killswitch/v1\nkind: Accounts\nmetadata: {name: a}\nspec:\n  dry_run: true\n"
            "  accounts:\n" + accounts)
    result = compile_documents(load_text(text, "accounts.yaml"))
    return [f"{x.location()}: {x.severity.value}[{x.code}]: {x.message}\n  hint: {x.hint}" for x in result.diagnostics]


def test_a_misspelled_tier_is_refused_at_the_field_with_the_closest():
    got = findings("    - {name: k, venue: kraken, market_type: spot,\n       rate_tier: Intermedaite}\n")
    assert got == ['accounts.yaml:8:19: error[KS225]: account "k": venue "kraken" has no rate tier "Intermedaite"\n'
                   "  hint: did you mean \"Intermediate\"? kraken's tiers: Starter, Intermediate, Pro"]


def test_a_tier_on_a_venue_without_tiers_is_refused():
    got = findings("    - {name: b, venue: bybit, market_type: futures, rate_tier: Pro}\n")
    assert got == ['accounts.yaml:7:64: error[KS225]: account "b": venue "bybit" has no rate tiers: its limits are '
                   "every account's\n  hint: remove rate_tier; venues with tiers: kraken (Starter, Intermediate, Pro)"]


def test_a_kraken_account_naming_no_tier_is_warned_once_and_a_named_one_not():
    got = findings("    - {name: k, venue: kraken, market_type: spot}\n"
                   "    - {name: p, venue: kraken, market_type: spot, rate_tier: Pro}\n")
    assert len(got) == 1 and got[0].startswith(
        'accounts.yaml:7:24: warning[KS226]: account "k": no rate_tier: kraken is paced as a Starter key, the '
        "lowest of its tiers (Starter, Intermediate, Pro)"), got


@pytest.mark.parametrize(("tier", "per_minute"), [(None, 9.9), ("Starter", 9.9), ("Intermediate", 15.0),
                                                  ("Pro", 30.0)])
def test_the_weight_budget_of_a_kraken_account_is_its_tiers(tier, per_minute):
    """KS230's per-UID limit of the snapshot's reads: half what the tier's counter decays a minute."""
    acc = Account.model_validate({"name": "k", "venue": "kraken", "market_type": "spot", "rate_tier": tier})
    got = declared_costs(acc)
    assert got is not None
    assert got[1].endpoint_limits["POST /0/private/OpenOrders"] == (pytest.approx(per_minute), 60.0)
    assert venue_rate_tiers()["kraken"] == ("Starter", "Intermediate", "Pro")  # the lowest first


def test_an_account_naming_no_tier_is_paced_at_the_lowest_and_said_once_at_start(caplog, monkeypatch):
    from adapters.venues.kraken.dialect import COUNTER_TIERS
    from killswitch.process.bootstrap import ccxt_adapters

    monkeypatch.setenv("KS_T_KEY", "k")
    monkeypatch.setenv("KS_T_SECRET", "c2VjcmV0")
    caplog.set_level(logging.WARNING, logger="killswitch.runner")
    accounts = [Account.model_validate({"name": n, "venue": "kraken", "market_type": "spot", "credentials": CREDS,
                                        **extra}) for n, extra in (("s", {}), ("p", {"rate_tier": "Pro"}))]
    built = ccxt_adapters(accounts)
    try:
        starter, pro = built.by_key["kraken/s"], built.by_key["kraken/p"]
        assert starter._ex.throttle.capacity == pytest.approx(15 / 0.33)  # Starter's counter, in ccxt's cost
        assert pro._ex.throttle.capacity == pytest.approx(20 / 1.0)
        assert COUNTER_TIERS["Starter"] == (15.0, 0.33) and COUNTER_TIERS["Pro"] == (20.0, 1.0)  # Kraken's docs
    finally:
        asyncio.run(built.close())
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("RATE_TIER_ASSUMED:")]
    assert said == ["RATE_TIER_ASSUMED: kraken/s: no rate_tier: paced as a Starter key, the lowest of kraken's "
                    "tiers (Starter, Intermediate, Pro); set rate_tier to the account's own (KS226)"]


def test_a_kraken_account_over_its_uid_limit_unnamed_is_told_of_its_rate_tier():
    # unnamed, a key is paced (and budgeted) as Starter: its own tier may allow the polling
    text = ("apiVersion: killswitch/v1\nkind: Accounts\nmetadata: {name: a}\nspec:\n  accounts:\n"
            "    - {name: s, venue: kraken, market_type: spot}\n"
            "    - {name: n, venue: kraken, market_type: spot, rate_tier: Starter}\n")
    from killswitch.compile.venue_weights import declared_costs
    from killswitch.compile.weight_check import check_weight_budget

    docs = compile_documents(load_text(text, "accounts.yaml")).docs
    over = [x for x in check_weight_budget(docs, 5.0, declared_costs) if x.code == "KS230"]
    hints = {x.message.split('"')[1]: x.hint for x in over}
    assert set(hints) == {"s", "n"}, hints
    assert hints["s"].endswith("or name its key's rate_tier (Starter, Intermediate, Pro): unnamed, it is paced as "
                               "Starter")
    assert "rate_tier" not in hints["n"]  # named: its tier is the one it has
