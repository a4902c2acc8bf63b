"""A reset of an instance at stage 0 says what is engaged instead (runner/operator/commands.py)."""

from __future__ import annotations

from types import SimpleNamespace

from killswitch.runner.operator.resets import engaged_now


def at(level: int):
    return SimpleNamespace(stage=SimpleNamespace(level=level))


def test_a_reset_of_a_calm_venue_names_the_engaged_account_of_that_venue_first():
    scopes = {"futures-book|binanceusdm": at(0), "portfolio-breaker|global": at(2),
              "bot-guard|binanceusdm/sim-main": at(1), "bot-guard|okx/main": at(0)}
    said = engaged_now(scopes, "futures-book", "binanceusdm")
    assert said == (": futures-book binanceusdm is at stage 0; engaged now: bot-guard binanceusdm/sim-main stage 1 "
                    "(ksctl reset --policy bot-guard --scope binanceusdm/sim-main); portfolio-breaker global stage 2 "
                    "(ksctl reset --policy portfolio-breaker --scope global)"), said


def test_nothing_engaged_is_said_so():
    assert engaged_now({"p|s": at(0)}, "p", "s") == ": p s is at stage 0, and no policy instance of this runner is " \
                                                    "engaged"


def test_many_engaged_are_bounded():
    scopes = {f"p|acc-{i}": at(1) for i in range(8)}
    assert engaged_now(scopes, "q", "x").endswith("; and 3 more")
