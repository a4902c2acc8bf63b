"""engine/guarded.py: the accounts no running policy's scope selects."""

from __future__ import annotations

from killswitch.compile.compiler import compile_documents
from killswitch.engine.guarded import unguarded, within
from killswitch.engine.removed import Declared
from killswitch.policy.load import load_text

POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: NAME}
spec:
  scope: SCOPE
  interval: 5s
  signals:
    bot: {heartbeat_age: {source: bot-x}}
  triggers:
    silent: {when: "bot > 60s", on_missing_data: hold}
  stages:
    - {level: 1, name: halt, on: [silent], actions: [{lock_trading: {mode: halted}}]}
"""
A = Declared("binanceusdm", "sim-main", {"book": "futures", "desk": "a"})
B = Declared("binanceusdm", "sim-hedge", {"book": "futures", "desk": "b"})
C = Declared("okx", "spot", None)  # labels not known: taken as selected by any label selector


def graph(*policies: tuple[str, str]):
    text = "---\n".join(POLICY.replace("NAME", n).replace("SCOPE", s) for n, s in policies)
    res = compile_documents(load_text(text, "p.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph


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
