"""A page of lock violations names every strategy in its title (killswitch/notify/message.py): a
page carrying alpha's cancel and beta's revert says both, not alpha's beside ``(+1 more)``."""

from __future__ import annotations

from killswitch.events import LOCK_VIOLATION, STAGE_TRANSITION, Event
from killswitch.notify.alerts import Alert
from killswitch.notify.dispatch import Notification
from killswitch.notify.message import compose, named_strategies

SCOPE = "binanceusdm/sim-main"


def violation(n: int, strategy: str, action: str = "cancel", strategies=None) -> Alert:
    data = {"action": action, "account": SCOPE, "symbol": "BTC/USDT:USDT", "side": "buy", "dry_run": False}
    if strategies:
        data["strategies"] = strategies
    e = Event.make(LOCK_VIOLATION, 1_000 + n, data, scope=SCOPE, strategy=strategy)
    return Alert(f"fp{n}", e.labels, e, e.ts_ms, e.ts_ms, False)


def page(*alerts: Alert) -> str:
    n = Notification("t", "desk", "g", {}, "route", tuple(alerts), tuple(a.fp for a in alerts), 0, 2_000)
    return compose(n).title


def test_two_strategies_in_one_page_are_both_named_in_its_title():
    title = page(violation(1, "alpha"), violation(2, "beta", "revert"))
    assert "by strategies alpha and beta: 2 violation(s)" in title, title
    assert "more" not in title, title


def test_a_revert_grown_by_two_bots_names_both_alone():
    title = page(violation(1, "alpha", "revert", ["alpha", "beta"]))
    assert "by strategies alpha and beta" in title, title


def test_one_strategy_keeps_its_headline_and_what_is_not_a_violation_is_counted():
    assert "by strategy alpha:" in page(violation(1, "alpha"), violation(2, "alpha"))
    stage = Event.make(STAGE_TRANSITION, 900, {"to": 1, "from": 0}, policy="p", scope=SCOPE, level="1",
                       stage="halt")
    title = page(violation(1, "alpha"), violation(2, "beta"), Alert("fp9", stage.labels, stage, 900, 900, False))
    assert "strategies alpha and beta" in title and title.endswith("(+1 more: stage transition)"), title


def test_many_strategies_are_named_up_to_a_bound_then_counted():
    names = [f"s{i}" for i in range(11)]
    said = named_strategies(names)
    assert said.startswith("strategies s0, s1,") and said.endswith("s7 and 3 more"), said
    assert named_strategies(["a", "b"]) == "strategies a and b" and named_strategies(["a"]) == "strategy a"
