"""A scripted flash crash on the simulated exchange, through the runner with the runbook sink:
every stage entry leaves a runbook in the store that says what happened, the API serves it,
``ksctl runbook render`` renders it again, and the closure report accounts for it."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import quote

import aiohttp
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.events import runbook_path
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.runbooks.sink import RunbookSink
from tests.integration.runner.rig import drive, parts_of, positions, setup

from ..conftest import ROOT

TOKEN = "t0ken-for-runbook-tests"
L3 = "crash-ladder/simulated/sim-main/L3/e3"


def crash(tmp_path, templates=ROOT / "runbooks"):
    runner, engine, clock, store, _, desk = setup(tmp_path)
    parts = parts_of(runner)
    sink = RunbookSink(templates)
    parts.fanout.sinks.append(sink)

    async def go():
        await runner.start()
        return await drive(runner, clock, 60)

    reports = asyncio.run(asyncio.wait_for(go(), 60))
    return runner, engine, clock, store, sink, reports, desk


def test_every_stage_entry_of_the_crash_has_a_stored_runbook_that_says_what_happened(tmp_path):
    runner, engine, clock, store, sink, reports, _ = crash(tmp_path)
    parts = parts_of(runner)
    assert parts.fanout.errors == 0
    entries = [s.transition.decision_id for r in reports for s in r.transitions if s.transition.decision_id]
    assert entries == ["crash-ladder/simulated/sim-main/L1/e1", "crash-ladder/simulated/sim-main/L2/e2", L3]
    stored = store.runbooks()
    assert [r.incident for r in stored] == entries
    assert all(r.template == "default.md.j2" and r.graph_digest == parts.book.graph.digest for r in stored)
    assert sink.rendered == 3 and sink.fallbacks == 0 and sink.last_render_ms is not None
    # every close filled at its entry: nothing to bring up to date but the ends of L1 and L2 (escalated)
    assert sink.updated == 2 and not sink._following
    for level, nxt in ((1, 2), (2, 3)):
        lower = store.runbook(f"crash-ladder/simulated/sim-main/L{level}/e{level}")
        assert lower.data["story"]["ended"]["how"] == "escalated", lower.data["story"]
        assert re.search(rf"> \*\*ENDED\*\*: escalated to stage {nxt} at \S+Z \(`crash-ladder/simulated/sim-main/"
                         rf"L{nxt}/e{nxt}`\)", lower.markdown), lower.markdown[:600]
    assert "ENDED" not in store.runbook(L3).markdown

    rb = store.runbook(L3)
    data = rb.data
    l3 = next(r for r in reports if any(s.transition.decision_id == L3 for s in r.transitions))
    sent = [o for o in l3.execution.orders if o.decision_id == L3]
    assert sent and all(o.status == "filled" for o in sent)
    # what fired: the drawdown against the flatten threshold
    [fired] = data["fired"]
    assert fired["name"] == "hard" and fired["checks"][0]["breached"] is True
    assert re.search(r"`dd` = \*\*4\.\d\d%\*\*, threshold `>= 4%`: breached", rb.markdown)
    # what was done: every order of the entry with the venue's answer
    assert {o["client_order_id"]: o["status"] for o in data["actions"]["orders"]} == \
        {o.client_order_id: "filled" for o in sent}
    for o in sent:
        assert o.symbol in rb.markdown
    assert f"{len(sent)} orders" in rb.markdown and f"{len(sent)} filled, 0 failed" in rb.markdown
    # residual positions: the crash ends flat, and so does the runbook
    assert positions(engine) == {} and data["positions"] == []
    assert "No position left in scope." in rb.markdown
    # the lock, the graph, the commands, the checklist
    assert data["lock"]["locked"] and data["lock"]["mode"] == "halted"
    assert "is **HALTED**" in rb.markdown and "until the stage is reset" in rb.markdown
    assert parts.book.graph.digest in rb.markdown
    assert ("ksctl reset --policy crash-ladder --scope simulated/sim-main --reason" in rb.markdown)
    assert "--approver" not in rb.markdown  # the approver is the token's identity
    assert f"ksctl audit verify --state {store.url}" in rb.markdown
    for item in ("positions confirmed closed", "exchange reconciliation", "PnL of the incident recorded",
                 "notifications delivered", "audit trail verified", "root cause", "resumption plan"):
        assert f"- [ ] {item}" in rb.markdown, item
    # the lower stage's runbook says what came next, with the next stage's threshold
    l1 = store.runbook("crash-ladder/simulated/sim-main/L1/e1")
    assert l1.data["next_stage"]["name"] == "trim-more"
    assert "stage **2 (trim-more)** is entered when one of these fires" in l1.markdown
    assert "`>= 2.5%`" in l1.markdown
    # each render is in the audit trail, which still verifies
    rendered = store.audit_rows(kinds=["runbook_rendered"])
    assert [r.payload["incident"] for r in rendered] == entries
    assert [r.payload["incident"] for r in store.audit_rows(kinds=["runbook_updated"])] == entries[:2]
    assert store.verify_audit() == (True, None)


def test_the_runbook_of_a_reset_incident_says_it_ended_by_whom_in_the_store_and_after_a_restart(tmp_path,
                                                                                                  monkeypatch):
    """Walk 3 M1: after the reset the stored runbook (what the API and the console serve) says
    ENDED with its approvers, and no longer that the stage holds or that bots are halted until
    a reset; ``ksctl runbook render`` says the same from the store alone, the runner gone."""
    runner, engine, clock, store, sink, _, desk = crash(tmp_path)
    before = store.runbook(L3).markdown
    assert "**LATCHED**" in before and "until the stage is reset" in before and "ENDED" not in before
    done = asyncio.run(desk.reset("crash-ladder", "simulated/sim-main", "alice", "flat and reconciled",
                                  confirm_relatch=True))
    assert done.done, done.reason
    rb = store.runbook(L3)
    assert re.search(r"^> \*\*ENDED\*\*: reset by alice at \S+Z\.", rb.markdown, re.M), rb.markdown[:800]
    assert rb.data["story"]["ended"]["by"] == ["alice"]
    assert "**LATCHED**" not in rb.markdown and "until the stage is reset" not in rb.markdown
    assert "was **HALTED** by this incident from" in rb.markdown and "ENDED" in rb.html
    assert "Bots were locked out" not in rb.markdown  # the default template: no flatten first steps

    async def served():  # what the API (and the console's runbook dialog, from the same record) serves
        site, api = await start_api(make_app(desk, token=TOKEN))
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                async with http.get(api + runbook_path(L3)) as r:
                    return r.status, await r.text()
        finally:
            await stop_api(site)

    assert asyncio.run(asyncio.wait_for(served(), 30)) == (200, rb.markdown)
    url = store.url
    store.close()  # the runner's store gone: what follows reads the file alone
    monkeypatch.chdir(ROOT)
    out = CliRunner().invoke(cli, ["runbook", "render", "--incident", L3, "--state", url])
    assert out.exit_code == 0, out.output
    assert re.search(r"^> \*\*ENDED\*\*: reset by alice at \S+Z\.", out.output, re.M)
    assert out.output == rb.markdown
    # the list says which ended, and how (walk 7's L1)
    listed = CliRunner().invoke(cli, ["runbook", "list", "--state", url])
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if f"  {L3}  " in x)
    assert re.search(r"  ENDED: reset by alice at \S+Z$", line), line
    doc = json.loads(CliRunner().invoke(cli, ["runbook", "list", "--state", url, "-o", "json"]).output)
    assert [r["ended"] for r in doc["runbooks"] if r["incident"] == L3][0].startswith("reset by alice at ")


def test_the_api_serves_the_runbook_and_says_why_when_it_cannot(tmp_path):
    runner, *_, desk = crash(tmp_path)
    assert runbook_path(L3) == "/v1/runbooks/" + quote(L3, safe="")

    async def go():
        site, url = await start_api(make_app(desk, token=TOKEN))
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                async with http.get(url + runbook_path(L3)) as r:
                    md = (r.status, r.content_type, await r.text())
                async with http.get(url + runbook_path(L3) + "?format=html") as r:
                    html = (r.status, r.content_type, await r.text(), r.headers.get("Content-Security-Policy"))
                async with http.get(url + runbook_path("crash-ladder/simulated/sim-main/L3/e9")) as r:
                    unknown = (r.status, await r.json())
                async with http.get(url + runbook_path(L3) + "?format=pdf") as r:
                    bad = (r.status, await r.json())
            return md, html, unknown, bad
        finally:
            await stop_api(site)

    md, html, unknown, bad = asyncio.run(asyncio.wait_for(go(), 30))
    stored = runner.store.runbook(L3)
    assert md == (200, "text/markdown", stored.markdown)
    assert html[:3] == (200, "text/html", stored.html) and "default-src 'none'" in html[3]
    assert unknown[0] == 404 and unknown[1]["error"] == "UNKNOWN_INCIDENT"
    assert bad[0] == 400 and "md or html" in bad[1]["reason"]


def test_ksctl_runbook_render_and_report_read_the_crash_back(tmp_path, monkeypatch):
    runner, engine, clock, store, *_ = crash(tmp_path)
    url = store.url
    monkeypatch.chdir(ROOT)  # runbooks/ is found from here
    cli_ = CliRunner()
    out = cli_.invoke(cli, ["runbook", "render", "--incident", L3, "--state", url])
    assert out.exit_code == 0, out.output
    assert out.output == store.runbook(L3).markdown  # same data, same templates: the same runbook

    out = cli_.invoke(cli, ["report", "--since", "2026-03-02", "--until", "2026-03-03", "--state", url,
                            "-o", "json"])
    assert out.exit_code == 4, out.output  # no key, no anchor: consistent, but checked against nothing
    doc = json.loads(out.stdout)
    assert doc["audit"]["verdict"] == "consistent_unverified" and doc["audit"]["passed"] is False
    assert [i["incident"] for i in doc["incidents"]] == [
        "crash-ladder/simulated/sim-main/L1/e1", "crash-ladder/simulated/sim-main/L2/e2", L3]
    first, _, last = doc["incidents"]
    assert first["ended"]["how"] == "escalated" and last["ended"] is None  # the flatten is latched
    assert last["runbook"] == {"template": "default.md.j2", "path": runbook_path(L3)}
    assert last["orders"]["total"] == last["orders"]["filled"] > 0
    assert doc["summary"]["orders"] == len(store.journal(limit=1000))


def test_ksctl_run_wires_the_runbook_sink_between_telemetry_and_notifications(tmp_path):
    from killswitch.process.bootstrap import SinkOptions, runner_sinks
    from killswitch.process.options import RunOptions
    from killswitch.sources import compile_sources
    from killswitch.state import open_store

    opts = RunOptions(policies=(str(ROOT / "policies"),), accounts=str(ROOT / "policies" / "accounts.yaml"),
                      state_url=f"sqlite://{tmp_path / 'state.db'}", lock_file=str(tmp_path / "lock.json"))
    said: list[str] = []
    store = open_store(opts.state_url)
    try:
        sinks = runner_sinks(compile_sources(tuple(opts.policies))[0], store, SinkOptions(policies=opts.policies),
                             echo=said.append, err=said.append)  # the sinks as `ksctl run` builds them
    finally:
        store.close()
    names = [s.name for s in sinks]
    assert names.count("runbooks") == 1
    rb = sinks[names.index("runbooks")]
    # the example policies' own templates: policies/ is a repository of its own (runbooks/ links to them)
    assert isinstance(rb, RunbookSink) and rb.root == ROOT / "policies" / "runbooks"
    assert f"ksctl run: runbook templates {ROOT / 'policies' / 'runbooks'}" in said
    if "telemetry" in names:
        assert names.index("telemetry") < names.index("runbooks")
    if "notify" in names:
        assert names.index("runbooks") < names.index("notify")


def test_broken_templates_never_cost_an_incident_its_runbook(tmp_path):
    broken = tmp_path / "runbooks"
    broken.mkdir()
    (broken / "default.md.j2").write_text("# {{ stage.nmae }}\n")
    runner, engine, clock, store, sink, _, desk = crash(tmp_path, templates=broken)
    parts = parts_of(runner)
    assert parts.fanout.errors == 0 and sink.rendered == sink.fallbacks == 3
    rb = store.runbook(L3)
    assert rb.template == "builtin" and "ksctl reset --policy crash-ladder" in rb.markdown
    [row] = [r for r in store.audit_rows(kinds=["runbook_rendered"]) if r.payload["incident"] == L3]
    assert row.payload["template"] == "builtin" and "default.md.j2:1" in row.payload["problems"][0]
    assert "killswitch_runbook_template_fallbacks_total 3.0" in desk.metrics_text()
    # a reset is an event too, but no stage is entered: no runbook
    assert asyncio.run(desk.reset("crash-ladder", "simulated/sim-main", "alice", "flat and reconciled",
                                    confirm_relatch=True)).done
    assert [r.incident for r in store.runbooks()][-1] == L3 and sink.rendered == 3


def test_templates_are_read_again_when_the_graph_changes(tmp_path):
    class _Graph:
        digest = "sha256:one"

    class _Runner:
        graph = _Graph()

    root = tmp_path / "runbooks"
    root.mkdir()
    (root / "default.md.j2").write_text("v1\n")
    sink, runner = RunbookSink(root), _Runner()
    assert sink.templates(runner).sources == {"default.md.j2": "v1\n"}
    (root / "default.md.j2").write_text("v2\n")
    assert sink.templates(runner).sources == {"default.md.j2": "v1\n"}  # same graph: no file read per incident
    runner.graph = type("_G", (), {"digest": "sha256:two"})()
    assert sink.templates(runner).sources == {"default.md.j2": "v2\n"}


def test_a_runbook_is_brought_up_to_date_as_refused_closes_are_planned_again_and_fill(tmp_path):
    """The venue refuses the first closes; the runbook stored at the stage entry says so, and is
    rendered again as the re-planned closes fill, until every order of the incident settled."""
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.faults import FaultPlan
    from adapters.simulated.scenarios import build
    from tests.integration.runner.rig import T0

    clock = ManualClock(T0)
    engine = build("flash-crash", clock, faults=FaultPlan().add("place_order", "reject_reduce_only", times=2,
                                                                account="sim-main"))
    runner, engine, clock, store, _, _ = setup(tmp_path, engine=engine, clock=clock)
    parts = parts_of(runner)
    sink = RunbookSink(ROOT / "runbooks")
    parts.fanout.sinks.append(sink)

    async def go():
        await runner.start()
        return await drive(runner, clock, 60)

    reports = asyncio.run(asyncio.wait_for(go(), 60))
    assert parts.fanout.errors == 0
    first = next(s.transition.decision_id for r in reports for s in r.transitions if s.transition.decision_id)
    entry = next(r for r in reports if any(s.transition.decision_id == first for s in r.transitions))
    refused = [o.client_order_id for o in entry.execution.orders if o.status != "filled"]
    assert refused, "the fault refuses closes of the first stage entry"
    rb = store.runbook(first)
    data = rb.data
    by_id = {o["client_order_id"]: o for o in data["actions"]["orders"]}
    assert all(by_id[c]["status"] == "rejected" for c in refused)
    replans = [o for o in data["actions"]["orders"] if o["client_order_id"] not in
               {x.client_order_id for x in entry.execution.orders}]
    assert replans and all(o["status"] == "filled" for o in replans), data["actions"]["orders"]
    assert data["updated"] and data["settled"] is True
    assert data["equity"] is not None and f"| equity at entry | {data['equity_text']} |" in rb.markdown
    entered = store.audit_rows(kinds=["runbook_rendered"])
    first_render = next(r for r in entered if r.payload["incident"] == first)
    assert first_render.payload["sha256"] != rows_sha(store, first)  # stored in place of the first render
    assert f"**Updated {data['updated']}**: every order of this incident has settled" in rb.markdown
    summary = data["actions"]["summary"]
    assert summary["orders"] == len(data["actions"]["orders"]) and summary["open"] == 0
    assert (f"{summary['orders']} orders (≈{summary['notional']:,.2f} notional): {summary['filled']} filled, "
            f"{summary['failed']} failed, 0 not settled") in rb.markdown
    rows = [r for r in store.audit_rows(kinds=["runbook_updated"])
            if r.payload["incident"] == first and "settled" in r.payload]  # (not its end, when escalated)
    assert rows and rows[-1].payload["settled"] is True and rows[-1].payload["orders"]["filled"] >= len(replans)
    assert sink.updated >= 1 and not sink._following
    assert "killswitch_runbooks_updated_total" in sink.metrics_text()
    # an incident whose closes all filled at its entry is left as it was rendered
    last = store.runbooks()[-1]
    assert last.incident != first and all(o["status"] == "filled" for o in last.data["actions"]["orders"])
    assert last.data["updated"] is None
    # rendering the stored data again says the same
    again = CliRunner().invoke(cli, ["runbook", "render", "--incident", first, "--state", store.url,
                                     "--runbooks", str(ROOT / "runbooks")])
    assert again.exit_code == 0, again.output
    assert f"**Updated {data['updated']}**" in again.output


def rows_sha(store, incident):
    import hashlib

    return hashlib.sha256(store.runbook(incident).markdown.encode("utf-8")).hexdigest()


def test_a_restarted_runner_goes_on_bringing_the_runbook_up_to_date(tmp_path):
    """The runner stops between the refused closes and their re-plan: the next one follows the
    incident from its stored runbook and marks it settled."""
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.faults import FaultPlan
    from adapters.simulated.scenarios import build
    from tests.integration.runner.rig import T0

    clock = ManualClock(T0)
    engine = build("flash-crash", clock, faults=FaultPlan().add("place_order", "reject_reduce_only", times=2,
                                                                account="sim-main"))
    runner, engine, clock, store, _, _ = setup(tmp_path, engine=engine, clock=clock)
    parts = parts_of(runner)
    parts.fanout.sinks.append(sink := RunbookSink(ROOT / "runbooks"))

    async def until_refused():
        await runner.start()
        for _ in range(60):
            clock.advance(5_000)
            report = await runner.tick()
            if any(o.status != "filled" for o in report.execution.orders):
                return report

    report = asyncio.run(asyncio.wait_for(until_refused(), 60))
    assert report is not None and sink._following
    incident = next(iter(sink._following))
    store.close()
    again, *_ = setup(tmp_path, engine=engine, clock=clock)
    again_parts = parts_of(again)
    again_parts.fanout.sinks.append(sink2 := RunbookSink(ROOT / "runbooks"))

    async def more():
        await again.start()
        return await drive(again, clock, 10)

    asyncio.run(asyncio.wait_for(more(), 60))
    data = again.store.runbook(incident).data
    assert data["settled"] is True and sink2.updated >= 1, data["actions"]["summary"]
    assert data["actions"]["summary"]["open"] == 0


def test_without_a_runbooks_directory_the_builtin_runbook_is_not_an_error_span(tmp_path):
    """The chart's default: no runbooks/ directory. The built-in runbook is what is meant, so its
    renders are not failures: no "could not be used" box, no template fallback counted, and the
    killswitch.runbook.render spans are not errors (a broken template still is, see above)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    from killswitch.telemetry import TelemetrySink
    from killswitch.telemetry.attributes import SPAN_RUNBOOK

    mem = InMemorySpanExporter()
    runner, engine, clock, store, _, _ = setup(tmp_path)
    parts = parts_of(runner)
    parts.fanout.sinks.append(TelemetrySink(mem, synchronous=True))
    sink = RunbookSink(None)
    parts.fanout.sinks.append(sink)

    async def go():
        await runner.start()
        await drive(runner, clock, 60)
        await runner.aclose()

    asyncio.run(asyncio.wait_for(go(), 60))
    assert sink.rendered == 3 and sink.fallbacks == 0
    rb = store.runbook(L3)
    assert rb.template == "builtin" and "could not be used" not in rb.markdown
    spans = [s for s in mem.get_finished_spans() if s.name == SPAN_RUNBOOK]
    # the three entries, and L1 and L2 rendered again when the next stage ended them
    assert len(spans) == 5, [s.name for s in mem.get_finished_spans()]
    assert all(s.status.status_code is not StatusCode.ERROR for s in spans)
    assert {s.attributes.get("killswitch.runbook.result") for s in spans} == {"rendered"}


