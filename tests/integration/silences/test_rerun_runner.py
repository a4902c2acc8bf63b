"""A stage re-run every cooldown while its trigger fires stays under the silence made for it (walk 11
of issue 65, H2), against a live runner: the silence by matchers and the one made from the incident
are carried on to each re-run's new incident id (stored), hold its page, are not IDLE, and the one
made from the incident does not end with the incident its re-run replaced. The console card and
``ksctl status`` give the same entry time: the stage's first, the re-run beside it."""

from __future__ import annotations

import asyncio
import textwrap

from killswitch.face.console.model import _incident
from killswitch.silences import silencing
from tests.integration.runner.rig import TICK_MS, drive, parts_of, setup
from tests.integration.silences.test_incident import Pages
from tests.unit.engine_helpers import compile_graph

SCOPE = "simulated/sim-main"
POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: beat-watch}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 10m, min_coverage: 5%}}
      triggers:
        slow_beat: {when: "dd >= 1%", on_missing_data: hold}
      stages:
        - {level: 1, name: slow, on: [slow_beat], cooldown: 30s, reset_after: 1m,
           actions: [{lock_trading: {mode: reducing}}]}
    """
)


def _entered(tmp_path, pages):
    """A runner whose scope just entered beat-watch's stage 1."""
    runner, _, clock, store, _, desk = setup(tmp_path, policies=compile_graph(POLICY, "beat-watch.yaml"), sinks=[pages])
    asyncio.run(runner.start())
    for _ in range(60):  # the crash: the drawdown passes 1% and stays there (its window is 10m)
        asyncio.run(drive(runner, clock, 1))
        if desk.status().scopes and desk.status().scopes[0].stage:
            break
    [scope] = desk.status().scopes
    assert scope.stage == 1
    return runner, clock, store, desk, scope


def test_a_stages_cooldown_re_runs_stay_under_the_silence_made_for_it(tmp_path):
    pages = Pages([])
    runner, clock, store, desk, scope = _entered(tmp_path, pages)
    first = f"beat-watch/{SCOPE}/L1/e1"
    by_match = asyncio.run(desk.silence_add(["policy=beat-watch", f"scope={SCOPE}"], 3600, "bot-b restarting",
                                            actor="alice"))
    by_incident = asyncio.run(desk.silence_add([], 3600, "on it", actor="alice", incident=first))
    assert by_match.done and by_incident.done, (by_match.reason, by_incident.reason)
    ids = {by_match.silence.id, by_incident.silence.id}
    parts = parts_of(runner)
    for k in (2, 3):  # two re-runs, 30 s apart: each a new incident id, e1 -> e2 -> e3
        asyncio.run(drive(runner, clock, 30_000 // TICK_MS))
        incident = f"beat-watch/{SCOPE}/L1/e{k}"
        [rerun] = [e for e in pages.events if e.kind == "stage_transition" and e.labels.get("incident") == incident]
        assert rerun.labels["from_level"] == rerun.labels["level"] == "1"
        held = silencing({**rerun.labels, "receiver": "pager"}, parts.fanout.context.silences(), clock())
        assert set(held) == ids, held  # its page is held back, by both
        shown = {s.id: s for s in desk.silences()}
        assert all(shown[i].state == "active" and shown[i].idle is None for i in ids), shown
        stored = {s.id: s for s in store.silences()}
        assert all(incident in (stored[i].incidents or ()) for i in ids)  # carried on, in the store


def test_the_card_and_the_status_give_the_stages_first_entry_and_the_card_its_re_run(tmp_path):
    runner, clock, _, desk, scope = _entered(tmp_path, Pages([]))
    entered = scope.entered_ms
    asyncio.run(drive(runner, clock, 2 * 30_000 // TICK_MS))  # two cooldown re-runs: e3
    # one entry time, the stage's first, in the status and on the console's card; the re-run beside it
    [scope] = desk.status().scopes
    [card] = [i for i in asyncio.run(desk.incidents()) if i.kind == "stage"]
    assert card.incident == f"beat-watch/{SCOPE}/L1/e3"
    assert scope.entered_ms == card.since_ms == entered and card.rerun_ms is not None and card.rerun_ms > entered
    row = _incident(card, clock())
    assert row["since"]["ms"] == entered and row["rerun"]["ms"] == card.rerun_ms
