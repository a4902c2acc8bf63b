"""The orders a dry run planned, as the audit trail holds them (killswitch/orders.py): tables of
up to 1,000 intents a row, read back intent by intent and counted the same as a trail written one
intent a row; ``ksctl history --planned`` and the incident report read them so."""

from __future__ import annotations

from dataclasses import replace

from killswitch.cli.ops import planned_orders
from killswitch.orders import (
    INTENT_FIELDS,
    PLANNED_KIND,
    PLANNED_ONE_KIND,
    PLANNED_PER_ROW,
    OrderIntent,
    planned_count,
    planned_intents,
    planned_payloads,
)
from killswitch.state import open_store

T0 = 1_772_456_400_000


def _intent(i: int, decision: str = "bench/acct/L1/e1") -> OrderIntent:
    return OrderIntent(decision, f"ks{i:030d}", "simulated", "acct-0", f"S{i}/USDT:USDT", "sell" if i % 2 else "buy",
                       "LONG" if i % 3 == 0 else None, 10.0 + i / 1000, i % 7 != 0, 102.5 if i % 5 else None,
                       1_000.0 + i, 1 + i % 2, 2, T0 + 100 * i, "reduce_top_risk",
                       f"LIQUIDATION_NEAR: distance=2.{i % 10}0% limit=3.00%", "majors" if i % 4 == 0 else None)


def test_every_planned_intent_reads_back_from_the_store_as_planned_and_the_chain_verifies(tmp_path):
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    try:
        orders = [_intent(i) for i in range(2 * PLANNED_PER_ROW + 500)]
        payloads = planned_payloads(orders)
        assert [len(p["orders"]) for p in payloads] == [PLANNED_PER_ROW, PLANNED_PER_ROW, 500]
        store.audit_many([(PLANNED_KIND, T0, p) for p in payloads])
        rows = store.audit_rows(None, [PLANNED_KIND])
        assert len(rows) == 3 and all(r.payload["fields"] == list(INTENT_FIELDS) for r in rows)
        back = [o for r in rows for o in planned_intents(r.kind, r.payload)]
        assert back == [dict(vars(o)) for o in orders]  # every field, every value, in plan order
        assert [OrderIntent(**o) for o in back] == orders
        assert sum(planned_count(r.kind, r.payload) for r in rows) == len(orders)
        assert store.verify_audit() == (True, None)
    finally:
        store.close()


def test_a_trail_of_one_intent_a_row_and_of_tables_counts_and_lists_the_same(tmp_path):
    """``ksctl history --planned``: the latest orders oldest first and the count of all, across a
    trail an earlier version wrote (one intent a row) and tables written since."""
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    try:
        old = [_intent(i) for i in range(3)]
        store.audit_many([(PLANNED_ONE_KIND, T0, dict(vars(o))) for o in old])
        store.audit("stage_entered", T0, {"x": 1})
        new = [_intent(i) for i in range(3, 3 + PLANNED_PER_ROW + 2)]
        store.audit_many([(PLANNED_KIND, T0 + 5, p) for p in planned_payloads(new)])
        latest, count = planned_orders(store, 4)
        assert count == len(old) + len(new)
        assert [r.payload["client_order_id"] for r in latest] == [o.client_order_id for o in new[-4:]]
        assert all(r.ts_ms == T0 + 5 and r.kind == PLANNED_KIND for r in latest)
        latest, count = planned_orders(store, len(old) + len(new))
        assert [r.payload for r in latest] == [dict(vars(o)) for o in old + new]
        assert planned_orders(store, 0) == ([], len(old) + len(new))
    finally:
        store.close()


def test_a_table_entry_that_cannot_be_read_is_counted_and_shown_empty_never_dropped():
    row = {"fields": list(INTENT_FIELDS), "orders": [list(vars(_intent(1)).values()), "not a row", None]}
    intents = planned_intents(PLANNED_KIND, row)
    assert len(intents) == planned_count(PLANNED_KIND, row) == 3
    assert intents[0]["client_order_id"] == _intent(1).client_order_id and intents[1:] == [{}, {}]
    assert planned_intents(PLANNED_KIND, {"fields": "?", "orders": [[1, 2]]}) == [{}]  # no names: no field read
    assert planned_intents(PLANNED_KIND, {"fields": list(INTENT_FIELDS)}) == []
    assert planned_count(PLANNED_KIND, {"orders": "x"}) == 0
    other = {"orders": [[1]]}
    assert planned_intents("order_sent", other) == [] and planned_count("order_sent", other) == 0
    assert planned_intents(PLANNED_ONE_KIND, {"client_order_id": "a"}) == [{"client_order_id": "a"}]


def test_an_intent_made_by_replace_is_audited_with_its_fields_in_their_order():
    o = replace(_intent(4), amount=1.5, reason="changed")
    (doc,) = planned_payloads([o])
    assert planned_intents(PLANNED_KIND, doc) == [dict(vars(o))]
