"""Overrides of the pre-trade limits as values: which refusals an override in force lifts (a
raise within its value, a waiver, an order's release by its client id, once), its strategy and
expiry, the policy's ``limits.override`` bounds and their bad values, and the plan's lines."""

from __future__ import annotations

from killswitch.compile.compiler import compile_documents
from killswitch.engine.limits import Breach
from killswitch.overrides import Override, OverrideIndex, limit_of
from killswitch.policy.load import load_text
from tests.unit.engine_helpers import compile_graph

H = 3_600_000
SCOPE = "binanceusdm/main"
NOTIONAL = Breach("LIMIT_ORDER_NOTIONAL", 100_000, 180_000, "quote", "notional 180,000 > limit 100,000", "BTC")
COLLAR = Breach("PRICE_COLLAR", 0.05, 0.08, "ratio", "price 8% from mark", "BTC")


def made(kind="raise", *, limit="max_order_notional", raise_to=200_000.0, order=None, strategy=None,
         approvals=(("alice", 0), ("bob", 1)), ended=None) -> Override:
    o = Override("ovr-1", SCOPE, kind, "BLOCK_TRADE", "agreed", "alice", 0, H, 2, approvals, strategy=strategy,
                 limit=None if kind == "order" else limit, raise_to=raise_to if kind == "raise" else None,
                 order=order)
    return o.end(*ended) if ended else o


def test_a_raise_lifts_its_limit_within_its_value_and_leaves_the_others():
    index = OverrideIndex.of([made()], 0)
    left, lifted = index.lift(SCOPE, "mm", None, [NOTIONAL, COLLAR], 1_000, {})
    assert left == [COLLAR] and [x.override.id for x in lifted] == ["ovr-1"]
    assert lifted[0].breaches[0]["code"] == "LIMIT_ORDER_NOTIONAL"
    over = Breach("LIMIT_ORDER_NOTIONAL", 100_000, 250_000, "quote", "x", "BTC")  # past the raised value
    assert index.lift(SCOPE, "mm", None, [over], 1_000, {}) == ([over], [])
    assert index.lift("binanceusdm/other", "mm", None, [NOTIONAL], 1_000, {}) == ([NOTIONAL], [])


def test_only_an_approved_override_not_ended_nor_expired_is_in_force():
    assert not OverrideIndex.of([made(approvals=(("alice", 0),))], 0)  # pending
    assert not OverrideIndex.of([made(ended=(500, "bob", "ended"))], 1_000)
    assert not OverrideIndex.of([made()], H)  # at its expiry
    index = OverrideIndex.of([made()], 0)
    assert index.lift(SCOPE, None, None, [NOTIONAL], H, {}) == ([NOTIONAL], [])  # expired since the index was made


def test_a_waiver_a_strategy_and_an_orders_release_once():
    waive = OverrideIndex.of([made("waive", limit="price_collar", strategy="mm")], 0)
    assert waive.lift(SCOPE, "mm", None, [COLLAR], 1, {})[0] == []
    assert waive.lift(SCOPE, "other", None, [COLLAR], 1, {})[0] == [COLLAR]  # another strategy's order
    release = OverrideIndex.of([made("order", order="bot-7")], 0)
    assert release.lift(SCOPE, None, "bot-7", [NOTIONAL, COLLAR], 1, {})[0] == []
    assert release.lift(SCOPE, None, "bot-8", [NOTIONAL], 1, {})[0] == [NOTIONAL]
    assert release.lift(SCOPE, None, "bot-7", [NOTIONAL], 1, {"ovr-1": 1})[0] == [NOTIONAL]  # used once


def test_a_refusal_code_names_its_limit():
    assert limit_of("OPEN_ORDERS_LIMIT", "BTC") == "max_open_orders_per_symbol"
    assert limit_of("OPEN_ORDERS_LIMIT", None) == "max_open_orders"
    assert limit_of("GROSS_LIMIT", None) == "max_gross_notional"
    assert limit_of("NO_MARK", "BTC") is None  # no limit's override lifts a missing mark


def test_an_override_round_trips_as_json():
    o = made("order", order="bot-7").approve("carol", 5).end(9, "runner", "used")
    assert Override.from_json(o.to_json()) == o


POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: book}
spec:
  scope: {level: account}
  signals: {dd: {equity_drawdown: {window: 10m}}}
  triggers: {t: {when: "dd >= 5%", on_missing_data: hold}}
  stages: [{level: 1, name: halt, on: [t], actions: [{lock_trading: {mode: halted}}]}]
  limits:
    max_order_notional: 100k
"""


def test_the_policy_bounds_an_overrides_expiry_and_approvals():
    graph = compile_graph(POLICY + "    override: {max_duration: 30m, approvals: 3}\n", "p.yaml")
    [node] = graph.policies
    assert (node.limits.override_max_ms, node.limits.override_approvals) == (1_800_000, 3)
    assert node.limits.to_doc()["override"] == {"max_duration_s": 1800.0, "approvals": 3}
    default = compile_graph(POLICY, "p.yaml").policies[0].limits
    assert (default.override_max_ms, default.override_approvals) == (3_600_000, 2)


def test_a_bad_override_bound_is_said_where_it_is_written():
    for bad, said in (("{approvals: 1}", "greater than or equal to 2"), ("{max_duration: 2d}", "KS266"),
                      ("{max_duration: 10s}", "KS266"), ("{aprovals: 2}", "aprovals")):
        res = compile_documents(load_text(POLICY + f"    override: {bad}\n", "p.yaml"))
        assert res.graph is None, bad
        text = " ".join(f"{d.code} {d.message} {d.pos.line}" for d in res.errors)
        assert said in text and " 11" in text, (bad, text)


def test_the_plan_says_the_overrides_the_store_holds(tmp_path):
    import time

    from killswitch.cli.plan import _stored_overrides
    from killswitch.state import open_store

    now = int(time.time() * 1000)
    url = f"sqlite://{tmp_path / 'state.db'}"
    store = open_store(url)
    fence = store.acquire_lease("runner", 10_000, now)
    live = Override("ovr-live", SCOPE, "raise", "BLOCK_TRADE", "agreed", "alice", now, now + H, 2,
                    (("alice", now), ("bob", now)), limit="max_order_notional", raise_to=200_000.0)
    store.save_override(live, fence, ("override_approved", now, {}))
    gone = Override("ovr-gone", SCOPE, "waive", "X_Y", "x", "alice", now, now + H, 2, (("alice", now),),
                    limit="price_collar").end(now, "bob", "ended")
    store.save_override(gone, fence, ("override_ended", now, {}))
    store.close()
    [line] = _stored_overrides(url)
    assert line.startswith(f"OVERRIDE ovr-live ACTIVE raise max_order_notional to 200000 on {SCOPE} until ")
    assert line.endswith("(requested by alice, approved by bob): the gate lets through what it covers")


def test_the_default_runbook_says_the_overrides_of_its_scope_beside_the_lock():
    from pathlib import Path

    from killswitch.cli.common import compile_paths
    from killswitch.overrides import scope_docs
    from killswitch.runbooks.render import render_runbook
    from killswitch.runbooks.sample import sample_incident
    from killswitch.runbooks.templates import Templates

    root = Path(__file__).resolve().parents[2]
    result, _ = compile_paths((str(root / "policies"),))
    data = sample_incident(result.graph.policy("futures-book"), 3, digest=result.graph.digest, revision="abc")
    scope, now = data["scope"], 1_772_456_400_000
    held = [Override("ovr-3f2a9c1b7d", scope, "raise", "BLOCK_TRADE", "agreed with risk", "alice", now, now + H, 2,
                     (("alice", now), ("bob", now)), limit="max_order_notional", raise_to=200_000.0),
            Override("ovr-other", "binanceusdm/other", "waive", "X_Y", "x", "alice", now, now + H, 2,
                     (("alice", now), ("bob", now)), limit="price_collar")]
    data["lock"]["overrides"] = scope_docs(held, scope, now)
    md = render_runbook(dict(data, template="default.md.j2"), Templates.load(root / "runbooks")).markdown
    assert f"**Overrides of the pre-trade limits** on `{scope}` (not ended; an override never lifts this lock):\n" \
           "- `ovr-3f2a9c1b7d` ACTIVE: raise max_order_notional to 200000; BLOCK_TRADE: agreed with risk; requested " \
           "by alice, approved by bob; until 2026-03-02T14:00:00.000Z (`ksctl override end --override " \
           "ovr-3f2a9c1b7d`)" in md, md[md.find("## 4."):][:1500]
    assert "ovr-other" not in md
