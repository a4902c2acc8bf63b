"""A sample incident of a policy's stage, made from the policy alone (:func:`sample_incident`).

With made-up values just past the stage's thresholds, a small book of which part was closed, one
close rejected and the lock the stage's actions set: what ``ksctl validate`` renders templates
against, and what the golden tests pin. The same shape as a running runner's incident
(:mod:`.incident`, whose :func:`~.incident.assemble` it fills). Deterministic: the same policy
gives the same data.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Optional

from ..compile.graph import PolicyNode, StageNode
from ..facts.violations import violation_text
from ..policy.actions import CLOSING_ACTIONS
from ..policy.expr import ValueType
from .incident import action_text, assemble, comparisons, iso, residual_doc

SAMPLE_TIME_MS = 1_772_456_400_000  # 2026-03-02T13:00:00Z


def _sample_scope(node: PolicyNode) -> str:
    sc = node.scope
    level = sc.get("level", "account")
    venue = (sc.get("venues") or ["binanceusdm"])[0]
    if level == "global":
        return "global"
    if level == "venue":
        return venue
    if level == "strategy":
        return (sc.get("strategies") or ["strategy-a"])[0]
    if level == "symbol":
        return (sc.get("symbols") or ["BTC/USDT:USDT"])[0]
    names = (sc.get("accounts") or {}).get("names") or ["main"]
    return f"{venue}/{names[0]}"


def _past(op: str, threshold: float, vtype: ValueType) -> float:
    """A value just past a threshold, on the side that breaches it."""
    step = {ValueType.RATIO: 0.004, ValueType.DURATION: 15.0}.get(vtype, 1.0)
    if op in (">=", ">"):
        return threshold + step
    if op in ("<=", "<"):
        return threshold - step
    return threshold


def sample_incident(node: PolicyNode, level: int, *, digest: str, revision: Optional[str],
                    created_ms: int = SAMPLE_TIME_MS, mode: str = "live",
                    state_url: str = "sqlite:///var/lib/killswitch/state.db", full: bool = False) -> dict:
    """An incident of ``node`` entering stage ``level``, as the module says.

    ``full``: orders, cancels, hedges and positions whatever the stage does (every list has an
    item), for checking the keys a template reads in branches this stage never takes."""
    stage = node.stage(level)
    lower = [s.level for s in node.stages if s.level < level]
    from_level = max(lower) if lower else 0
    values, results = _sample_values(node, stage)
    scope = _sample_scope(node)
    acct = scope if "/" in scope else "binanceusdm/main"
    venue, account = acct.split("/", 1)
    incident = f"{node.name}/{scope}/L{level}/e{level}"
    closes = full or any(a.kind in CLOSING_ACTIONS for a in stage.actions)
    orders, cancels, positions, residuals = [], [], [], []
    if closes:
        orders = [
            {"client_order_id": f"ks-{level}a1b2c3d4-1", "venue": venue, "account": account, "symbol": "BTC/USDT:USDT",
             "side": "sell", "position_side": None, "amount": 1.5, "notional": 90_000.0, "notional_text": "90,000.00",
             "reduce_only": True, "limit_price": 58_800.0, "chunk": "1/1", "action": "close_all",
             "reason": "CLOSE_ALL", "group": "majors", "status": "filled", "filled": 1.5, "code": None,
             "detail": None},
            {"client_order_id": f"ks-{level}a1b2c3d4-2", "venue": venue, "account": account, "symbol": "SOL/USDT:USDT",
             "side": "buy", "position_side": None, "amount": 200.0, "notional": 28_000.0, "notional_text": "28,000.00",
             "reduce_only": True, "limit_price": 142.8, "chunk": "1/1", "action": "close_all", "reason": "CLOSE_ALL",
             "group": None, "status": "rejected", "filled": 0.0, "code": "RATE_LIMITED",
             "detail": "-1003 Too many requests; current limit is 2400 requests per minute."},
        ]
        positions = [{"account": acct, "symbol": "SOL/USDT:USDT", "side": "short", "position_side": None,
                      "contracts": 200.0, "notional": 28_000.0, "notional_text": "28,000.00", "mark_price": 140.0,
                      "unrealized_pnl": -1_250.0, "strategy": "strategy-a"},
                     {"account": acct, "symbol": "ETH/USDT:USDT", "side": "long", "position_side": None,
                      "contracts": 0.0004, "notional": 1.2, "notional_text": "1.2", "mark_price": 3_000.0,
                      "unrealized_pnl": -0.1, "strategy": "strategy-a"}]
        residuals = [residual_doc(acct, "ETH/USDT:USDT", "long", None, 0.0004, "BELOW_MINIMUM",
                                  "amount=0.0004 step=0.001 min_amount=0.001", created_ms)]
        if full:  # a leg whose closes the venue refused: not sent again, accepted by a person or closed
            residuals.append(residual_doc(acct, "SOL/USDT:USDT", "short", None, 200.0, "CLOSE_REJECTED",
                                          "-2022 ReduceOnly Order is rejected.", created_ms))
    asks = [a.asks for a in stage.actions]  # its cancels, locks, what the runner carries out
    which = next((c.which for got in asks for c in got.cancels), None)
    if full or which is not None:
        cancels = [{"venue": venue, "account": account, "which": which or "all", "count": 2, "reason": "CANCEL_ORDERS"}]
    directives = [{"kind": a.kind, "params": dict(a.written), "text": action_text(a.kind, a.written)}
                  for a, got in zip(stage.actions, asks)  # a lock, or what the runner carries out
                  if got.directed]
    hedges = [{"base": "ETH", "side": "sell", "notional": 31_000.0, "notional_text": "31,000.00",
               "reason": "SUGGEST_HEDGE: net=31000 threshold=25000"}
              ] if full or any(a.kind == "suggest_hedge" for a in stage.actions) else []
    lock = _sample_lock(node, stage, asks, scope, level, created_ms)
    fired = ",".join(stage.on)
    return assemble(
        node=node, incident=incident, scope=scope, level=level, from_level=from_level,
        reason=f"ESCALATED: stage={from_level}->{level} triggers={fired}", created_ms=created_ms, digest=digest,
        revision=revision, mode=mode, values=values, reasons={}, results=results, orders=orders, cancels=cancels,
        directives=directives, hedges=hedges, skipped=[] if closes else [], attribution=(
            {"side": "LONG", "long_share": 0.82, "short_share": 0.18, "excluded": 0} if closes else None),
        positions=positions,
        positions_note="positions in this tick's snapshot less this tick's fills; confirm at the exchange",
        accounts=[{"account": acct, "fetch_ok": True, "error_code": None, "equity": 905_000.0,
                   "equity_text": "905,000.00", "data_age": "5s"}],
        lock=lock, state_url=state_url, equity=905_000.0, residuals=residuals,
    ) | ({"story": _sample_story(incident, scope, acct, created_ms)} if full else {})


def _sample_story(incident: str, scope: str, acct: str, created_ms: int) -> dict:
    """What became of the incident (:mod:`.story`), every part of it shown: ended, removed by a
    reload, pages delivered, failed and silenced, a lock violation and a revoke."""
    at = iso(created_ms + 600_000)
    broke: dict = {"at": iso(created_ms + 60_000), "kind": "LOCK_VIOLATION", "scope": scope, "mode": "halted",
                   "account": acct, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.5,
                   "notional": 30_000.0, "client_order_id": "bot-a-123", "order_id": "8812",
                   "strategy": "bot-a", "action": "cancel", "outcome": "canceled", "incident": incident,
                   # a revert's bots' orders (each its own strategy); a cancel names its own order
                   "orders": [], "orders_text": "",
                   "during": incident, "lock": None, "amount_step": 0.001}
    return {
        "ended": {"how": "reset", "at": at, "by": ["alice", "bob"], "to": 0,
                  "reason": "MANUAL_RESET: stage=3 approvers=alice,bob", "text": f"reset by alice, bob at {at}"},
        "removed": {"at": iso(created_ms + 300_000), "by": "reload"},
        "pages": {"delivered": ["desk-chat"], "failed": ["pager"], "silenced": ["desk-chat"],
                  "handed": [{"receiver": "desk-chat", "after": "1.2 s", "after_ms": 1_200, "source": "venue"}],
                  "first_out": {"receiver": "desk-chat", "at": iso(created_ms + 1_200), "n": 0},
                  "silences": [{"id": "ed63b161733f", "by": "alice", "comment": "on it", "ends": at, "over": False,
                                "expired_by": None,
                                "held": [{"receiver": "desk-chat", "at": iso(created_ms + 120_000), "n": 1,
                                          "events": ["stage_transition"]}],
                                "held_text": f"desk-chat's stage_transition page at {iso(created_ms + 120_000)}; "
                                             f"this incident's first page had gone out at {iso(created_ms + 1_200)} "
                                             "(to desk-chat), before the silence held any"}]},
        "halt_breaks": {
            "violations": [{**broke, "text": violation_text({**broke, "ts_ms": created_ms + 60_000})}],
            "trading": [{"at": iso(created_ms + 1_000), "event": "revoked", "account": acct, "keys": ["trade"],
                         "read_back": True, "code": None, "message": None, "why": "policy on " + scope,
                         "incident": incident}]},
    }


def _sample_values(node: PolicyNode, stage: StageNode) -> tuple[dict[str, Optional[float]], dict[str, dict]]:
    """Every signal's value (those the stage's triggers compare just past their thresholds, a
    computed threshold's from the others; the rest a quiet default) and every trigger's result."""
    types = {s.name: s.type for s in node.signals}
    values: dict[str, Optional[float]] = {}
    results: dict[str, dict] = {}
    for t in node.triggers:
        results[t.name] = {"firing": t.name in stage.on, "pending": None, "reason": None}
    for t in node.triggers:
        if t.name not in stage.on:
            continue
        for sig, op, threshold, _ in comparisons(t):
            if threshold is not None and sig not in values:
                values[sig] = round(_past(op, threshold, types.get(sig, ValueType.NUMBER)), 6)
    later = {c.signal for t in node.triggers if t.name in stage.on for c in t.comparisons if c.computed}
    for s in node.signals:
        if s.name not in values and s.name not in later:
            values[s.name] = {ValueType.RATIO: 0.01, ValueType.DURATION: 5.0}.get(s.type, 0.0)
    for t in node.triggers:  # a threshold computed from the others: just past its value from them
        for c in t.comparisons if t.name in stage.on else ():
            at = c.threshold_at(values) if c.computed and c.signal not in values else None
            if at is not None:
                values[c.signal] = round(_past(c.op, at, types.get(c.signal, ValueType.NUMBER)), 6)
    for s in node.signals:
        if s.name not in values:
            values[s.name] = {ValueType.RATIO: 0.01, ValueType.DURATION: 5.0}.get(s.type, 0.0)
    return values, results


def _sample_lock(node: PolicyNode, stage: StageNode, asks: list, scope: str, level: int, created_ms: int) -> dict:
    """The lock the stage's actions set (the first one asked for), or the scope's active state."""
    lock_action = next((lk for got in asks if got is not None for lk in got.locks), None)
    if lock_action is not None:
        lock_mode = lock_action.mode
        expires = None
        if lock_action.ttl_ms is not None and not stage.manual:
            expires = iso(created_ms + lock_action.ttl_ms)
        return {"locked": True, "mode": lock_mode, "scope": scope, "stage": level, "policy": node.name,
                "reason": f"LOCK_TRADING: mode={lock_mode} stage={level} policy={node.name}",
                "created_ts": iso(created_ms),
                "expires_ts": expires, "manual": stage.manual, "details": {}, "overrides": []}
    return {"locked": False, "mode": "active", "scope": scope, "stage": None, "policy": None, "reason": "ACTIVE",
            "created_ts": None, "expires_ts": None, "manual": False, "details": {}, "overrides": []}
