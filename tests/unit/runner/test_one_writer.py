"""One writer per piece of the runner's state, checked two ways.

- The audit chain has one writer, the runner's :class:`~killswitch.runner.lease.leadership.Leadership`:
  every row a runner's part or sink appends goes through it, notification receipts included,
  under a fencing token, and so does every runbook a sink stores, so a deposed leader's rows —
  a runbook rendered again by its sink, a sink's failure, a page's receipt — are refused and
  nothing lands, while the same rows written by the leader do; a receipt written as the runner
  takes its own lapsed lease again (a new token, the same holder) lands.
- The lock book and the stages' state have one writer, the book (:mod:`killswitch.runner.book.book`),
  and the audit chain and the runbooks are written from ``leadership.py`` alone, each write
  with a fence: read from the source with :mod:`ast` (nothing imported), so a new writer
  elsewhere, or an unfenced write, is named with its file and line.
- Every field of the book, and the venue watch's marks of what its fast path took
  (:class:`~killswitch.runner.enforcement.Enforcement`), is changed by its owner's methods
  alone: an assignment, an item's, a ``del`` or a container's changing method on one from
  another module, through the name a part holds it by or an alias, is named with its file and
  line (read from the source too).
"""

from __future__ import annotations

import ast
import asyncio
import functools
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Optional

import pytest

from killswitch.events import INCIDENT_ACKNOWLEDGED, Event
from killswitch.notify.routes import compile_routes
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.runbooks.sink import RunbookSink
from killswitch.runner.lock.lock import LockBook
from tests.integration.notify.rig import Steps, deliveries_done
from tests.unit.notify.routes.test_routes import routes_doc
from tests.unit.notify.test_sink import GatedReceiver
from tests.unit.runner.operator.rig import ACCOUNT, make, run, start, ticks

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT  # where a part's class is read from (ROOT moves to a copy in a test of the checks)


def _rows(db: Path, kind: str) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [p for (p,) in con.execute("SELECT payload FROM audit_log WHERE kind = ? ORDER BY seq", (kind,))]
    finally:
        con.close()


def _flush(w) -> None:
    """Wait for the runner's store thread: what it queued and did not await is written (or refused)."""
    run(w.parts.io(lambda: None))


class _Broken:
    name = "broken"

    def on_tick(self, report, ctx) -> None:
        pass

    def on_event(self, event, ctx) -> None:
        raise RuntimeError("a sink's bug")


def _entered_incident(w) -> str:
    """bot-x beats once, then stays silent: the guard's halt is entered; its incident (the decision id)."""
    run(w.desk.heartbeat("bot-x"))
    reports = ticks(w, 14)
    return next(s.transition.decision_id for r in reports for s in r.transitions if s.transition.decision_id)


def _acknowledged(incident: str, now: int) -> Event:
    return Event.make(INCIDENT_ACKNOWLEDGED, now, {"incident": incident, "author": "alice", "comment": "mine",
                                                   "ts_ms": now}, policy="bot-guard", scope=ACCOUNT, level=1)


def test_a_deposed_leaders_runbook_sink_writes_no_runbook_nor_audit_row_and_the_leaders_does(tmp_path):
    a = make(tmp_path, holder="a", sinks=[RunbookSink(None)])
    start(a)
    incident = _entered_incident(a)
    assert len(_rows(a.db, "runbook_rendered")) == 1, "the leader's sink audits the runbook it stored"
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b", sinks=[RunbookSink(None)])
    a.clock.advance(10_000)  # a's lease ran out while it was paused; b takes over
    start(b)
    assert b.parts.lead.leader
    a.runner.emit(_acknowledged(incident, a.clock()))  # paused, a still believes it leads
    assert not run(a.runner.renew()) and not a.parts.lead.leader  # and now it knows it does not
    a.runner.emit(_acknowledged(incident, a.clock()))  # what it did as leader, still reaching its sinks
    _flush(a)
    assert _rows(a.db, "runbook_updated") == [], "the deposed leader's runbook rows were refused"
    assert b.store.runbook(incident).data["acknowledged"] is None, "and so was the runbook it rendered again"
    assert _rows(a.db, "sink_failed") == [], "and so were the rows of its sink's failures"
    assert a.parts.fanout.errors == 2
    b.runner.emit(_acknowledged(incident, b.clock()))
    _flush(b)
    assert len(_rows(b.db, "runbook_updated")) == 1, "the leader's sink writes the same row"
    assert b.store.runbook(incident).data["acknowledged"]["by"] == "alice", "and stores the runbook"
    assert b.store.verify_audit() == (True, None)


