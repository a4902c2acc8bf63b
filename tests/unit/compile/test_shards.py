"""Shards (killswitch/compile/shards.py): each shard's accounts as its selector selects them, the
findings on an overlap, an account left out and a name given twice, and which policies a shard's
runner evaluates and which are firm-wide."""

from __future__ import annotations

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.compile.shards import (
    accounts_digest,
    assign,
    local_graph,
    nearest_shard,
    shard_accounts,
    split,
)
from killswitch.policy.accounts_doc import Accounts
from killswitch.policy.load import load_sources
from killswitch.state.firm import shard_schema

ACCOUNTS = """\
apiVersion: killswitch/v1
kind: Accounts
metadata: {name: firm}
spec:
  shards:
    - {name: desk-a, accounts: {match_labels: {desk: a}}}
    - {name: desk-b, accounts: {match_labels: {desk: b}}}
  accounts:
    - {name: a-binance, venue: binanceusdm, market_type: futures, labels: {desk: a, book: futures}}
    - {name: a-okx, venue: okx, market_type: futures, labels: {desk: a, book: futures}}
    - {name: b-binance, venue: binanceusdm, market_type: futures, labels: {desk: b, book: futures}}
    - {name: b-bybit, venue: bybit, market_type: futures, labels: {desk: b, book: spot}}
"""

POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: {name}}}
spec:
  scope: {scope}
  interval: 10s
  signals:
    vs_capital: {{equity_change: {{against: initial_capital}}}}
  triggers:
    halt: {{when: vs_capital <= -5%, on_missing_data: hold}}
  stages:
    - {{level: 1, name: halt, on: [halt], actions: [close_all]}}