def test_the_runbook_says_where_its_pages_went_and_which_a_silence_held_back_as_the_receipts_come(tmp_path):
    """Walk 3 M3, walk 4 M4: once the notification sink's receipts of the incident's pages are
    in the audit trail (written as it writes them), the next tick stores its runbook again with
    where they went, which failed, and the silence that held one back (its id, who, why, end)."""
    runner, engine, clock, store, sink, _, desk = crash(tmp_path)
    parts = parts_of(runner)
    before = store.runbook(L3).markdown
    assert "PAGES SILENCED" not in before and "- [ ] notifications delivered" in before
    made = asyncio.run(desk.silence_add(["policy=crash-ladder"], 7_200, "flatten checked, on it", actor="alice"))
    assert made.done, made.reason
    sid = made.silence.id
    now = clock()
    for kind, extra in (("notification_delivered", {"receiver": "desk-chat", "result": "delivered"}),
                        ("notification_failed", {"receiver": "pager", "result": "failed", "final": True}),
                        ("notification_silenced", {"receiver": "desk-chat", "result": "silenced", "silences": [sid]})):
        parts.fanout.context.audit_receipt(kind, now, {**extra, "incidents": [L3], "event_kinds": ["order_failed"]})
    asyncio.run(drive(runner, clock, 1))
    md = store.runbook(L3).markdown
    head = md.split("| | |")[0]
    assert re.search(rf"> \*\*PAGES SILENCED\*\* by {sid} \(alice: flatten checked, on it\), ends \S+Z: it held "
                     r"back this incident's pages to desk-chat", head), head
    assert "- [ ] notifications: this incident's pages went to desk-chat; **failed for pager**; held back by a " \
           "silence for desk-chat" in md
    [row] = [r for r in store.audit_rows(kinds=["runbook_updated"]) if r.payload["incident"] == L3]
    asyncio.run(drive(runner, clock, 2))  # nothing new: not rendered again
    assert len([r for r in store.audit_rows(kinds=["runbook_updated"]) if r.payload["incident"] == L3]) == 1