def test_a_sinks_failure_is_audited_under_the_leaders_token_and_refused_once_deposed(tmp_path):
    a = make(tmp_path, holder="a", sinks=[_Broken()])
    start(a)
    a.runner.emit(_acknowledged("bot-guard/x/L1/e1", a.clock()))
    _flush(a)
    assert len(_rows(a.db, "sink_failed")) == 1, "a leader audits its sink's failure"
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    a.clock.advance(10_000)
    start(b)
    assert not run(a.runner.renew()) and not a.parts.lead.leader
    a.runner.emit(_acknowledged("bot-guard/x/L1/e1", a.clock()))
    _flush(a)
    assert a.parts.fanout.errors == 2
    assert len(_rows(a.db, "sink_failed")) == 1, "the deposed leader's failure row was refused"
    assert b.store.verify_audit() == (True, None)


def test_a_runner_that_never_led_audits_its_sinks_failure_as_a_standby(tmp_path):
    a = make(tmp_path, holder="a")
    start(a)
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b", sinks=[_Broken()])
    start(b)
    assert not b.parts.lead.leader and b.parts.lead.fence == 0
    b.runner.emit(_acknowledged("bot-guard/x/L1/e1", b.clock()))
    _flush(b)
    assert len(_rows(b.db, "sink_failed")) == 1


# --- notification receipts: fenced, through the runner's own renewal, refused once deposed -------------

PAGES = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {name: desk}
spec:
  route: {receiver: pager, group_by: [scope], group_wait: 0s, group_interval: 1m}
  receivers:
    - {name: pager, apprise: ["json://127.0.0.1:9/pager"]}
"""


def _paging(w) -> tuple[NotifySink, GatedReceiver]:
    """``w``'s runner with a notify sink whose one receiver delivers every page at once."""
    gate = threading.Event()
    gate.set()
    pager = GatedReceiver("pager", gate)
    sink = NotifySink({"desk": compile_routes(routes_doc(PAGES))}, {("desk", "pager"): pager}, clock=w.clock,
                      options=NotifyOptions(poll_s=0.01))
    w.parts.fanout.sinks = [sink]  # (the part that holds them: the sink needs the world's clock)
    return sink, pager


def _page(w, scope: str) -> None:
    w.runner.emit(Event.make("snapshot_failed", w.clock(), {}, scope=scope))  # a group (and a page) per scope


async def _until(cond, what: str) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not reached: {what}")


def test_a_runners_receipts_are_written_through_its_own_renewal_of_a_lapsed_lease(tmp_path):
    w = make(tmp_path, holder="a")
    sink, pager = _paging(w)

    async def go() -> tuple[int, int]:
        await w.runner.start()
        first = w.parts.lead.fence
        _page(w, "x")
        await _until(lambda: len(_rows(w.db, "notification_delivered")) == 1, "the leader's first receipt")
        # The lease ran out and this runner took it again: the store hands out a new token, which
        # the runner takes up at its next look at the lease. A receipt comes in between.
        w.clock.advance(10_000)
        renewed = w.store.acquire_lease("a", 5_000, w.clock())
        assert w.parts.lead.fence == first and renewed == first + 1
        _page(w, "y")
        await _until(lambda: pager.sent == 2 and len(_rows(w.db, "notification_delivered")) == 2,
                     "the receipt written between the renewal and its taking up")
        assert await w.runner.renew() and w.parts.lead.fence == renewed
        _page(w, "z")
        await _until(lambda: len(_rows(w.db, "notification_delivered")) == 3, "the receipt under the new token")
        await sink.aclose()
        return first, renewed

    first, renewed = run(go())
    assert renewed == first + 1
    assert pager.sent == 3 and sink.receipt_errors == 0
    assert w.store.verify_audit() == (True, None)


