"""``/metrics`` as Prometheus reads it: one registry, every family with HELP and TYPE, none twice.

The runner with every sink ``ksctl run`` wires (telemetry, audit anchor, runbooks, notifications)
and its lease thread's keeper, after a flash crash latched a stage and sent orders, so that the
families carry samples; the page is fetched over HTTP and parsed line by line."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.metrics import Registry, parse_families
from killswitch.process.bootstrap import SinkOptions, build_runner_and_desk, runner_sinks
from killswitch.runner.lease.keeper import LeaseKeeper
from killswitch.sources import compile_sources
from killswitch.state import open_store
from tests.conftest import POLICIES
from tests.integration.runner.rig import TICK_MS, parts_of, setup

TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def families_of(text: str) -> dict[str, dict]:
    """Every family of the page; fails on a family without HELP or TYPE, or a sample outside one."""
    fams = parse_families(text)  # raises on a HELP or TYPE given twice, or a family in two blocks
    no_help = sorted(n for n, f in fams.items() if not f["help"])
    no_type = sorted(n for n, f in fams.items() if f["type"] not in TYPES)
    assert not no_help, f"families without # HELP: {no_help}"
    assert not no_type, f"families without a # TYPE: {no_type}"
    return fams


def test_metrics_page_has_help_and_type_on_every_family_and_no_family_twice(tmp_path, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    runner, engine, clock, store, _, _ = setup(tmp_path)
    parts = parts_of(runner)
    routes, _ = compile_sources((str(POLICIES / "routes.yaml"),))
    sinks = runner_sinks(routes, store, SinkOptions(audit_anchor_every_ms=1_000))
    runner, desk, parts = build_runner_and_desk(parts.book.graph, runner.venues, store, sinks=sinks,
                                         lock_path=tmp_path / "lock2.json", dry_run=False, clock=clock,
                                         confirm_gap_ms=TICK_MS)
    keeper_store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    keeper = LeaseKeeper(keeper_store, "runner", 5_000, clock=clock)

    async def go():
        await runner.start()
        for _ in range(60):
            clock.advance(TICK_MS)
            await runner.tick()
        runner.hold_lease_with(keeper)  # (not started: its families are on the page, at 0)
        site, url = await start_api(make_app(desk, token="t0ken-for-tests-only"))
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(url + "/metrics") as r:
                    assert r.status == 200
                    return await r.text()
        finally:
            await stop_api(site)
            await runner.aclose()

    try:
        text = asyncio.run(asyncio.wait_for(go(), 60))
    finally:
        keeper_store.close()
    fams = families_of(text)
    # each part is on the page: the runner, the lease thread, telemetry, audit anchor, runbooks, notify
    for name in ("killswitch_ticks_total", "killswitch_lease_renewals_total", "killswitch_tick_duration_seconds",
                 "killswitch_audit_anchored", "killswitch_runbooks_rendered_total", "killswitch_notifications_total"):
        assert name in fams, name
    assert fams["killswitch_ticks_total"]["samples"] == ["killswitch_ticks_total 60.0"]
    assert any(s.startswith("killswitch_stage{") for s in fams["killswitch_stage"]["samples"])
    assert fams["killswitch_tick_duration_seconds"]["type"] == "histogram"
    assert any(s.startswith("killswitch_tick_duration_seconds_bucket{") for s in
               fams["killswitch_tick_duration_seconds"]["samples"])


def test_the_page_check_fails_on_a_family_without_help_or_written_twice():
    with pytest.raises(AssertionError, match="without # HELP: \\['x_total'\\]"):
        families_of("# TYPE x_total counter\nx_total 1\n")
    with pytest.raises(AssertionError, match="without a # TYPE: \\['y'\\]"):
        families_of("# HELP y a gauge\ny 1\n")
    with pytest.raises(ValueError, match="not together"):
        families_of("# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na{k=\"v\"} 2\n")
    with pytest.raises(ValueError, match="given twice"):
        families_of("# HELP a x\n# TYPE a gauge\na 1\n# TYPE a gauge\n")


def test_the_registry_refuses_a_family_registered_twice_across_parts():
    own = Registry()
    own.counter("killswitch_events_total", "Events.")
    reg = Registry()
    reg.sampled("killswitch_events_total", "counter", "Events, again.").add(1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.include(own)
    with pytest.raises(ValueError, match="help text"):
        reg.sampled("killswitch_other", "gauge", " ")
