"""A runner with no policy instance says why where its scopes and charts would be: not ticked
yet, or ticking with no policy of its own (a shard under the firm-wide policies only), never
"has not ticked" under a fresh tick (issue 81)."""

from __future__ import annotations

from tests.unit.face.console.test_model import T0, model, render, status, text_of


def _scopes_and_charts(page: str) -> tuple[str, str]:
    text = text_of(page)
    return (text.split(" Scopes ", 1)[1].split(" Trading locks ", 1)[0],
            text.split(" Charts ", 1)[1])


def test_a_firm_only_shard_that_ticks_says_it_runs_no_policy_of_its_own():
    m = model(status((), last_tick_ms=T0 - 1_000))
    m["firm"] = {"firm_lease": {"holder": "ks-a", "token": 3}, "shards": [], "policies": []}
    scopes, charts = _scopes_and_charts(render(m))
    said = "No policy instance: this shard runs no policy of its own, only the firm-wide policies."
    assert said in scopes and said in charts
    assert "has not ticked" not in scopes + charts


def test_a_runner_without_policies_that_ticks_says_so_and_one_not_ticked_yet_says_that():
    scopes, charts = _scopes_and_charts(render(model(status((), last_tick_ms=T0 - 1_000))))
    assert "No policy instance: this runner runs no policy of its own." in scopes
    assert "has not ticked" not in scopes + charts
    scopes, charts = _scopes_and_charts(render(model(status((), last_tick_ms=None))))
    assert "No policy instance yet: the runner has not ticked." in scopes
    assert "the runner has not ticked" in charts
