"""engine/guarded.py: the accounts no running policy's scope selects."""

from __future__ import annotations

from killswitch.engine.guarded import unguarded, within
from killswitch.engine.removed import Declared
from tests.unit.engine_helpers import compile_graph, guard_policy

A = Declared("binanceusdm", "sim-main", {"book": "futures", "desk": "a"})
B = Declared("binanceusdm", "sim-hedge", {"book": "futures", "desk": "b"})
C = Declared("okx", "spot", None)  # labels not known: taken as selected by any label selector


def graph(*policies: tuple[str, str]):
    """The graph of a guard policy for each (name, scope), its stage without a reset rule."""
    return compile_graph("---\n".join(guard_policy(n, scope=s, reset="") for n, s in policies))


def test_an_account_no_scope_selects_is_unguarded_at_any_level_of_selector():
    narrowed = graph(("g", "{level: account, accounts: {match_labels: {book: futures, desk: b}}}"))
    assert unguarded(narrowed, [A, B]) == ("binanceusdm/sim-main",)
    assert unguarded(narrowed, [A, B, C]) == ("binanceusdm/sim-main",)
    by_venue = graph(("v", "{level: venue, venues: [okx]}"))
    assert unguarded(by_venue, [A, B, C]) == ("binanceusdm/sim-hedge", "binanceusdm/sim-main")
    named = graph(("n", "{level: account, accounts: {names: [sim-main]}}"))
    assert unguarded(named, [A, B]) == ("binanceusdm/sim-hedge",)
    assert unguarded(graph(("all", "{level: global}")), [A, B, C]) == ()


def test_a_shards_firm_wide_policies_guard_its_accounts_too():
    own = graph(("g", "{level: account, accounts: {names: [sim-hedge]}}"))
    firm = graph(("f", "{level: global, accounts: {match_labels: {desk: a}}}"))
    assert unguarded(own, [A, B]) == ("binanceusdm/sim-main",)
    assert unguarded(own, [A, B], firm) == ()


def test_within_names_the_accounts_a_scope_covers():
    accounts = ("binanceusdm/sim-hedge", "binanceusdm/sim-main", "okx/spot")
    assert within("binanceusdm/sim-main", accounts) == ("binanceusdm/sim-main",)
    assert within("binanceusdm", accounts) == ("binanceusdm/sim-hedge", "binanceusdm/sim-main")
    assert within("global", accounts) == accounts
    assert within("binanceusdm/sim", accounts) == ()
