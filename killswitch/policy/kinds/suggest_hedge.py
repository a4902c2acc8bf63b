"""The ``suggest_hedge`` action: say which hedge would flatten what the stage leaves open.

A stage that cuts part of a book may leave it leaning one way: ``{suggest_hedge: {threshold:
25k}}`` reports, for every base asset whose net notional left open after the stage's closes is
above 25k either way, the hedge that would bring it to zero (``sell ETH ≈31,000``). It is a
suggestion for a person, in the plan, the runbook and the notifications: never an order.

What is left open is each position's notional less what the stage's closes ask of it (as asked,
before the planner rounds them to the step), the longs counting up and the shorts down, netted
by base asset (``BTC/USDT:USDT`` and ``BTC/USDC:USDC`` are both ``BTC``). So the kind plans after
every other action of the stage asked for its closes (``after_closes``); a stage with two of it
suggests once, from the last, as it always did.
"""


from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict
from ..units import AmountField


class SuggestHedge(Strict):
    """Suggest a hedge (no order) for each base asset whose net notional exceeds ``threshold``."""

    threshold: AmountField


@record
class SuggestHedgeParams:
    """suggest_hedge, compiled: the net notional above which a hedge is suggested."""

    threshold: float  # net notional per base asset above which a hedge is suggested


def build(p: SuggestHedge) -> SuggestHedgeParams:
    return SuggestHedgeParams(threshold=p.threshold.value)


def plan(params: SuggestHedgeParams, planning: ActionPlanning) -> None:
    threshold = params.threshold
    net: dict[str, float] = {}
    for snapshot, position in planning.positions():
        contracts = position.contracts
        left = contracts - planning.closing(snapshot, position)
        if contracts <= 0 or left <= 0:
            continue
        signed = position.notional * left / contracts * (1 if position.side == "long" else -1)
        base = planning.base_asset(position.symbol)
        net[base] = net.get(base, 0.0) + signed
    for base, v in sorted(net.items()):
        if abs(v) > threshold:
            planning.suggest_hedge(base, "sell" if v > 0 else "buy", abs(v),
                                   f"NET_EXPOSURE: base={base} net={v:+.0f} threshold={threshold:.0f}")


KIND = ActionKind("suggest_hedge", SuggestHedge, after_closes=True, build=build, plan=plan)
