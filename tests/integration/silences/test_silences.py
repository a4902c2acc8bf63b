"""Silences and acknowledgements against a live runner halted by a crash: ``ksctl silence`` and
``ksctl ack`` through the API, refusals with their reason codes and close matches, who may do
what, status (text and JSON), the incident, the audit chain, and a restart that keeps them."""

from __future__ import annotations

import asyncio
import json
import re

from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.client import RunnerClient
from killswitch.face.api.api import make_app
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.process.bootstrap import build_runner_and_desk
from tests.integration.runner.rig import TICK_MS, api_served, graph, setup, started

ALICE, VAL = "silence-test-alice", "silence-test-val"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator"], "sha256": token_digest(ALICE)},
    {"identity": "val", "roles": ["viewer"], "sha256": token_digest(VAL)}]})
SCOPE = "simulated/sim-main"


def test_silence_and_ack_through_the_cli_the_api_and_a_restart(tmp_path):
    runner, engine, clock, store, _, desk = setup(tmp_path)
    with api_served(lambda: make_app(desk, tokens=PEOPLE), lambda: started(runner, clock)) as url:
        alice, val = CliRunner(env={"KS_API_TOKEN": ALICE}), CliRunner(env={"KS_API_TOKEN": VAL})
        add = ["silence", "add", "--api", url, "--duration", "2h", "--reason", "alice: flatten done, on it"]
        # refusals: a label no page carries, a policy the runner does not run, a silence of everything
        r = alice.invoke(cli, add + ["--match", "polcy=crash-ladder"])
        assert r.exit_code == 1 and r.output.startswith("UNKNOWN_LABEL: no page carries a label 'polcy'; "
                                                        "did you mean policy?"), r.output
        r = alice.invoke(cli, add + ["--match", "policy=crash-ladr"])
        assert r.exit_code == 1 and r.output.startswith("UNKNOWN_POLICY: 'crash-ladr'") and "crash-ladder" in r.output
        r = alice.invoke(cli, add + ["--match", 'severity=~".*"'])
        assert r.exit_code == 1 and r.output.startswith("SILENCE_TOO_BROAD"), r.output
        r = alice.invoke(cli, add + ["--match", "policy=~crash-(ladder"])
        assert r.exit_code == 1 and r.output.startswith("BAD_MATCHER"), r.output
        # a list in one --match, as Alertmanager writes it: each of its matchers is checked
        r = alice.invoke(cli, add + ["--match", '{policy="crash-ladder", polcy!~"x|y"}'])
        assert r.exit_code == 1 and r.output.startswith("UNKNOWN_LABEL: no page carries a label 'polcy'"), r.output
        r = val.invoke(cli, add + ["--match", "policy=crash-ladder"])  # a viewer may look, not silence
        assert r.exit_code == 1 and "ROLE_REQUIRED" in r.output, r.output
        r = alice.invoke(cli, add[:-4] + ["--duration", "soon", "--reason", "x", "--match", "policy=crash-ladder"])
        assert r.exit_code == 2 and "--duration" in r.output
        # the silence
        r = alice.invoke(cli, add + ["--match", "policy=crash-ladder", "--match", f"scope={SCOPE}"])
        assert r.exit_code == 0, r.output
        m = re.fullmatch(r'policy="crash-ladder", scope="simulated/sim-main": affects 1 open incident, 0 pages\n'
                         r"  in the last day its matchers match 0 pages \(of 0 recorded in the audit trail's "
                         r"notification receipts\)\n"
                         r'  incident crash-ladder/simulated/sim-main/L3/e3\n'
                         r'SILENCED: ([0-9a-f]{12}) policy="crash-ladder", scope="simulated/sim-main" until '
                         r'\S+Z by alice; affects 1 open incident, 0 pages; holds back: the pages of the 1 '
                         r'open incident it matches now, and the pages it matches that are not stage entries; '
                         r"pages through: a NEW incident's stage entry \(another policy, an entry after a "
                         r'reset, an escalation; a cooldown re-run of a stage it holds is held\)\n', r.output)
        assert m, r.output
        sid = m.group(1)
        # what alice saw was the stage 3 incident: stored so (and its stage, for a runner of before)
        assert [(x.incidents, x.up_to_level) for x in store.silences() if x.id == sid] == \
            [(("crash-ladder/simulated/sim-main/L3/e3",), 3)]
        r = val.invoke(cli, ["silence", "list", "--api", url])  # viewers may list
        assert r.exit_code == 0 and re.match(
            rf'{sid}  ACTIVE   policy="crash-ladder", scope="simulated/sim-main"  by alice  ends in 2h '
            r"\(\S+Z\)  comment: flatten done, on it", r.output), r.output
        # the acknowledgement, by the scope's incident
        r = alice.invoke(cli, ["ack", "--api", url, "--policy", "crash-ladder", "--scope", SCOPE,
                               "--reason", "I have it"])
        assert r.exit_code == 0 and r.output == "ACKNOWLEDGED: crash-ladder/simulated/sim-main/L3/e3 by alice\n"
        r = alice.invoke(cli, ["ack", "--api", url, "--incident", "crash-ladder/simulated/sim-main/L3/e9"])
        assert r.exit_code == 1 and r.output.startswith("UNKNOWN_INCIDENT") and "L3/e3" in r.output, r.output
        r = alice.invoke(cli, ["ack", "--api", url, "--policy", "crash-ladder"])
        assert r.exit_code == 2
        r = alice.invoke(cli, ["status", "--api", url])
        assert re.search(r"stage 3 flatten .*ACKNOWLEDGED by alice at \S+Z: I have it", r.output), r.output
        doc = json.loads(alice.invoke(cli, ["status", "--api", url, "-o", "json"]).output)
        assert doc["scopes"][0]["ack"]["author"] == "alice" and doc["scopes"][0]["ack"]["comment"] == "I have it"
        [incident] = [i for i in RunnerClient(url, ALICE).incidents() if i.kind == "stage"]
        assert incident.ack is not None and incident.ack.author == "alice"
        assert [s.id for s in incident.silenced_by] == [sid]
        # audited, with the author
        rows = {r.kind: r.payload for r in store.audit_rows(kinds=["silence_added", "incident_acknowledged"])
                if "refused" not in r.payload}
        assert rows["silence_added"]["by"] == "alice" and rows["silence_added"]["id"] == sid
        assert rows["incident_acknowledged"]["by"] == "alice"
        assert any("refused" in r.payload and r.payload["refused"].startswith("UNKNOWN_LABEL")
                   for r in store.audit_rows(kinds=["silence_added"]))
    # a restart on the same store: the silence and the acknowledgement are still there
    again, again_desk, again_parts = build_runner_and_desk(
        graph(), runner.venues, store, lock_path=tmp_path / "lock2.json", dry_run=False,
        clock=clock, confirm_gap_ms=TICK_MS)
    with api_served(lambda: make_app(again_desk, tokens=PEOPLE), lambda: started(again, clock)) as url:
        assert [s.id for s in again_desk.silences()] == [sid] and again_desk.silences()[0].state == "active"
        assert again_desk.status().scopes[0].ack is not None and again_desk.status().scopes[0].ack.author == "alice"
        r = alice.invoke(cli, ["silence", "expire", "--api", url, "--silence", sid])
        assert r.exit_code == 0 and r.output.startswith(f"SILENCE_EXPIRED: {sid} ") and "by alice" in r.output
        r = alice.invoke(cli, ["silence", "expire", "--api", url, "--silence", sid])
        assert r.exit_code == 1 and "already ended" in r.output
        r = alice.invoke(cli, ["silence", "expire", "--api", url, "--silence", sid[:-1] + "x"])
        assert r.exit_code == 1 and r.output.startswith("UNKNOWN_SILENCE")
        r = alice.invoke(cli, ["silence", "list", "--api", url])
        assert f"{sid}  EXPIRED " in r.output and "expired by alice" in r.output
        [incident] = [i for i in RunnerClient(url, ALICE).incidents() if i.kind == "stage"]
        assert incident.silenced_by == ()


