"""Every name a human or a bot types is resolved against what the runner knows, or refused.

The pre-trade gate denies an order for an unknown account, scope or symbol, or an absurd
amount; a lock, an unlock, a reset or a close of a name the runner does not know is refused
with ``UNKNOWN_*`` and the close matches, and changes nothing; two approvals need two people,
however the second spells the first one's name.
"""

from __future__ import annotations

import pytest

from killswitch.runner.names import Catalog, close_matches
from tests.unit.runner.operator.rig import ACCOUNT, TWO_PERSON, audit_kinds, make, order, run, start, ticks

TYPOS = ["nosuch", "*", "simulated/*", "simulated/SIM-MAIN", "simulated/sim-main/../../x", "SIMULATED",
         "btc/usdt:usdt", "Global"]


def ready(tmp_path, **kw):
    w = make(tmp_path, **kw)
    start(w)
    ticks(w, 1, beat=("bot-x",))
    return w


@pytest.mark.parametrize("request_, code", [
    ({"account": "no-such-account"}, "UNKNOWN_ACCOUNT"),
    ({"account": "simulated/SIM-MAIN"}, "UNKNOWN_ACCOUNT"),
    ({"account": None, "scope": "nope/none"}, "UNKNOWN_SCOPE"),
    ({"account": None, "scope": "simulated/*"}, "UNKNOWN_SCOPE"),
    ({"symbol": "BTC/USDT:USDTX"}, "UNKNOWN_SYMBOL"),
    ({"symbol": "NOPE/USDT:USDT", "amount": 1e30}, "UNKNOWN_SYMBOL"),
    ({"amount": 1e30}, "AMOUNT_OUT_OF_BOUNDS"),
    ({"amount": 1e13, "reduce_only": True}, "AMOUNT_OUT_OF_BOUNDS"),
    ({"amount": 1_000_000.0, "price": 60_000.0}, "ORDER_TOO_LARGE"),
], ids=["unknown-account", "account-case", "unknown-scope", "wildcard-scope", "symbol-typo", "unknown-symbol-huge",
        "huge-amount", "huge-reduce-only", "beyond-equity"])
def test_the_gate_denies_what_it_cannot_place(tmp_path, request_, code):
    w = ready(tmp_path)
    req = {k: v for k, v in order(**request_).items() if v is not None}
    d = w.desk.check_order(req)
    assert d.allow is False and d.reason.startswith(code + ":"), d


def test_the_gate_hints_the_name_that_was_meant_and_still_allows_a_placed_order(tmp_path):
    w = ready(tmp_path)
    d = w.desk.check_order(order(account="simulated/SIM-MAIN"))
    assert "did you mean 'simulated/sim-main'" in d.reason
    d = w.desk.check_order(order(symbol="BTC/USDT:USDTX"))
    assert "'BTC/USDT:USDT'" in d.reason
    for req in (order(), order(account=None, scope="simulated"), order(account=None, scope="global"),
                order(account=None, scope="bot-x"), order(symbol="ETH/USDT:USDT", amount=1.0),
                order(price=60_000.0, amount=0.5)):
        req = {k: v for k, v in req.items() if v is not None}
        assert w.desk.check_order(req).allow, req


def test_the_gate_fails_closed_while_an_accounts_markets_are_not_known(tmp_path):
    w = make(tmp_path)
    w.adapter.symbols = lambda: None  # markets not read yet, and no snapshot taken

    async def load():
        w.adapter.symbols = w.adapter.inner.symbols
    w.adapter.load_symbols = load
    start(w)
    d = w.desk.check_order(order())
    assert not d.allow and d.reason.startswith("MARKETS_UNKNOWN:"), d
    import asyncio
    asyncio.run(w.parts.known.learn_symbols())
    assert w.desk.check_order(order()).allow


@pytest.mark.parametrize("typo", TYPOS)
def test_a_lock_on_a_name_the_runner_does_not_know_is_refused_and_locks_nothing(tmp_path, typo):
    w = ready(tmp_path)
    before = w.parts.book.lock_book
    result = run(w.desk.lock_scope(typo, "halted", "typo test"))
    assert result.done is False and result.reason.startswith("UNKNOWN_SCOPE:"), result
    assert w.parts.book.lock_book is before
    assert audit_kinds(w)[-1] == "manual_lock"  # the refused attempt is on record
    assert w.desk.check_order(order()).allow  # and trading was not said to be stopped


def test_a_refused_lock_names_the_scope_that_was_meant(tmp_path):
    w = ready(tmp_path)
    assert "did you mean 'simulated/sim-main'" in run(w.desk.lock_scope("simulated/SIM-MAIN", "halted", "r")).reason
    assert "use global for everything" in run(w.desk.lock_scope("*", "halted", "r")).reason


@pytest.mark.parametrize("scope", ["global", "simulated", ACCOUNT, "BTC/USDT:USDT", "bot-x"])
def test_every_documented_scope_form_locks_and_the_gate_sees_it(tmp_path, scope):
    w = ready(tmp_path)
    result = run(w.desk.lock_scope(scope, "halted", "drill"))
    assert result.done, result
    d = w.desk.check_order({k: v for k, v in order(strategy="bot-x").items() if v is not None})
    assert not d.allow and d.reason.startswith("HALTED"), d
    assert run(w.desk.unlock_scope(scope, "drill over")).done


def test_an_unlock_of_an_unknown_name_is_refused(tmp_path):
    w = ready(tmp_path)
    result = run(w.desk.unlock_scope("simulated/SIM-MAIN", "typo"))
    assert not result.done and result.reason.startswith("UNKNOWN_SCOPE:") and "simulated/sim-main" in result.reason


