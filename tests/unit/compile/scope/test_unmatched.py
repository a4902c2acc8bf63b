"""KS218: a scope selector that selects no declared account is an error, with the labels (or
venues) that exist, which accounts carry them and the closest to what was written; an explicit
``allow_empty: true`` opts out. The compile-time rule and the engine's runtime ``selects`` must
never disagree (a property over random accounts and selectors)."""

from __future__ import annotations

import dataclasses
import json
import textwrap

from hypothesis import given, settings, strategies as st

from killswitch.compile.compiler import compile_documents
from killswitch.compile.scope_check import selects_account
from killswitch.engine.scope import selects
from killswitch.policy.accounts_doc import Account, Accounts
from killswitch.policy.load import load_sources, load_text
from killswitch.policy.scope import Scope
from killswitch.snapshot import Snapshot
from tests.conftest import POLICIES
from tests.unit.engine_helpers import compile_graph

ACCOUNTS = (POLICIES / "accounts.yaml").read_text()  # binance-futures-main, bybit-futures, binance-spot

POLICY = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: p}
    spec:
      scope:
        level: account
        SELECTOR
      signals:
        stale: data_age
      triggers:
        stale_data: {when: "stale >= 60s", on_missing_data: fire}
      stages:
        - {level: 1, name: reduce-only, on: [stale_data], actions: [{lock_trading: {mode: reducing}}]}
    """)


def policy(selector: str) -> str:
    return POLICY.replace("SELECTOR", selector)


def compile_with_accounts(selector: str, accounts: str | None = ACCOUNTS, **kw):
    files = [("p.yaml", policy(selector))] + ([("a.yaml", accounts)] if accounts is not None else [])
    return compile_documents(load_sources(files), **kw)


def found(result) -> list[tuple[str, int, int]]:
    return [(x.code, x.pos.line, x.pos.col) for x in result.diagnostics]


def test_a_misspelled_label_selects_nothing_and_the_hint_names_the_closest_and_the_labels_that_exist():
    result = compile_with_accounts("accounts: {match_labels: {book: futurs}}")
    [x] = result.diagnostics
    assert (x.code, x.pos.line, x.pos.col) == ("KS218", 7, 37)  # at "futurs"
    assert x.message == "scope selects no declared account: accounts.match_labels: {book: futurs}"
    assert x.hint.startswith('no declared account carries book=futurs: did you mean "book=futures"? ')
    assert ("labels of the declared accounts: book=futures (binance-futures-main, bybit-futures), "
            "book=spot (binance-spot), desk=crypto (binance-futures-main, bybit-futures, binance-spot)") in x.hint
    assert "allow_empty: true" in x.hint
    assert result.graph is None, "a policy that would be silently off is refused"
    fixed = compile_with_accounts("accounts: {match_labels: {book: futures}}")
    assert fixed.diagnostics == [] and fixed.graph is not None


def test_a_misspelled_label_key_is_matched_as_key_and_value():
    [x] = compile_with_accounts("accounts: {match_labels: {bok: futures}}").diagnostics
    assert x.code == "KS218" and 'did you mean "book=futures"?' in x.hint


def test_a_venue_no_account_is_on_selects_nothing():
    result = compile_with_accounts("venues: [bybitt]")
    [x] = result.diagnostics
    assert (x.code, x.pos.line, x.pos.col) == ("KS218", 7, 14)  # at "bybitt"
    assert x.message == "scope selects no declared account: venues: [bybitt]"
    assert 'venue "bybitt" is the venue of no declared account: did you mean "bybit"?' in x.hint
    assert ("venues of the declared accounts: binance (binance-spot), binanceusdm (binance-futures-main), "
            "bybit (bybit-futures)") in x.hint
    [y] = compile_with_accounts("venues: [kraken]").diagnostics
    assert y.code == "KS218" and "did you mean" not in y.hint


def test_names_and_labels_that_each_select_an_account_but_none_together():
    result = compile_with_accounts("accounts: {names: [binance-spot], match_labels: {book: futures}}")
    [x] = result.diagnostics
    assert (x.code, x.pos.line, x.pos.col) == ("KS218", 5, 3)  # at the scope: no single part is wrong
    assert x.message == ("scope selects no declared account: accounts.names: [binance-spot] and "
                         "accounts.match_labels: {book: futures}")
    assert ("each alone: accounts.names select binance-spot; book=futures selects binance-futures-main, "
            "bybit-futures; no declared account has all of them") in x.hint


def test_venues_and_labels_that_select_nothing_together():
    [x] = compile_with_accounts("venues: [binance]\n    accounts: {match_labels: {book: futures}}").diagnostics
    assert x.code == "KS218" and "venues [binance] select binance-spot" in x.hint
    ok = compile_with_accounts("venues: [bybit]\n    accounts: {match_labels: {book: futures}}")
    assert ok.diagnostics == []


def test_allow_empty_true_accepts_a_policy_prepared_ahead_of_its_account():
    result = compile_with_accounts("accounts: {match_labels: {book: options}}\n    allow_empty: true")
    assert result.diagnostics == [] and result.graph is not None
    assert result.graph.policy("p").scope["allow_empty"] is True  # the runtime can tell it was meant
    refused = compile_with_accounts("accounts: {match_labels: {book: options}}\n    allow_empty: false")
    assert [x.code for x in refused.diagnostics] == ["KS218"]


def test_allow_empty_that_is_not_a_boolean_is_refused_at_its_value_and_the_scope_is_not_judged():
    for value, shown in (("yes", '"yes"'), ('"true"', '"true"'), ("1", "the number 1"), ("[true]", "a list")):
        result = compile_with_accounts(f"accounts: {{match_labels: {{book: options}}}}\n    allow_empty: {value}")
        assert found(result) == [("KS103", 8, 18)], value
        [x] = result.diagnostics
        assert x.message == f"scope.allow_empty: {shown} is not a boolean"
        assert x.hint.startswith("write true or false, unquoted")


def test_allow_empty_left_out_keeps_the_digest():
    plain = compile_with_accounts("accounts: {match_labels: {book: futures}}")
    said = compile_with_accounts("accounts: {match_labels: {book: futures}}\n    allow_empty: false")
    assert "allow_empty" not in plain.graph.policy("p").scope
    assert said.graph.digest != plain.graph.digest  # said is written, so it is in the canonical form


def test_nothing_is_judged_without_accounts_or_with_an_accounts_document_not_read_whole():
    assert compile_with_accounts("accounts: {match_labels: {book: futurs}}", accounts=None).diagnostics == []
    broken = ACCOUNTS.replace("  accounts:", "  accounts: [", 1)
    assert [x.code for x in compile_with_accounts("accounts: {match_labels: {book: futurs}}",
                                                  broken).diagnostics] == ["KS002"]
    # an account kept without its labels (a bad key beside them) may be the one meant
    salvaged = ACCOUNTS.replace("      labels: {book: spot, desk: crypto}", "      labels: {book: spot, desk: crypto}\n"
                                "      lables: {}")
    result = compile_with_accounts("accounts: {match_labels: {book: futurs}}", salvaged)
    assert [x.code for x in result.diagnostics] == ["KS101"]


def test_an_unknown_account_name_is_one_error_not_two():
    [x] = compile_with_accounts("accounts: {names: [binance-futures-mian]}").diagnostics
    assert x.code == "KS104" and 'did you mean "binance-futures-main"?' in x.hint


def test_the_accounts_a_runner_runs_with_stand_for_the_declared_ones_when_the_sources_hold_none():
    spec = next(d.model for d in load_text(ACCOUNTS, "a.yaml").docs if isinstance(d.model, Accounts)).spec
    given = compile_documents(load_sources([("p.yaml", policy("accounts: {match_labels: {book: futurs}}"))]),
                              accounts=spec.accounts)
    assert [x.code for x in given.diagnostics] == ["KS218"]
    names = compile_documents(load_sources([("p.yaml", policy("accounts: {names: [sim-main]}"))]),
                              accounts=spec.accounts)
    assert [x.code for x in names.diagnostics] == ["KS104"]
    # the sources' own Accounts documents are the declared ones: the runner's do not override them
    other = [spec.accounts[2]]  # binance-spot alone
    own = compile_with_accounts("accounts: {match_labels: {book: futures}}", accounts=ACCOUNTS)
    assert own.diagnostics == []
    assert compile_documents(load_sources([("p.yaml", policy("accounts: {match_labels: {book: futures}}")),
                                           ("a.yaml", ACCOUNTS)]), accounts=other).diagnostics == []


# --- the compile-time rule is the engine's -----------------------------------------------------------

KEYS, VALUES, NAMES = ["book", "desk", "tier"], ["a", "b", "c"], ["n0", "n1", "n2", "n3"]
VENUES = ["binanceusdm", "bybit", "okx"]  # ids ccxt knows (another is KS221)
labels_st = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)


@st.composite
def accounts_st(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    return [{"name": n, "venue": draw(st.sampled_from(VENUES)), "market_type": "futures", "labels": draw(labels_st)}
            for n in names]


scope_st = st.fixed_dictionaries({
    "venues": st.lists(st.sampled_from(VENUES), max_size=2, unique=True),
    "accounts": st.fixed_dictionaries({"names": st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
                                       "match_labels": labels_st}),
})


@settings(max_examples=150, deadline=None)
@given(accounts=accounts_st(), scope=scope_st)
def test_ks218_agrees_with_the_engine_selecting_snapshots(accounts, scope):
    accounts_doc = json.dumps({"apiVersion": "killswitch/v1", "kind": "Accounts", "metadata": {"name": "a"},
                               "spec": {"accounts": accounts}})
    body = {"apiVersion": "killswitch/v1", "kind": "Policy", "metadata": {"name": "p"},
            "spec": {"scope": {"level": "account", **scope}, "signals": {"stale": "data_age"},
                     "triggers": {"t": {"when": "stale >= 60s", "on_missing_data": "fire"}},
                     "stages": [{"level": 1, "name": "s", "on": ["t"], "actions": ["close_all"]}]}}
    result = compile_documents(load_sources([("p.yaml", json.dumps(body)), ("a.yaml", accounts_doc)]))
    codes = [x.code for x in result.diagnostics]
    # the engine, on the snapshot each declared account gives (its venue, name and labels)
    snaps = [Snapshot(venue=a["venue"], account=a["name"], market_type="futures", ts_event=0, labels=a["labels"])
             for a in accounts]
    model = Scope.model_validate({"level": "account", **scope})
    for a, s in zip(accounts, snaps):
        acc = Account.model_validate(a)
        assert selects_account(model, acc.venue, acc.name, acc.labels) == selects_compiled(scope, s), (scope, a)
    unknown = set(scope["accounts"]["names"]) - {a["name"] for a in accounts}
    if unknown:
        assert codes == ["KS104"] * len(unknown)
        return
    engine_selects_none = not any(selects_compiled(scope, s) for s in snaps)
    assert ("KS218" in codes) == engine_selects_none, (scope, accounts, codes)
    assert codes in ([], ["KS218"])
    if result.graph is not None:
        assert any(selects(result.graph.policy("p"), s) for s in snaps)


def selects_compiled(scope: dict, snap: Snapshot) -> bool:
    """The engine's rule on the scope as the compiler hands it to a graph node."""
    global _NODE
    if _NODE is None:
        _NODE = compile_graph([("p.yaml", policy("accounts: {}"))]).policy("p")
    full = Scope.model_validate({"level": "account", **scope}).model_dump(mode="json", exclude_none=True)
    return selects(dataclasses.replace(_NODE, scope=full), snap)


_NODE = None