def test_an_acknowledgement_is_rendered_into_the_incident_runbook(tmp_path):
    """The runbook of the incident, rendered again with who has it: from the repository's
    templates and from the built-in runbook alike; one ``runbook_updated`` row says so."""
    from pathlib import Path

    from adapters.simulated.adapter import SimulatedAdapter
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.scenarios import build
    from killswitch.runbooks.sink import RunbookSink
    from killswitch.state import open_store
    from tests.integration.runner.rig import T0

    for name, root in (("templates", Path(__file__).resolve().parents[3] / "runbooks"), ("builtin", None)):
        clock = ManualClock(T0)
        engine = build("flash-crash", clock)
        store = open_store(f"sqlite://{tmp_path / (name + '.db')}")
        adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
        runner, desk, parts = build_runner_and_desk(graph(), {SCOPE: adapter}, store, sinks=[RunbookSink(root)],
                                             lock_path=tmp_path / f"{name}.json", dry_run=False, clock=clock,
                                             confirm_gap_ms=TICK_MS)

        async def go():
            await runner.start()
            for _ in range(60):
                clock.advance(TICK_MS)
                await runner.tick()
            before = store.runbook("crash-ladder/simulated/sim-main/L3/e3").markdown
            done = await desk.acknowledge(None, "crash-ladder", SCOPE, "flatten checked, on it", actor="alice")
            return before, done

        before, done = asyncio.run(go())
        assert done.done, done.reason
        after = store.runbook("crash-ladder/simulated/sim-main/L3/e3")
        assert "ACKNOWLEDGED" not in before
        assert re.search(r"\*\*ACKNOWLEDGED\*\* by alice at \S+Z: flatten checked, on it", after.markdown), name
        assert "ACKNOWLEDGED" in after.html and after.data["acknowledged"]["by"] == "alice"
        [row] = [r for r in store.audit_rows(kinds=["runbook_updated"]) if "acknowledged_by" in r.payload]
        assert row.payload["acknowledged_by"] == "alice"
        store.close()