def test_a_deposed_runners_receipts_are_refused_counted_said_once_and_its_pages_not_sent_again(tmp_path, caplog):
    a = make(tmp_path, holder="a")
    sink, pager = _paging(a)
    steps = Steps(sink)
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")

    async def go() -> None:
        await a.runner.start()
        _page(a, "x")
        await _until(lambda: len(_rows(a.db, "notification_delivered")) == 1, "the leader's receipt")
        a.clock.advance(10_000)  # a's lease ran out while it was paused; b takes over
        await b.runner.start()
        assert b.parts.lead.leader and a.parts.lead.leader  # a does not know it yet: its pages still go out
        _page(a, "y")
        await _until(lambda: pager.sent == 2 and sink.receipt_errors == 1, "the first refused receipt")
        _page(a, "z")
        await _until(lambda: pager.sent == 3 and sink.receipt_errors == 2, "the second refused receipt")
        a.clock.advance(120_000)  # past the groups' next flush: a page taken for failed would go again now
        sink._wake()
        await steps.next()  # the worker's step at that time, and what it sent
        await deliveries_done(sink, budget_s=30)
        await sink.aclose()

    with caplog.at_level(logging.WARNING, logger="killswitch.notify"):
        run(go())
    assert pager.sent == 3, "each page went out once: a refused receipt sends nothing again"
    delivered = [json.loads(p)["group_key"] for p in _rows(a.db, "notification_delivered")]
    assert len(delivered) == 1 and delivered[0].endswith('{scope="x"}'), "only the leader's receipt landed"
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("RECEIPTS_FENCED")]
    assert len(said) == 1, said
    assert "notification_delivered receipt (desk/pager)" in said[0] and "current 2" in said[0]
    assert "killswitch_notification_receipt_errors_total 2.0" in sink.metrics_text()
    assert b.store.verify_audit() == (True, None)


def test_an_operator_change_taken_back_leaves_a_lock_book_moved_meanwhile(tmp_path):
    w = make(tmp_path)
    book = w.parts.book
    undo = book.change_lock_and_dms(lambda lock, dms: (LockBook(), dms))
    moved = book.lock_book.apply("global", "halted", now_ms=w.clock(), policy="operator", reason="later")
    book.take_lock_book(moved)
    undo()
    assert book.lock_book is moved, "a change that moved on since is not taken back"
    before = book.lock_book
    undo = book.change_lock_and_dms(lambda lock, dms: (LockBook(), dms))
    undo()
    assert book.lock_book is before


# --- the writers, read from the source -------------------------------------------------------------

RUNNER_SIDE = ("killswitch/runner", "killswitch/runbooks", "killswitch/notify", "killswitch/telemetry",
               "killswitch/audit", "killswitch/process")
BOOK = "killswitch/runner/book/book.py"
# the book's base: how it is stored and read back, assigning the book's fields from the store alone
BOOK_STORING = "killswitch/runner/book/storing.py"
LEADERSHIP = "killswitch/runner/lease/leadership.py"
# the store's writes a runner makes only under a fencing token: the audit chain and the runbooks
FENCED_WRITES = ("audit", "audit_many", "save_runbook")


def _files() -> list[Path]:
    out: list[Path] = []
    for part in RUNNER_SIDE:
        p = ROOT / part
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return out


def _chain(node: ast.AST) -> list[str]:
    """The names along an attribute chain, outermost last: ``self.book.state`` → [self, book, state]."""
    names: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            names.append(node.id)
            break
        else:
            break
    return names[::-1]


def _targets(tree: ast.AST) -> list[ast.AST]:
    out: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                out += list(t.elts) if isinstance(t, ast.Tuple) else [t]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            out.append(node.target)
    return out


def lock_or_stage_writes(path: Path) -> list[str]:
    """Where ``path`` assigns the lock book, a book's engine state or anything of a stage."""
    found = []
    for t in _targets(ast.parse(path.read_text(), str(path))):
        chain = _chain(t)
        if not isinstance(t, (ast.Attribute, ast.Subscript)) or len(chain) < 2:
            continue
        lock = chain[-1] in ("lock_book", "_lock_book")
        state = chain[-1] == "state" and chain[-2] == "book"
        stage = "stage" in chain[1:] or ("scopes" in chain[1:] and isinstance(t, ast.Subscript))
        if lock or state or stage:
            found.append(f"{path.relative_to(ROOT)}:{t.lineno}: {'.'.join(chain)}")
    return found


def _store_write(node: ast.AST) -> Optional[str]:
    """``store.audit``, ``ctx.store.save_runbook``…: what ``node`` names when it is a store's fenced write."""
    if isinstance(node, ast.Attribute) and node.attr in FENCED_WRITES:
        owner = _chain(node.value)
        if owner and owner[-1] in ("store", "_store"):
            return f"{'.'.join(owner)}.{node.attr}"
    return None


def store_writes(path: Path) -> list[str]:
    """Where ``path`` reaches a store's audit or runbook write (called or handed on)."""
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {w}"
            for node in ast.walk(ast.parse(path.read_text(), str(path))) if (w := _store_write(node))]


