"""An account's strategies as names or as a client order id prefix map (the Accounts document),
and the strategy the adapters read off an order's client id."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from killswitch.attribution import strategy_of
from killswitch.policy.accounts_doc import Account


def account(strategies) -> Account:
    return Account.model_validate({"name": "main", "venue": "binanceusdm", "market_type": "futures",
                                   "strategies": strategies})


def test_both_forms_are_valid_and_name_the_strategies():
    acc = account(["gamma", {"name": "alpha", "client_id_prefixes": ["a1-", "alp-"]}])
    assert acc.strategy_names() == ["gamma", "alpha"]
    assert acc.client_id_prefixes() == {"gamma": "gamma", "a1-": "alpha", "alp-": "alpha"}


@pytest.mark.parametrize("bad", [
    [{"name": "alpha"}],  # no prefixes
    [{"name": "alpha", "client_id_prefixes": []}],
    [{"name": "alpha", "client_id_prefixes": [""]}],
    [{"name": "alpha", "client_id_prefixes": ["a-"], "extra": 1}],
])
def test_an_entry_without_prefixes_or_with_an_unknown_key_is_refused(bad):
    with pytest.raises(ValidationError):
        account(bad)


@pytest.mark.parametrize("client_id, want", [
    ("a1-778", "alpha"),
    ("alp-1", "alpha"),
    ("gamma-17", "gamma"),
    ("gamma", "gamma"),
    ("gammaray-1", None),  # a bare name is followed by a separator
    ("a1x", None),
    ("ks0123", None),
    (None, None),
    ("", None),
])
def test_the_prefix_map_names_the_strategy_of_a_client_id(client_id, want):
    prefixes = account(["gamma", {"name": "alpha", "client_id_prefixes": ["a1-", "alp-"]}]).client_id_prefixes()
    assert strategy_of(client_id, prefixes) == want


def test_the_longest_prefix_wins_and_the_names_form_still_reads():
    assert strategy_of("a1-b-9", {"a1-": "alpha", "a1-b-": "beta"}) == "beta"
    assert strategy_of("alpha-17", ["alpha", "alp"]) == "alpha"
    assert strategy_of("alp_3", ["alpha", "alp"]) == "alp"
