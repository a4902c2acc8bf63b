"""The small words of an incident, each as a person reads it: a KS101 hint that ends in the
list it announces, a receiver check that says why it failed, a check-order denial that names
who locked (never ``stage=None``), the reset's warning of a trigger still firing, a tokens
reload said by names, the console's standby banner, and the audit key's warning at WARNING."""

from __future__ import annotations

import io

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.face.api.identity import LiveTokens, TokensError, parse_tokens, token_digest
from killswitch.face.console.leader import leader_facts
from killswitch.policy.load import load_text
from killswitch.render.history import history_text
from killswitch.render.ops import failure_line
from killswitch.render.routes import routes_text
from killswitch.runner.gate.gate import check_order
from killswitch.runner.lock.lock import OPERATOR, LockBook, iso_ms
from killswitch.view import RunnerStatus, ThresholdCheck, TriggerStatus
from killswitch.view.relatch import still_firing
from tests.unit.engine_helpers import compile_graph

T0 = 1_700_000_000_000
ACCOUNT = "binanceusdm/main"

POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: guard}
spec:
  scope: {level: account, accounts: {match_labels: {book: futures}}}
  interval: 5s
  signals:
    vs_capital: {equity_drawdown: {window: 1h}}
  triggers:
    warn: {when: "vs_capital >= 2%", on_missing_data: hold}
    halt: {when: "vs_capital >= 5%", on_missing_data: hold}
  stages:
    - {level: 1, name: warning, on: [warn], cooldown: 1h, actions: [{lock_trading: {mode: reducing}}]}
    - {level: 2, name: halt, on: [halt], reset: manual, actions: [{lock_trading: {mode: halted}}]}
