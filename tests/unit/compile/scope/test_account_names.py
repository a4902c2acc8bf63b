"""A scope names an account by its name or as ``venue/name`` (the CLI's form), the engine and
the compiler alike; ``accounts:`` written as a list is refused with the mapping form it meant."""

from __future__ import annotations

import shutil

from killswitch.engine.removed import Declared, selected
from killswitch.sources import compile_sources
from tests.conftest import POLICIES

WATCHED = "    accounts: {match_labels: {book: futures}}\n"


def _compile(tmp_path, accounts: str):
    book = (POLICIES / "futures-book.yaml").read_text()
    assert WATCHED in book
    (tmp_path / "futures-book.yaml").write_text(book.replace(WATCHED, f"    accounts: {accounts}\n"))
    shutil.copy(POLICIES / "accounts.yaml", tmp_path / "accounts.yaml")
    return compile_sources((str(tmp_path),))[0]


def test_venue_slash_name_selects_that_account_only(tmp_path):
    result = _compile(tmp_path, "{names: [binanceusdm/binance-futures-main]}")
    assert not result.errors, result.errors
    policy = result.graph.policies[0]
    assert selected(policy, Declared("binanceusdm", "binance-futures-main"))
    assert not selected(policy, Declared("bybit", "binance-futures-main"))
    assert not selected(policy, Declared("binanceusdm", "bybit-futures"))


def test_an_account_on_another_venue_is_an_unknown_name_with_the_close_match(tmp_path):
    result = _compile(tmp_path, "{names: [bybit/binance-futures-main]}")
    (err,) = [x for x in result.errors if x.code == "KS104"]
    assert err.message == 'scope names unknown account "bybit/binance-futures-main"'
    assert err.hint.startswith('did you mean "binanceusdm/binance-futures-main"? checked against the Accounts '
                               f"document {tmp_path / 'accounts.yaml'}, which know: "), err.hint


def test_accounts_as_a_list_is_refused_naming_the_mapping_form(tmp_path):
    result = _compile(tmp_path, "[binanceusdm/binance-futures-main]")
    (err,) = [x for x in result.errors if x.code == "KS103"]
    assert "expected a mapping, got a list" in err.message, err
    assert err.hint.startswith("write accounts: {names: [binanceusdm/binance-futures-main]}"), err.hint


def test_an_unknown_account_checked_against_the_folders_accounts_says_how_to_check_a_runners_own(tmp_path):
    # a copy of policies/ with its example Accounts document, for a runner started with its own:
    # the red KS104 says how to check against what the runner runs with
    result = _compile(tmp_path, "{names: [binanceusdm/sim-hedge]}")
    (err,) = [x for x in result.errors if x.code == "KS104"]
    assert err.hint.endswith("; a runner started with its own (ksctl run --accounts FILE) checks against that one: "
                             "ksctl validate --accounts FILE checks the same"), err.hint
