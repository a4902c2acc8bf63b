"""One writer per piece of the runner's state, checked two ways.

- The audit chain has one writer, the runner's :class:`~killswitch.runner.leadership.Leadership`:
  every row a runner's part or sink appends goes through it (a notification's receipt aside:
  see ``NOTIFY_RECEIPTS``), under a fencing token, so a
  deposed leader's rows — a runbook rendered again by its sink, a sink's failure — are refused
  and nothing lands, while the same rows written by the leader do.
- The lock book and the stages' state have one writer, the book (:mod:`killswitch.runner.book`),
  and the audit chain is appended to from ``leadership.py`` alone: read from the source with
  :mod:`ast` (nothing imported), so a new writer elsewhere is named with its file and line.
"""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

from killswitch.events import INCIDENT_ACKNOWLEDGED, Event
from killswitch.runbooks.sink import RunbookSink
from killswitch.runner.lock import LockBook

from .test_runner_operator import ACCOUNT, make, run, start, ticks

ROOT = Path(__file__).resolve().parents[2]


def _rows(db: Path, kind: str) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [p for (p,) in con.execute("SELECT payload FROM audit_log WHERE kind = ? ORDER BY seq", (kind,))]
    finally:
        con.close()


def _flush(w) -> None:
    """Wait for the runner's store thread: what it queued and did not await is written (or refused)."""
    run(w.runner.io(lambda: None))


class _Broken:
    name = "broken"

    def on_tick(self, report, ctx) -> None:
        pass

    def on_event(self, event, ctx) -> None:
        raise RuntimeError("a sink's bug")


def _entered_incident(w) -> str:
    """bot-x beats once, then stays silent: the guard's halt is entered; its incident (the decision id)."""
    run(w.runner.heartbeat("bot-x"))
    reports = ticks(w, 14)
    return next(s.transition.decision_id for r in reports for s in r.transitions if s.transition.decision_id)


def _acknowledged(incident: str, now: int) -> Event:
    return Event.make(INCIDENT_ACKNOWLEDGED, now, {"incident": incident, "author": "alice", "comment": "mine",
                                                   "ts_ms": now}, policy="bot-guard", scope=ACCOUNT, level=1)


def test_a_deposed_leaders_runbook_sink_writes_no_audit_row_and_the_leaders_does(tmp_path):
    a = make(tmp_path, holder="a")
    a.runner.sinks = [RunbookSink(None)]
    start(a)
    incident = _entered_incident(a)
    assert len(_rows(a.db, "runbook_rendered")) == 1, "the leader's sink audits the runbook it stored"
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    b.runner.sinks = [RunbookSink(None)]
    a.clock.advance(10_000)  # a's lease ran out while it was paused; b takes over
    start(b)
    assert b.runner.leader
    a.runner.emit(_acknowledged(incident, a.clock()))  # paused, a still believes it leads
    assert not run(a.runner.renew()) and not a.runner.leader  # and now it knows it does not
    a.runner.emit(_acknowledged(incident, a.clock()))  # what it did as leader, still reaching its sinks
    _flush(a)
    assert _rows(a.db, "runbook_updated") == [], "the deposed leader's runbook rows were refused"
    assert _rows(a.db, "sink_failed") == [], "and so were the rows of its sink's failures"
    assert a.runner.sink_errors == 2
    b.runner.emit(_acknowledged(incident, b.clock()))
    _flush(b)
    assert len(_rows(b.db, "runbook_updated")) == 1, "the leader's sink writes the same row"
    assert b.store.verify_audit() == (True, None)


def test_a_sinks_failure_is_audited_under_the_leaders_token_and_refused_once_deposed(tmp_path):
    a = make(tmp_path, holder="a")
    a.runner.sinks = [_Broken()]
    start(a)
    a.runner.emit(_acknowledged("bot-guard/x/L1/e1", a.clock()))
    _flush(a)
    assert len(_rows(a.db, "sink_failed")) == 1, "a leader audits its sink's failure"
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    a.clock.advance(10_000)
    start(b)
    assert not run(a.runner.renew()) and not a.runner.leader
    a.runner.emit(_acknowledged("bot-guard/x/L1/e1", a.clock()))
    _flush(a)
    assert a.runner.sink_errors == 2
    assert len(_rows(a.db, "sink_failed")) == 1, "the deposed leader's failure row was refused"
    assert b.store.verify_audit() == (True, None)


def test_a_runner_that_never_led_audits_its_sinks_failure_as_a_standby(tmp_path):
    a = make(tmp_path, holder="a")
    start(a)
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    b.runner.sinks = [_Broken()]
    start(b)
    assert not b.runner.leader and b.runner.fence == 0
    b.runner.emit(_acknowledged("bot-guard/x/L1/e1", b.clock()))
    _flush(b)
    assert len(_rows(b.db, "sink_failed")) == 1


def test_an_operator_change_taken_back_leaves_a_lock_book_moved_meanwhile(tmp_path):
    w = make(tmp_path)
    book = w.runner.book
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
               "killswitch/audit", "killswitch/bootstrap.py", "killswitch/daemon.py", "killswitch/shardrun.py")
BOOK = "killswitch/runner/book.py"
LEADERSHIP = "killswitch/runner/leadership.py"
# A notification's receipt records a delivery that happened; the delivery worker writes it off
# the tick's timeline, where a runner renewing its own lapsed lease moves the token between two
# of its writes: it stays unfenced (tests/integration/test_notify.py counts every receipt).
NOTIFY_RECEIPTS = "killswitch/notify/sink.py"


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


def store_audit_uses(path: Path) -> list[str]:
    """Where ``path`` reaches a store's ``audit`` or ``audit_many`` (called or handed on)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ("audit", "audit_many"):
            owner = _chain(node.value)
            if owner and owner[-1] in ("store", "_store"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {'.'.join(owner)}.{node.attr}")
    return found


def test_only_the_book_writes_the_lock_book_and_the_stages():
    found = [w for p in _files() if p.relative_to(ROOT).as_posix() != BOOK for w in lock_or_stage_writes(p)]
    assert found == []


def test_only_the_leadership_appends_to_the_audit_chain():
    found = [w for p in _files() if p.relative_to(ROOT).as_posix() not in (LEADERSHIP, NOTIFY_RECEIPTS)
             for w in store_audit_uses(p)]
    assert found == []
    assert store_audit_uses(ROOT / LEADERSHIP), "the owner is where the check looks for it"


def test_the_checks_find_a_second_writer(tmp_path):
    src = tmp_path / "killswitch" / "runner" / "rogue.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f(book, ss, store, io):\n"
                   "    book.lock_book = book.lock_book.release('x', policy='p')\n"
                   "    book.state = None\n"
                   "    ss.stage.deferred = True\n"
                   "    book.state.scopes['k'] = ss\n"
                   "    store.audit('k', 0, {})\n"
                   "    io.forget(self.store.audit_many, [])\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        writes, audits = lock_or_stage_writes(src), store_audit_uses(src)
    finally:
        ROOT = saved
    assert [w.split(": ")[1] for w in writes] == ["book.lock_book", "book.state", "ss.stage.deferred",
                                                  "book.state.scopes"]
    assert [a.split(": ")[1] for a in audits] == ["store.audit", "self.store.audit_many"]
