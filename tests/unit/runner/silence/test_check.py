"""A silence's values resolved against what the runner knows: every label that names something
(policy, scope, venue, account, strategy, symbol, incident) refused when it names nothing here,
with the close matches; an empty value (a page without the label) and a symbol list not read yet
refuse nothing."""

from __future__ import annotations

import pytest

from killswitch.policy.matchers import parse_matchers
from killswitch.runner.names import Catalog
from killswitch.runner.silence.check import value_problem

CATALOG = Catalog(accounts=frozenset({"binanceusdm/sim-main", "okx/desk"}),
                  strategies=frozenset({"momentum", "market-maker"}),
                  symbols={"binanceusdm/sim-main": frozenset({"BTC/USDT:USDT", "ETH/USDT:USDT"}),
                           "okx/desk": frozenset({"SOL/USDT:USDT"})},
                  policy_scopes={"futures-book": frozenset({"binanceusdm"})})
OPEN = {"futures-book/binanceusdm/L3/e1": ("futures-book", "binanceusdm", 3)}


def problem(text, catalog=CATALOG):
    return value_problem(parse_matchers(text), catalog, OPEN)


@pytest.mark.parametrize("text, start, near", [
    ("strategy=momentm", "UNKNOWN_STRATEGY: 'momentm' is not a strategy this runner knows", "'momentum'"),
    ("strategy=Market-Maker", "UNKNOWN_STRATEGY: 'Market-Maker'", "'market-maker'"),
    ("symbol=BTC/USDT", "UNKNOWN_SYMBOL: 'BTC/USDT' is not a symbol the venues of this runner list", "'BTC/USDT:USDT'"),
    ("symbol=eth/usdt:usdt", "UNKNOWN_SYMBOL: 'eth/usdt:usdt'", "'ETH/USDT:USDT'"),
    ("venue=binanceusd", "UNKNOWN_VENUE: 'binanceusd'", "'binanceusdm'"),
    ("account=desk", "UNKNOWN_ACCOUNT: 'desk'", "'okx/desk'"),
    ("account=dsek", "UNKNOWN_ACCOUNT: 'dsek'", "'okx/desk'"),  # a typo of the bare name
    ("policy=futures-book, scope=binanceusdm/sim-main", "UNKNOWN_SCOPE: 'binanceusdm/sim-main' is not a scope of "
                                                       "policy futures-book", "'binanceusdm'"),
])
def test_a_typo_in_a_value_is_refused_with_what_it_resembles(text, start, near):
    why = problem(text)
    assert why is not None and why.startswith(start), why
    assert f"did you mean {near}" in why and why.endswith("(a silence on it would hold back nothing)")


@pytest.mark.parametrize("text", ["strategy=momentum", "symbol=SOL/USDT:USDT", "venue=okx", "account=okx/desk",
                                  "policy=futures-book, scope=binanceusdm",
                                  # the empty match: a page without the label, as Alertmanager reads it
                                  "policy=futures-book, strategy=\"\"", "policy=futures-book, symbol=\"\"",
                                  "policy=futures-book, venue=\"\"",
                                  # patterns and negations name no one value
                                  "strategy=~mom.*", "symbol!=BTC/USDT:USDT"])
def test_a_value_the_runner_knows_and_the_empty_match_are_taken(text):
    assert problem(text) is None


def test_a_symbol_is_not_refused_before_every_venue_listed_its_markets():
    unread = Catalog(accounts=CATALOG.accounts, strategies=CATALOG.strategies,
                     symbols={**CATALOG.symbols, "okx/desk": None}, policy_scopes=CATALOG.policy_scopes)
    assert problem("symbol=DOGE/USDT:USDT", unread) is None
    assert problem("symbol=DOGE/USDT:USDT").startswith("UNKNOWN_SYMBOL")
    assert problem("strategy=nobody", Catalog()).startswith("UNKNOWN_STRATEGY: 'nobody'")


WATCHING = Catalog(accounts=CATALOG.accounts, strategies=CATALOG.strategies, symbols=CATALOG.symbols,
                   policy_scopes={**CATALOG.policy_scopes, "bot-watch": frozenset({"bot-h"})})


@pytest.mark.parametrize("text, start, near", [
    # the walk's typo: a pattern that matches no policy holds back nothing, as an exact typo (issue 65, F-M2)
    ("policy=~bot-wach", "UNKNOWN_POLICY: policy=~'bot-wach' matches no policy this runner runs", "'bot-watch'"),
    ("policy=~\"futures-bo{2}c.*\"", "UNKNOWN_POLICY: policy=~'futures-bo{2}c.*'", "'futures-book'"),
    ("policy=~\"bot\\\\-wach\"", "UNKNOWN_POLICY: policy=~'bot\\\\-wach'", "'bot-watch'"),
    ("scope=~binanceusdm/sim-mian", "UNKNOWN_SCOPE: scope=~'binanceusdm/sim-mian' matches no scope this runner "
                                    "knows", "'binanceusdm/sim-main'"),
    ("account=~\"okx/dsek|okx/deks\"", "UNKNOWN_ACCOUNT: account=~'okx/dsek|okx/deks' matches no account of "
                                      "this runner", None),
])
def test_a_pattern_that_matches_no_known_name_is_refused_as_a_typo_is(text, start, near):
    why = problem(text, WATCHING)
    assert why is not None and why.startswith(start), why
    assert why.endswith("(a silence on it would hold back nothing)")
    assert near is None or f"did you mean {near}" in why, why


@pytest.mark.parametrize("text", ["policy=~bot-.*", "policy=~\"bot-wa.ch|nothing\"", "scope=~binanceusdm.*",
                                  "account=~okx/.*", "scope=~momentum", "scope=~bot-h",
                                  # a pattern that matches the empty value matches a page without the label
                                  "policy=~\".*\"", "policy=~\"(nothing-here)?\"",
                                  # negations are never refused: they hold back what they do not name
                                  "policy!~bot-wach", "policy!=bot-wach",
                                  # a pattern on another label is not checked against names
                                  "severity=~warn.*"])
def test_a_pattern_matching_a_known_name_the_empty_value_or_a_negation_is_taken(text):
    assert problem(text, WATCHING) is None


@pytest.mark.parametrize("text, start, near", [
    # the walk's typo: a severity outside info, warning, critical holds back nothing (issue 65, walk 8 M1)
    ("severity=critcal", "UNKNOWN_SEVERITY: 'critcal' is not a severity a page carries", "'critical'"),
    ("severity=Warning", "UNKNOWN_SEVERITY: 'Warning'", "'warning'"),
    ("event=lock_violaton", "UNKNOWN_EVENT: 'lock_violaton' is not an event a page carries", "'lock_violation'"),
    ("severity=~\"critcal|warnng\"", "UNKNOWN_SEVERITY: severity=~'critcal|warnng' matches no severity a page "
                                     "carries", None),
])
def test_a_value_outside_a_closed_set_is_refused_with_what_it_resembles(text, start, near):
    why = problem(text)
    assert why is not None and why.startswith(start), why
    assert why.endswith("(a silence on it would hold back nothing)")
    assert near is None or f"did you mean {near}" in why, why


@pytest.mark.parametrize("text", ["severity=critical", "severity=info", "severity=~\"critical|warning\"",
                                  "severity!=critcal", "event=lock_violation", "event=~\"stage_.*\"",
                                  "policy=futures-book, severity=\"\""])
def test_a_value_in_a_closed_set_a_negation_and_the_empty_match_are_taken(text):
    assert problem(text) is None