def test_a_standby_shows_the_leaders_silences_and_acknowledgements_and_pages_by_them_once_it_leads(tmp_path):
    """The leader's silence and acknowledgement reach a standby on the same store at its next
    tick (it follows the saved state's mark), and a standby that takes over honours them."""
    from adapters.simulated.adapter import SimulatedAdapter
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.scenarios import build
    from killswitch.state import open_store
    from tests.integration.runner.rig import T0

    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    url = f"sqlite://{tmp_path / 'shared.db'}"

    def runner(holder):
        adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
        return build_runner_and_desk(graph(), {SCOPE: adapter}, open_store(url), lock_path=tmp_path / f"{holder}.json",
                                     dry_run=False, clock=clock, confirm_gap_ms=TICK_MS, holder=holder,
                                     lease_ttl_ms=20_000)

    (a, a_desk, a_parts), (b, b_desk, b_parts) = runner("a"), runner("b")

    async def go():
        await a.start()
        await b.start()
        for _ in range(60):
            clock.advance(TICK_MS)
            await a.tick()
            await b.tick()
        assert a_parts.lead.leader and not b_parts.lead.leader
        refused = await b_desk.silence_add(["policy=crash-ladder"], 3600, "on the standby", actor="alice")
        assert not refused.done and refused.reason.startswith("NOT_LEADER")
        added = await a_desk.silence_add(["policy=crash-ladder"], 3600, "alice has it", actor="alice")
        acked = await a_desk.acknowledge(None, "crash-ladder", SCOPE, "on it", actor="alice")
        assert added.done and acked.done
        clock.advance(TICK_MS)
        await a.tick()
        await b.tick()
        return added.silence.id

    sid = asyncio.run(go())
    assert [s.id for s in b_desk.silences()] == [sid]
    assert b_desk.status().scopes[0].ack is not None and b_desk.status().scopes[0].ack.comment == "on it"
    assert [s.id for s in b_parts.fanout.context.silences()] == [sid]  # what its notification sink would honour

    async def takeover():  # the leader stops; the standby takes the lease and reads the store again
        await a.aclose()
        for _ in range(6):
            clock.advance(TICK_MS)
            await b.tick()
        return b_parts.lead.leader

    assert asyncio.run(takeover())
    assert [s.id for s in b_parts.fanout.context.silences()] == [sid] and b_desk.silences()[0].author == "alice"


def test_a_manual_close_is_an_incident_one_may_acknowledge_with_its_whole_scope():
    from killswitch.runner.book.book import Book
    from killswitch.runner.silence.silences import Silences

    s = Silences(Book(graph()), None, None, None, clock=lambda: 0, catalog=lambda: None, save=None, emit=None,
                 open_closes=lambda: ("manual/binanceusdm/sim-main/m1772456400000",))
    assert s.open_incidents() == {"manual/binanceusdm/sim-main/m1772456400000": (None, "binanceusdm/sim-main", 0)}