def test_a_reset_of_an_unknown_policy_or_scope_is_refused_with_close_matches(tmp_path):
    w = ready(tmp_path)
    r = run(w.desk.reset("bot-gaurd", ACCOUNT, "alice", "typo", confirm_relatch=True))
    assert not r.done and r.reason.startswith("UNKNOWN_POLICY:") and "'bot-guard'" in r.reason
    r = run(w.desk.reset("bot-guard", "simulated/SIM-MAIN", "alice", "typo", confirm_relatch=True))
    assert not r.done and r.reason.startswith("UNKNOWN_SCOPE:") and "'simulated/sim-main'" in r.reason


def test_a_close_of_an_unknown_scope_is_refused_with_close_matches(tmp_path):
    w = ready(tmp_path)
    r = run(w.desk.close("simulated/SIM-MAIN", "typo", True))
    assert not r.accepted and r.reason.startswith("UNKNOWN_SCOPE:") and "'simulated/sim-main'" in r.reason


@pytest.mark.parametrize("second", ["Alice", "ALICE", " alice", "ａｌｉｃｅ"])
def test_one_person_cannot_pass_the_two_person_reset_under_another_spelling(tmp_path, second):
    w = make(tmp_path, text=TWO_PERSON)
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)  # bot-x silent past a minute: the latched stage is entered
    assert w.parts.book.state.scopes[f"bot-guard|{ACCOUNT}"].stage.level == 1
    assert run(w.desk.reset("bot-guard", ACCOUNT, "alice", "looked",
                              confirm_relatch=True)).reason.startswith("APPROVAL_RECORDED")
    r = run(w.desk.reset("bot-guard", ACCOUNT, second, "looked again", confirm_relatch=True))
    assert not r.done and r.reason.startswith("DUPLICATE_APPROVER"), r
    r = run(w.desk.reset("bot-guard", ACCOUNT, "bob", "second pair of eyes", confirm_relatch=True))
    assert r.done and "approvers=alice,bob" in r.reason, r


def test_close_matches_prefer_the_same_name_in_another_case():
    known = ["binanceusdm/sim-main", "binanceusdm/sim-alt", "bybit/main"]
    assert close_matches("binanceusdm/SIM-MAIN", known)[0] == "binanceusdm/sim-main"
    assert close_matches("zzz", known) == []


def test_a_catalog_knows_every_form_and_nothing_else():
    cat = Catalog(accounts=frozenset({"binanceusdm/a", "bybit/b"}), strategies=frozenset({"mm-1"}),
                  symbols={"binanceusdm/a": frozenset({"BTC/USDT:USDT"}), "bybit/b": None},
                  policy_scopes={"p": frozenset({"binanceusdm/a"})}, held=frozenset({"old-lock"}))
    for name in ("global", "binanceusdm", "bybit", "binanceusdm/a", "mm-1", "BTC/USDT:USDT", "old-lock"):
        assert cat.resolve_scope(name) is None, name
    for name in ("", "*", "binanceusdm/*", "GLOBAL", "binanceusdm/a ", "mm-2"):
        assert cat.resolve_scope(name) is not None, name
    assert cat.symbols_for(["bybit/b"]) is None
    assert cat.symbols_for(["binanceusdm/a", "bybit/b"]) is None  # one not read: none known
    # one account's symbols are its own set, not a copy (the gate asks it of every order)
    assert cat.symbols_for(["binanceusdm/a"]) is cat.symbols["binanceusdm/a"]
    assert cat.symbols_for(iter(["binanceusdm/a"])) == {"BTC/USDT:USDT"}
    assert cat.accounts_of("binanceusdm") == {"binanceusdm/a"}


def test_a_close_preview_over_an_account_it_could_not_read_is_incomplete_not_a_count(tmp_path):
    from adapters.simulated.faults import FaultPlan

    w = ready(tmp_path)
    preview = run(w.desk.close(ACCOUNT, "drill", True))
    assert preview.reason.startswith("PREVIEW:")  # a live runner previews; only a dry run says DRY_RUN
    # the orders counted, one by one: what ksctl close prints before it asks
    assert preview.orders > 0 and len(preview.plan) == preview.orders
    assert all(o.account == ACCOUNT and o.reduce_only and o.amount > 0 for o in preview.plan), preview.plan
    w.adapter.inner.faults = FaultPlan().add("*", "http_503")  # the venue answers nothing from now on
    ticks(w, 1, beat=("bot-x",))
    assert not w.parts.book.snapshots[ACCOUNT].fetch.ok
    r = run(w.desk.close(ACCOUNT, "drill", True))
    assert not r.accepted and r.reason.startswith(f"INCOMPLETE: {ACCOUNT} (EXCHANGE_UNAVAILABLE) could not be read"), r


def test_a_runner_without_snapshots_says_so_instead_of_unknown_scope(tmp_path):
    w = make(tmp_path)
    r = run(w.desk.close(ACCOUNT, "drill", True))
    assert not r.accepted and r.reason.startswith("NO_SNAPSHOT:"), r


def test_an_account_typed_by_its_name_alone_is_hinted_by_its_whole_key():
    cat = Catalog(accounts=frozenset({"binanceusdm/sim-main", "binanceusdm/sim-hedge"}),
                  policy_scopes={"crash-ladder": frozenset({"binanceusdm/sim-main", "binanceusdm/sim-hedge"})})
    got = cat.resolve_policy_scope("crash-ladder", "sim-main")
    assert got is not None and got.reason == ("UNKNOWN_SCOPE: 'sim-main' is not a scope of policy crash-ladder; "
                                              "did you mean 'binanceusdm/sim-main'?"), got
    got = cat.resolve_scope("sim-hedge")  # a lock, an unlock, a close: the same hint
    assert got is not None and "did you mean 'binanceusdm/sim-hedge'" in got.reason, got