def unfenced_store_writes(path: Path) -> list[str]:
    """Where ``path`` reaches a store's audit or runbook write other than as a call, or an
    argument of a call (``io(store.audit, …, fence=…)``), that carries a ``fence`` (not ``None``)."""
    tree = ast.parse(path.read_text(), str(path))
    fenced: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fence = next((k.value for k in node.keywords if k.arg == "fence"), None)
            if fence is not None and not (isinstance(fence, ast.Constant) and fence.value is None):
                fenced.update(id(n) for n in (node.func, *node.args))
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {w}"
            for node in ast.walk(tree) if (w := _store_write(node)) and id(node) not in fenced]


# a part whose fields only its own methods change: its file → its class, and the names a caller
# holds it by (``self.book``, ``ports.book``, ``e = self.enforcement``)
PARTS = {BOOK: ("Book", ("book", "_book")),
         "killswitch/runner/watch/enforcement.py": ("Enforcement", ("enforcement", "_enforcement"))}
# a container's methods that change it in place
MUTATORS = frozenset({"add", "append", "appendleft", "clear", "discard", "extend", "insert", "pop", "popitem",
                      "remove", "setdefault", "sort", "update"})


@functools.cache
def parsed(path: Path) -> ast.Module:
    """``path``'s source as a tree, parsed once a run: the checks below read every module of
    killswitch/ for each part, and each module's tree again for its part's fields (read only)."""
    return ast.parse(path.read_text(), str(path))