"""

SCOPES = {
    "firm-breaker": "{level: global}",
    "binance-venue": "{level: venue, venues: [binanceusdm]}",
    "futures-book": "{accounts: {match_labels: {book: futures}}}",
    "desk-a-book": "{accounts: {match_labels: {desk: a}}}",
    "okx-only": "{venues: [okx]}",
    "b-bybit-named": "{accounts: {names: [b-bybit]}}",
    "spot-book": "{level: global, accounts: {match_labels: {book: spot}}}",
    "prepared": "{accounts: {match_labels: {desk: z}}, allow_empty: true}",
}


def _compiled(accounts: str = ACCOUNTS, scopes: dict[str, str] = SCOPES):
    files = [("accounts.yaml", accounts)] + [
        (f"{name}.yaml", POLICY.format(name=name, scope=scope)) for name, scope in scopes.items()]
    result = compile_documents(load_sources(files))
    spec = next(d.model for d in result.docs if isinstance(d.model, Accounts)).spec
    return result, spec


def test_each_shard_holds_the_accounts_its_selector_selects_in_file_order():
    result, spec = _compiled()
    assert not result.errors, result.errors
    assert assign(spec.accounts, spec.shards) == {"desk-a": ["a-binance", "a-okx"],
                                                  "desk-b": ["b-binance", "b-bybit"]}
    assert [a.name for a in shard_accounts(spec.accounts, spec.shards, "desk-b")] == ["b-binance", "b-bybit"]
    assert shard_accounts(spec.accounts, spec.shards, "desk-c") == []


@pytest.mark.parametrize("policy, whose", [
    ("firm-breaker", "firm"),      # global: every shard's accounts
    ("binance-venue", "firm"),     # a venue both desks trade on
    ("futures-book", "firm"),      # a label that spans the shards
    ("desk-a-book", "desk-a"),     # the shard's own selector
    ("okx-only", "desk-a"),        # a venue only one shard trades on
    ("b-bybit-named", "desk-b"),   # one account by name
    ("spot-book", "desk-b"),       # global level, but its selector stays within one shard
    ("prepared", "nobody"),        # selects no declared account (allow_empty)
])
def test_a_policy_spanning_shards_is_firm_wide_one_within_a_shard_is_that_shards(policy, whose):
    result, spec = _compiled()
    assert result.graph is not None
    got = split(result.graph, spec.accounts, assign(spec.accounts, spec.shards))
    found = ("firm" if policy in got.firm else "nobody" if policy in got.unmatched
             else next(s for s, names in got.local.items() if policy in names))
    assert found == whose
    assert len(got.spans[policy]) == {"firm": 2, "nobody": 0}.get(whose, 1)


def test_a_shards_graph_holds_only_its_local_policies_and_a_digest_of_them():
    result, spec = _compiled()
    assert result.graph is not None
    got = split(result.graph, spec.accounts, assign(spec.accounts, spec.shards))
    a = local_graph(result.graph, got.local["desk-a"])
    assert [p.name for p in a.policies] == ["desk-a-book", "okx-only"]
    assert a.revision == result.graph.revision
    assert a.digest != result.graph.digest
    assert local_graph(result.graph, got.local["desk-b"]).digest != a.digest


def test_an_account_two_shards_select_is_ks240_naming_both_selectors():
    text = ACCOUNTS.replace("{name: desk-b, accounts: {match_labels: {desk: b}}}",
                            "{name: desk-b, accounts: {match_labels: {venue: okx}}}")
    text = text.replace("labels: {desk: a, book: futures}}\n    - {name: b-binance",
                        "labels: {desk: a, book: futures, venue: okx}}\n    - {name: b-binance")
    result, _ = _compiled(text, {})
    ks240 = [x for x in result.errors if x.code == "KS240"]
    assert len(ks240) == 1
    assert 'account "a-okx"' in ks240[0].message
    assert '"desk-a" ({match_labels: {desk: a}})' in ks240[0].message
    assert '"desk-b" ({match_labels: {venue: okx}})' in ks240[0].message
    assert ks240[0].pos is not None and ks240[0].pos.line == 10


def test_an_account_no_shard_selects_is_ks241_listing_the_selectors():
    text = ACCOUNTS.replace("labels: {desk: b, book: spot}", "labels: {desk: c, book: spot}")
    result, _ = _compiled(text, {})
    assert [(x.code, x.pos.line if x.pos else None) for x in result.errors] == [("KS241", 12)]
    message = result.errors[0].message
    assert 'account "b-bybit" is in no shard' in message
    assert "desk-a: {match_labels: {desk: a}}; desk-b: {match_labels: {desk: b}}" in message


def test_a_shard_name_given_twice_is_ks242_at_the_second():
    text = ACCOUNTS.replace("{name: desk-b, accounts: {match_labels: {desk: b}}}",
                            "{name: desk-a, accounts: {match_labels: {desk: b}}}")
    result, _ = _compiled(text, {})
    assert [(x.code, x.pos.line if x.pos else None) for x in result.errors] == [("KS242", 7)]


def test_an_accounts_document_without_shards_has_no_shard_findings():
    text = ACCOUNTS.replace("  shards:\n    - {name: desk-a, accounts: {match_labels: {desk: a}}}\n"
                            "    - {name: desk-b, accounts: {match_labels: {desk: b}}}\n", "")
    result, spec = _compiled(text, {})
    assert spec.shards == []
    assert not result.diagnostics


def test_the_accounts_digest_is_of_the_set_not_of_its_order():
    _, spec = _compiled()
    accounts = list(spec.accounts)
    assert accounts_digest(accounts) == accounts_digest(list(reversed(accounts)))
    assert accounts_digest(accounts[:2]) != accounts_digest(accounts[:3])


def test_a_shards_schema_is_a_plain_identifier_and_a_typo_gets_the_closest_name():
    _, spec = _compiled()
    assert shard_schema("desk-a") == "ks_shard_desk_a"
    assert nearest_shard("desk-c", spec.shards) in ("desk-a", "desk-b")
    assert nearest_shard("zzzzzz", spec.shards) is None