def test_policies_outside_the_repository_warn_that_the_built_in_runbook_is_used(tmp_path):
    """A walk-through's policy copied to /tmp finds no runbook templates: said as a WARNING that
    names --runbooks, not an INFO line a newcomer misses."""
    import shutil

    from killswitch.process.bootstrap import SinkOptions, runner_sinks
    from killswitch.sources import compile_sources
    from killswitch.state import open_store

    pol = tmp_path / "pol"
    shutil.copytree(ROOT / "policies", pol, ignore=shutil.ignore_patterns("runbooks"))  # the policies alone
    said: list[str] = []
    warned: list[str] = []
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    try:
        sinks = runner_sinks(compile_sources((str(pol),))[0], store, SinkOptions(policies=(str(pol),)),
                             echo=said.append, err=said.append, warn=warned.append)
    finally:
        store.close()
    rb = next(s for s in sinks if s.name == "runbooks")
    assert isinstance(rb, RunbookSink) and rb.root is None
    assert any("WARNING: runbook templates not found" in w and "--runbooks" in w for w in warned), (said, warned)


def test_a_runbook_lists_its_first_orders_and_largest_positions_and_counts_every_one(tmp_path, monkeypatch):
    """Over a book larger than a runbook lists (``ROWS``, here 1), the tables hold the first
    orders sent and the largest positions left; the summary counts every order and the rest are
    said, the same crash listing everything (the default bound) being the measure."""
    from killswitch.runbooks import incident

    (tmp_path / "all").mkdir()
    (tmp_path / "one").mkdir()
    *_, whole, _, _, _ = crash(tmp_path / "all")
    monkeypatch.setattr(incident, "ROWS", 1)
    runner, engine, clock, store, sink, reports, _ = crash(tmp_path / "one")
    assert parts_of(runner).fanout.errors == 0
    l3 = next(r for r in reports if any(s.transition.decision_id == L3 for s in r.transitions))
    sent = [o for o in l3.execution.orders if o.decision_id == L3]
    assert len(sent) > 1
    rb = store.runbook(L3)
    assert [o["client_order_id"] for o in rb.data["actions"]["orders"]] == [sent[0].client_order_id]
    assert rb.data["actions"]["summary"] == whole.runbook(L3).data["actions"]["summary"]
    assert rb.data["actions"]["summary"]["orders"] == len(sent)
    assert f"{len(sent) - 1} more are counted below" in rb.markdown
    assert f"{len(sent)} orders" in rb.markdown and f"{len(sent)} filled, 0 failed" in rb.markdown
    # the first stage trims: positions are left, the largest listed, the others counted
    l1 = "crash-ladder/simulated/sim-main/L1/e1"
    every = whole.runbook(l1).data["positions"]
    assert len(every) >= 2 and whole.runbook(l1).data["positions_more"] == 0
    listed = store.runbook(l1).data
    assert listed["positions"] == [max(every, key=lambda p: abs(p["notional"]))]
    assert listed["positions_more"] == len(every) - 1
    assert f"{len(every) - 1} more position" in store.runbook(l1).markdown
