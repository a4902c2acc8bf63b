"""An override of the limits in force is a standing fact (killswitch/facts/overrides.py): one per
active override, none for one pending, ended or expired; what ends it and the command that does."""

from __future__ import annotations

from killswitch.facts import shown, standing
from killswitch.view import OverrideStatus, RunnerStatus

T = 1_772_456_400_000


def override(id_: str, state: str, strategy=None) -> OverrideStatus:
    return OverrideStatus(id_, "binanceusdm/main", strategy, "raise", "max_order_notional", 150_000.0, None, 100_000.0,
                          "CLIENT_BLOCK_TRADE", "block trade agreed with risk", "ana", ("ben",), 2, 2, T - 60_000,
                          T + 1_800_000, T - 30_000 if state != "pending" else None, state, T,
                          what="raise max_order_notional to 150000")


def status(*overrides: OverrideStatus) -> RunnerStatus:
    return RunnerStatus("live", True, 3, "sha256:" + "0" * 64, None, None, T, overrides=overrides)


def test_an_override_in_force_stands_until_it_expires_or_is_ended():
    [fact] = standing(status(override("ovr-1", "active", "mm-btc"), override("ovr-2", "pending"),
                             override("ovr-3", "ended")))
    assert (fact.kind, fact.severity, fact.scope, fact.since_ms) == ("overrides", "accepted", "binanceusdm/main",
                                                                     T - 30_000)
    assert fact.ends == "it expires at 2026-03-02T13:30:00Z or is ended"
    assert fact.hint == "ksctl override end --override ovr-1"
    assert fact.text == ""  # ksctl status says it under its overrides
    line = shown("overrides", [fact], lambda ms: None)
    assert line is not None and line.title == "1 OVERRIDE OF THE LIMITS IN FORCE"
    assert line.line == ("approved, until they expire: raise max_order_notional to 150000 on binanceusdm/main "
                         "strategy mm-btc (ovr-1, ana, ben)")


def test_none_pending_or_ended_is_a_fact():
    assert standing(status(override("ovr-2", "pending"), override("ovr-3", "ended"))) == ()


def test_the_console_lists_it_among_the_standing_problems_with_what_ends_it():
    from tests.unit.face.console.test_model import ACC, model, render, status as console_status

    m = model(console_status((ACC,), overrides=(override("ovr-1", "active"),)))
    problem = m["standing"]["overrides"]
    assert (problem.tone, problem.title) == ("accepted", "1 OVERRIDE OF THE LIMITS IN FORCE")
    page = render(m)
    assert '<details class="problem accepted" data-keep="problem-overrides" id="problem-overrides">' in page
    # no template of its own: its facts listed (facts/_each.html.j2)
    assert "raise max_order_notional to 150000 on binanceusdm/main (ovr-1, ana, ben), since " in page
    assert ": until it expires at 2026-03-02T13:30:00Z or is ended; <code>ksctl override end --override ovr-1</code>" \
        in page