@functools.cache
def fields_of(path: Path, cls: str) -> frozenset[str]:
    """The fields of ``cls`` as its source declares them: its annotated class attributes (a
    dataclass's fields), its properties and every ``self.<name>`` its methods assign."""
    tree = parsed(path)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls)
    names = {n.target.id for n in node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    for f in node.body:
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(isinstance(d, ast.Name) and d.id == "property" for d in f.decorator_list):
                names.add(f.name)
            names |= {c[1] for t in _targets(f) if len(c := _chain(t)) == 2 and c[0] == "self"}
    return frozenset(names)


def _writes(tree: ast.AST) -> list[tuple[int, list[str], str]]:
    """Every place ``tree`` changes an attribute or what it holds: (line, the chain, how) — an
    assignment (``=``, ``+=``, an item's), a ``del``, or a container's method that changes it."""
    out = [(t.lineno, _chain(t), "") for t in _targets(tree) if isinstance(t, (ast.Attribute, ast.Subscript))]
    for node in ast.walk(tree):
        if isinstance(node, ast.Delete):
            out += [(t.lineno, _chain(t), "del ") for t in node.targets
                    if isinstance(t, (ast.Attribute, ast.Subscript))]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            out.append((node.lineno, _chain(node.func.value), f".{node.func.attr}()"))
    return out


def part_writes(path: Path, part: str) -> list[str]:
    """Where ``path`` changes a field of ``part``'s class (or something a field holds) other
    than through the class's methods: through a name it is held by, or an alias of one."""
    cls, held_by = PARTS[part]
    if not any(name in path.read_text() for name in held_by):  # every write named below goes through one
        return []
    fields = fields_of(SOURCE / part, cls)
    tree = parsed(path)
    found: dict[tuple[int, str], str] = {}
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in [tree, *scopes]:
        names, aliases = set(held_by), set()
        for n in ast.walk(scope) if scope is not tree else ():  # within a function:
            # ``e = self.enforcement``: ``e`` holds the part; ``s = book.resume_starts``: a field
            if isinstance(n, ast.Assign) and isinstance(n.value, (ast.Name, ast.Attribute)):
                c = _chain(n.value)
                to = {t.id for t in n.targets if isinstance(t, ast.Name)}
                if c[-1] in held_by:
                    names |= to
                elif len(c) >= 2 and c[-2] in held_by and c[-1] in fields:
                    aliases |= to
        for line, chain, how in _writes(scope):
            if chain[:1] and chain[0] in aliases or any(a in names and b in fields for a, b in zip(chain, chain[1:])):
                what = f"del {'.'.join(chain)}" if how == "del " else ".".join(chain) + how
                found[(line, what)] = f"{path.relative_to(ROOT)}:{line}: {what} ({cls}'s)"
    return [found[k] for k in sorted(found)]


@pytest.mark.slow
@pytest.mark.parametrize("part", sorted(PARTS))
def test_a_parts_fields_are_changed_by_its_own_methods_alone(part):
    # one writer per piece of state: the book's dead man's switch, outbox, revokes, silences,
    # baselines … and the venue watch's marks of what its fast path took are changed by their
    # owner's named methods, never assigned, edited or emptied by another part
    found = [w for p in sorted((ROOT / "killswitch").rglob("*.py")) if p.relative_to(ROOT).as_posix() != part
             for w in part_writes(p, part)]
    assert not found, f"changed from outside {part} (add a method to {PARTS[part][0]}):\n" + "\n".join(found)
    assert {"dms", "owed", "revokes", "silences", "baselines", "lock_book"} <= fields_of(ROOT / BOOK, "Book")
    assert {"sending", "claimed", "reported", "checks"} <= fields_of(ROOT / "killswitch/runner/watch/enforcement.py",
                                                                      "Enforcement")


def test_only_the_book_writes_the_lock_book_and_the_stages():
    found = [w for p in _files() if p.relative_to(ROOT).as_posix() not in (BOOK, BOOK_STORING)
             for w in lock_or_stage_writes(p)]
    assert found == []


def test_only_the_leadership_appends_to_the_audit_chain_and_stores_runbooks():
    found = [w for p in _files() if p.relative_to(ROOT).as_posix() != LEADERSHIP for w in store_writes(p)]
    assert found == []
    assert store_writes(ROOT / LEADERSHIP), "the owner is where the check looks for it"


def test_every_audit_row_and_runbook_the_runner_writes_carries_a_fence():
    assert [w for p in _files() for w in unfenced_store_writes(p)] == []
    owner = {w.split(": ")[1] for w in store_writes(ROOT / LEADERSHIP)}
    assert {"self.store.audit", "self.store.audit_many", "self.store.save_runbook"} <= owner


def test_the_checks_find_a_second_writer_and_an_unfenced_write(tmp_path):
    src = tmp_path / "killswitch" / "runner" / "rogue.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f(book, ss, store, io):\n"
                   "    book.lock_book = book.lock_book.release('x', policy='p')\n"
                   "    book.state = None\n"
                   "    ss.stage.deferred = True\n"
                   "    book.state.scopes['k'] = ss\n"
                   "    store.audit('k', 0, {})\n"
                   "    io.forget(self.store.audit_many, [])\n"
                   "    ctx.store.save_runbook(r)\n"
                   "    io(store.audit, 'k', 0, {}, fence=None)\n"
                   "    store.audit('k', 0, {}, fence=t)\n"
                   "    io(self.store.save_runbook, r, fence=lead.fence)\n"
                   "    write = store.audit_many\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        writes, audits, unfenced = lock_or_stage_writes(src), store_writes(src), unfenced_store_writes(src)
    finally:
        ROOT = saved
    assert [w.split(": ")[1] for w in writes] == ["book.lock_book", "book.state", "ss.stage.deferred",
                                                  "book.state.scopes"]
    assert lines(audits) == [(6, "store.audit"), (7, "self.store.audit_many"), (8, "ctx.store.save_runbook"),
                             (9, "store.audit"), (10, "store.audit"), (11, "self.store.save_runbook"),
                             (12, "store.audit_many")]
    # fenced: a call, or a call handed the write, with a fence that is not None
    assert lines(unfenced) == [(6, "store.audit"), (7, "self.store.audit_many"), (8, "ctx.store.save_runbook"),
                               (9, "store.audit"), (12, "store.audit_many")]


def lines(found: list[str]) -> list[tuple[int, str]]:
    """(line, what) of each ``file:line: what`` found."""
    return sorted((int(f.split(":")[1]), f.split(": ")[1]) for f in found)


def test_the_check_finds_a_parts_field_changed_from_outside_and_not_a_read_or_a_method(tmp_path):
    parts = tmp_path / "killswitch" / "runner" / "rogue_parts.py"
    parts.parent.mkdir(parents=True)
    parts.write_text("""\
def f(self, book, ports, k):
    book.dms = book.dms.beat_many([], 0)
    self.book.owed[k] = {}
    del book.resume_starts[k]
    b = self.book
    b.acks = {}
    ports.book.silences += ()
    self.book.owed.pop(k)
    starts = self.book.resume_starts
    del starts[k]
    e = self.enforcement
    e.claimed[k] = (1, 2, 3)
    self.enforcement.sending.add(k)
    enforcement.checks.append(k)
    book.lock_changed = f
    book.revokes_changed(book.revokes.hold([], None, 0))
    book.owed.get(k)
    report.checks = 1
    self.calls = 2
""")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = [w.rsplit(" (", 1)[0] for part in sorted(PARTS) for w in part_writes(parts, part)]
    finally:
        ROOT = saved
    assert lines(found) == [(2, "book.dms"), (3, "self.book.owed"), (4, "del book.resume_starts"), (6, "b.acks"),
                            (7, "ports.book.silences"), (8, "self.book.owed.pop()"), (10, "del starts"),
                            (12, "e.claimed"), (13, "self.enforcement.sending.add()"),
                            (14, "enforcement.checks.append()"), (15, "book.lock_changed")]