"""


def _node():
    return compile_graph(POLICY, "guard.yaml").policies[0]


def _trigger(name: str, firing: bool, value: str, threshold: str, as_of=T0) -> TriggerStatus:
    check = ThresholdCheck("vs_capital", ">=", threshold, 0.087, value, True)
    return TriggerStatus("guard", ACCOUNT, name, f"vs_capital >= {threshold}", firing, T0, T0, None, None, (check,),
                         as_of)


def test_a_reset_warns_that_the_highest_stage_still_firing_is_entered_again():
    node = _node()
    both = [_trigger("warn", True, "8.7%", "2%"), _trigger("halt", True, "8.7%", "5%")]
    assert still_firing(node, ACCOUNT, both) == (
        "halt was firing at the last tick (22:13:20 UTC: vs_capital = 8.7% >= 5%): stage 2 halt will be entered "
        "again at the next tick after the reset if still firing then",)
    lower = [_trigger("warn", True, "3.1%", "2%"), _trigger("halt", False, "3.1%", "5%")]
    assert still_firing(node, ACCOUNT, lower)[0].endswith("stage 1 warning will be entered again at the next tick "
                                                          "after the reset if still firing then")
    assert still_firing(node, ACCOUNT, [_trigger("halt", False, "1%", "5%")]) == ()
    assert still_firing(node, "other/account", both) == ()  # another scope's triggers say nothing of this one
    unseen = [_trigger("halt", True, "unknown", "5%", as_of=None)]  # a standby has evaluated nothing
    assert "its values are not evaluated by this runner" in still_firing(node, ACCOUNT, unseen)[0]


def test_a_reset_warning_says_a_heartbeat_never_heard_as_never_heard():
    # walk 11's M4: "silent was firing at the last tick (…: beat = unknown > 3m)" hid that bot-a was never heard
    node = _node()
    check = ThresholdCheck("vs_capital", ">=", "5%", None, "unknown", None,
                           "NO_HEARTBEAT: source=bot-a grace=180s passed without a first beat")
    silent = TriggerStatus("guard", ACCOUNT, "halt", "vs_capital >= 5%", True, T0, T0, None, "MISSING_DATA: rule=fire",
                           (check,), T0)
    assert still_firing(node, ACCOUNT, [silent])[0].startswith(
        "halt was firing at the last tick (22:13:20 UTC: bot-a never heard: grace 3m passed without a first beat): "
        "stage 2 halt will be entered again"), still_firing(node, ACCOUNT, [silent])


def test_an_unknown_key_hint_ends_with_the_keys_it_announces(tmp_path):
    bad = POLICY.replace("cooldown: 1h", "coldown: 1h")
    res = compile_documents(load_text(bad, "guard.yaml"))
    [d] = [d for d in res.errors if d.code == "KS101"]
    assert d.hint == ('did you mean "cooldown"? the keys allowed under stages[0] are: actions, approvals, cooldown, '
                      'description, during, level, name, on, outside, reset, reset_after'), d.hint
    res = compile_documents(load_text(POLICY.replace("cooldown: 1h", "zzz: 1"), "guard.yaml"))
    [d] = [d for d in res.errors if d.code == "KS101"]
    assert d.hint.startswith("the keys allowed under stages[0] are: actions, ") and not d.hint.endswith("]")


@pytest.mark.parametrize("check, said", [
    ({"result": "failed", "cause": "connection refused"}, "FAILED: connection refused in 4ms"),
    ({"result": "failed", "cause": None}, "FAILED: no cause reported (the send ended 'failed') in 4ms"),
    ({"result": "timeout", "cause": "timeout after 3s"}, "FAILED: timeout after 3s in 4ms"),
    ({"result": "partial", "cause": "HTTP 500"}, "PARTIAL: some targets failed: HTTP 500 in 4ms"),
    ({"result": "delivered", "cause": None}, "delivered in 4ms"),
])
def test_a_receiver_check_says_why_and_never_failed_failed(check, said):
    v = {"routes": "desk", "receiver": "pager", "targets": ["{env: X}"], "problems": [], "elapsed_ms": 4,
         "ok": check["result"] in ("delivered", "partial"), **check}
    line = routes_text(None, [v]).strip()
    assert line == f'verify receiver "pager" of routes "desk": {said} to {{env: X}}', line
    assert "(failed)" not in line


def test_a_check_order_denial_names_the_operator_not_stage_none():
    book = LockBook().apply(ACCOUNT, "halted", now_ms=T0, policy=OPERATOR, details={"reason": "x", "by": "alice"},
                            reason="MANUAL_LOCK: mode=halted by=alice until ksctl unlock: x")
    d = check_order(book, {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1}, None, T0 + 1)
    assert not d.allow and d.reason.startswith(f"HALTED: origin=operator by=alice scope={ACCOUNT} since "), d.reason
    assert "None" not in d.reason
    staged = LockBook().apply(ACCOUNT, "halted", now_ms=T0, policy="guard", stage=2, reason="LOCK_TRADING")
    d = check_order(staged, {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1}, None, T0 + 1)
    assert d.reason.startswith(f"HALTED: stage=2 policy=guard scope={ACCOUNT} since ")  # as bots grep it


def test_a_check_order_denial_under_a_while_blind_lock_says_it_ends_when_the_scope_is_armed():
    """Not ``stage=0 … until released``, as if a person or a stage held it."""
    order = {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1}
    until = T0 + 48 * 60_000
    book = LockBook().apply(ACCOUNT, "halted", now_ms=T0, policy="futures-book", stage=0,
                            reason="WHILE_BLIND: policy=futures-book dd_15m: INSUFFICIENT_HISTORY",
                            details={"while_blind": True, "until_ms": until})
    d = check_order(book, order, None, T0 + 1)
    assert d.reason.startswith(f"HALTED: origin=while-blind policy=futures-book scope={ACCOUNT} since "), d.reason
    assert d.reason.endswith(f"until the scope is armed again (expected at {iso_ms(until)})"), d.reason
    assert "stage=0" not in d.reason and "until released" not in d.reason
    window = LockBook().apply(ACCOUNT, "halted", now_ms=T0, policy="hours", stage=-1, ttl_ms=60_000,
                              reason="TRADING_WINDOW: ...", details={"window": "outside weekdays 08:00-20:00"})
    d = check_order(window, order, None, T0 + 1)
    assert d.reason.startswith("HALTED: origin=trading-window policy=hours window outside weekdays 08:00-20:00 "
                               f"scope={ACCOUNT} since "), d.reason


def test_a_refused_read_is_said_in_words():
    from killswitch.client import RunnerError

    e = RunnerError(401, "AUTH_REQUIRED", "AUTH_REQUIRED: send Authorization: Bearer <token>", url="http://x",
                    body={"error": "AUTH_REQUIRED", "reason": "AUTH_REQUIRED: send Authorization: Bearer <token>"})
    assert failure_line("status", e) == ("ksctl status: refused (HTTP 401): AUTH_REQUIRED: send Authorization: "
                                         "Bearer <token>")


class _Verified:
    def describe(self, lead: str = "") -> str:
        return lead + "consistent, UNANCHORED"


def test_an_empty_journal_says_whether_a_dry_run_planned_orders():
    assert history_text([], _Verified(), None, 7).splitlines() == [
        "dry run: nothing journaled; 7 planned order(s) are in the audit trail (ksctl history --planned lists them)",
        "audit chain: consistent, UNANCHORED"]
    assert history_text([], _Verified(), None, 0).splitlines()[0] == "no order journaled"


def test_a_journaled_order_names_its_hedge_leg_the_decision_that_sent_it_and_what_it_filled_at():
    from killswitch.state.store import JournalEntry

    def entry(cid, leg, decision, status, code=None, filled=0.5, avg=60_000.0, fees=None, pnl=None):
        return JournalEntry(cid, decision, "binanceusdm", "main", "BTC/USDT:USDT", "sell", leg, 0.5, True, "{}", seq=1,
                            fence=1, created_ms=T0, status=status, filled=filled, avg_price=avg, reason_code=code,
                            updated_ms=T0 + 10, fees=fees, realized_pnl=pnl)

    lines = history_text([entry("ks-a", "LONG", "futures-book/binanceusdm/main/L3/e1", "filled",
                                fees=((12.0, "USDT"),), pnl=-1_250.0),
                          entry("ks-b", None, "manual/binanceusdm/main/c1", "rejected", "RATE_LIMITED", 0.0, None),
                          entry("ks-c", None, "manual/binanceusdm/main/c2", "canceled", None, 0.2, 60_000.5000000001,
                                fees=(), pnl=100.1),
                          entry("ks-d", None, "manual/binanceusdm/main/c3", "filled", None, 0.5, None)],
                         _Verified()).splitlines()
    assert lines[0] == ("2023-11-14T22:13:20Z  ks-a  binanceusdm/main BTC/USDT:USDT sell LONG 0.5  filled 0.5 at avg "
                        "60,000 (notional 30,000.00), fee 12 USDT, PnL -1,250.00 USDT  "
                        "by futures-book/binanceusdm/main/L3/e1")
    assert lines[1] == ("2023-11-14T22:13:20Z  ks-b  binanceusdm/main BTC/USDT:USDT sell 0.5  rejected  RATE_LIMITED  "
                        "by manual/binanceusdm/main/c1")
    assert lines[2] == ("2023-11-14T22:13:20Z  ks-c  binanceusdm/main BTC/USDT:USDT sell 0.5  canceled, 0.2 filled at "
                        "avg 60,000.5 (notional 12,000.10), fee not reported, PnL +100.10 USDT  "
                        "by manual/binanceusdm/main/c2")
    # a row journaled before fees and PnL were: not known, never 0
    assert lines[3] == ("2023-11-14T22:13:20Z  ks-d  binanceusdm/main BTC/USDT:USDT sell 0.5  filled 0.5 (no price "
                        "reported), fee not known, PnL not known  by manual/binanceusdm/main/c3")


def _tokens(*entries: tuple[str, str, list[str]]):
    return parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
        {"identity": name, "roles": roles, "sha256": token_digest(tok)} for name, tok, roles in entries]})


def test_live_tokens_swap_whole_and_keep_what_is_in_force_when_refused():
    alice = ("alice", "tok-alice-1", ["operator"])
    live = LiveTokens(_tokens(alice), "shared-tok-1")
    assert live.current.identify(b"tok-alice-1").name == "alice"
    assert live.current.identify(b"tok-bob-22") is None
    live.replace(_tokens(alice, ("bob", "tok-bob-22", ["approver"])))
    assert live.current.identify(b"tok-bob-22").name == "bob"
    assert live.current.identify(b"shared-tok-1").name == "shared-token"  # the shared token stays
    with pytest.raises(TokensError):  # the shared token listed as a person's: refused, nothing changes
        live.replace(_tokens(alice, ("carol", "shared-tok-1", ["viewer"])))
    assert live.current.identify(b"tok-bob-22").name == "bob"


def test_a_tokens_reload_is_said_by_names_and_roles_never_tokens():
    from killswitch.process.tokens import tokens_change

    old = _tokens(("alice", "tok-a", ["operator"]), ("bob", "tok-b", ["approver"]))
    new = _tokens(("alice", "tok-a2", ["operator", "approver"]), ("carol", "tok-c", ["approver"]))
    said = tokens_change(old, new)
    assert said == ("identities alice, carol; added: carol (approver); removed: bob; roles changed: alice "
                    "(approver, operator); credential replaced: alice")
    assert not any(t in said for t in ("tok-", token_digest("tok-a2")))
    assert tokens_change(old, old) == "identities alice, bob (unchanged)"


def _status(**kw) -> RunnerStatus:
    return RunnerStatus("live", kw.pop("leader"), 3, "sha256:" + "0" * 64, None, None, T0, **kw)


def test_the_console_says_who_leads_and_why_a_standby_acts_on_nothing():
    standby = leader_facts(_status(leader=False, holder="ks-1", lease_holder="ks-0"))
    assert standby["lease_holder"] == "ks-0"
    assert standby["standby"]["reason"] == ("This runner (ks-1) is a standby: it acts on nothing, so its actions are "
                                            "disabled here. The leader is ks-0 (the lease holder): act on its "
                                            "console.")
    lost = leader_facts(_status(leader=False, holder="ks-1", lease_holder=None))
    assert lost["standby"]["leader"] is None and "No runner holds the lease right now" in lost["standby"]["reason"]
    assert leader_facts(_status(leader=True, holder="ks-0", lease_holder="ks-0")) == {"lease_holder": "ks-0",
                                                                                      "standby": None}


def test_no_audit_key_is_a_warning_logged_at_warning(tmp_path):
    from killswitch.audit.anchor import AuditAnchorSink
    from killswitch.logs import configure, unconfigure
    from killswitch.state import open_store

    out, err = io.StringIO(), io.StringIO()
    log = configure("text", stdout=out, stderr=err)
    try:
        store = open_store(f"sqlite://{tmp_path / 's.db'}")
        AuditAnchorSink(store, log.info, log.error, warn=log.warning).announce()
        store.close()
    finally:
        unconfigure()
    [line] = [x for x in err.getvalue().splitlines() if "no audit key" in x]
    assert " WARNING killswitch.run ksctl run: warning: no audit key (KS_AUDIT_KEY" in line, line
    assert " ERROR " not in line
