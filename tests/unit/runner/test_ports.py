"""The firm parts behind ports (killswitch/firmlink/ports.py): a firm directive's lock and
unlock take the operator's command path — audited first, then applied to the lock book, saved and
the lock file rewritten; a standby or a deposed leader changes nothing — the directive applier
is built from the parts it uses, no runner; no module of killswitch reaches into another
module's private names, and the runner passes nothing of its parts through (a test builds or
reaches the part it needs)."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from killswitch.firm.directives import LOCK, UNLOCK, Directive
from killswitch.firmlink.apply import DirectiveApplier
from killswitch.runner.tick.loop import Runner
from tests.unit.firm.test_firm import FakeFirm
from tests.unit.runner.operator.rig import ACCOUNT, audit_kinds, make, run, start, ticks

HOLD = "firm:firm-drawdown"
ROOT = Path(__file__).resolve().parents[3] / "killswitch"


def _holds(w) -> list[tuple]:
    return [(h.scope, h.policy, h.mode, h.manual, h.stage) for h in w.parts.book.lock_book.holds]


def test_a_firm_lock_is_audited_then_held_and_written_and_its_unlock_lifts_the_firms_hold(tmp_path):
    w = make(tmp_path)
    start(w)
    commands = w.desk.commands
    refused = run(commands.firm_lock(ACCOUNT, HOLD, {"directive": 1, "scope": ACCOUNT}, mode="halted",
                                     reason="FIRM_STAGE: stage=1", stage=1, manual=True,
                                     details={"directive": 1}))
    assert refused is None
    assert _holds(w) == [(ACCOUNT, HOLD, "halted", True, 1)]
    assert audit_kinds(w)[-1] == "firm_lock"
    assert HOLD in json.dumps(json.loads((tmp_path / "lock.json").read_text()))  # the lock file rewritten
    assert run(commands.firm_unlock(ACCOUNT, HOLD, {"directive": 2, "scope": ACCOUNT})) is None
    assert _holds(w) == [] and audit_kinds(w)[-1] == "firm_unlock"
    assert HOLD not in (tmp_path / "lock.json").read_text()
    w.store.close()


def test_a_firm_lock_on_a_standby_or_a_deposed_leader_changes_nothing_and_audits_nothing(tmp_path):
    a = make(tmp_path, holder="a")
    start(a)
    ticks(a, 1)
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    a.clock.advance(10_000)  # a's lease ran out while it was paused; b takes over
    start(b)
    rows = len(audit_kinds(b))
    a.parts.lead.leader = True  # paused, it still believes it leads: its audit row is fenced off
    deposed = run(a.desk.commands.firm_lock(ACCOUNT, HOLD, {"directive": 1}, mode="halted", reason="late"))
    assert deposed is not None and deposed.startswith("DEPOSED: "), deposed
    standby = run(a.desk.commands.firm_unlock(ACCOUNT, HOLD, {"directive": 2}))
    assert standby is not None and standby.startswith("NOT_LEADER: "), standby
    assert _holds(a) == [] and len(audit_kinds(b)) == rows
    a.store.close()
    b.store.close()


class FakeCommands:
    """The command path as the applier is handed it: what it was asked, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def firm_lock(self, scope, hold, audited, **kw):
        self.calls.append(("firm_lock", scope, hold, audited["directive"], kw["mode"], kw["manual"]))
        return None

    async def firm_unlock(self, scope, hold, audited):
        self.calls.append(("firm_unlock", scope, hold, audited["directive"]))
        return "NOT_LEADER: a standby"


def test_the_applier_is_built_from_the_parts_it_uses_and_locks_through_the_command_path():
    why = {"source": "policy", "policy": "firm-drawdown", "reason": "FIRM_STAGE: stage=1"}
    lock = Directive(LOCK, "global", {"accounts": [ACCOUNT], "mode": "halted", "manual": True, "stage": 1, **why},
                     "firm-drawdown/global/L1/e1", "firm", 1)
    unlock = Directive(UNLOCK, "global", {"accounts": [ACCOUNT], **why}, None, "alice", 2)
    firm, commands, said = FakeFirm([lock, unlock]), FakeCommands(), []
    lead, turn = SimpleNamespace(leader=True, fence=7), SimpleNamespace(here=contextlib.nullcontext)
    ports = SimpleNamespace(lead=lead, turn=turn, commands=commands, accounts=(ACCOUNT,), dry_run=False)
    applier = DirectiveApplier(ports, firm, "desk-a", "ks_shard_desk_a", lambda: 0, said.append, said.append)
    assert asyncio.run(applier.apply_new()) == 2
    assert commands.calls == [("firm_lock", "global", HOLD, 1, "halted", True), ("firm_unlock", "global", HOLD, 2)]
    assert firm.outcomes == {1: f"global: LOCKED halted ({HOLD})", 2: "global: NOT_LEADER: a standby"}


def _private_reaches(source: str, name: str) -> list[str]:
    """``x._name`` in ``source`` where ``x`` is not ``self``/``cls`` and ``_name`` is nothing the
    module itself defines or assigns: a reach into another module's private name."""
    tree = ast.parse(source)
    own: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(n.name)
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
            own.add(n.attr)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            own.add(n.id)
    out = []
    for n in ast.walk(tree):
        if not isinstance(n, ast.Attribute) or not n.attr.startswith("_") or n.attr.startswith("__"):
            continue
        if isinstance(n.value, ast.Name) and n.value.id in ("self", "cls") or n.attr in own:
            continue
        out.append(f"{name}:{n.lineno}: {ast.unparse(n)}")
    return out


@pytest.mark.slow
def test_no_module_calls_a_private_name_of_another_modules_object():
    bad = [line for f in sorted(ROOT.rglob("*.py"))
           for line in _private_reaches(f.read_text(), str(f.relative_to(ROOT.parent)))]
    assert not bad, ("a part reaches into another's private name (give it a public method, or hand it a port: "
                     "runner/collaborators.py, firmlink/ports.py):\n" + "\n".join(bad))


def test_the_private_reach_check_finds_a_reach_and_leaves_a_modules_own_names():
    src = ("class A:\n    def _mine(self): ...\n    def go(self, other, runner):\n"
           "        other._mine()\n        desk.commands._change()\n        self._x = 1\n        other._x\n"
           "        super()._make_server()\n")
    assert _private_reaches(src, "mod.py") == ["mod.py:5: desk.commands._change", "mod.py:8: super()._make_server"]


def test_the_runners_pass_throughs_to_its_parts_are_read_only():
    settable = sorted(name for name, v in vars(Runner).items() if isinstance(v, property) and v.fset is not None)
    assert settable == [], f"the runner hands out a setter into its parts: {settable} (set the part, or build it)"


# --- the desk: the operators' calls, from the runner's parts, never the runner ----------------------

# what the runner offers once the operators' calls are the desk's: the tick, the lease's lifecycle,
# the reload and the events outside a tick; no property: a caller reads the part that owns a value
# (parts.book.state, parts.lead.fence, parts.fanout.sinks, parts.reloads.error)
RUNNER_METHODS = {"start", "tick", "renew", "hold_lease_with", "lost_lease", "store_failed", "refresh_native",
                  "emit", "aclose", "apply_graph"}
RUNNER_PROPERTIES: set[str] = set()


def _public(cls) -> tuple[set[str], set[str]]:
    names = {n for n in dir(cls) if not n.startswith("_")}
    methods = {n for n in names if inspect.isfunction(getattr(cls, n))}
    return methods, {n for n in names if isinstance(getattr(cls, n), property)}


def test_the_runner_offers_the_tick_and_the_lease_and_none_of_the_operators_calls():
    from killswitch.face.runner_view import RunnerView

    methods, properties = _public(Runner)
    assert methods == RUNNER_METHODS and properties == RUNNER_PROPERTIES, (methods, properties)
    views = {n for n, v in vars(RunnerView).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert views and not views & set(dir(Runner)), f"the runner answers view calls: {sorted(views & set(dir(Runner)))}"


# what a runner still hands out beside its methods (its parts are private: a test or the daemon
# reads one from the parts the composition root built, build_runner_and_desk's ``parts``)
RUNNER_ATTRIBUTES = {"venues", "store"}


def test_the_runner_hands_none_of_its_parts_out(tmp_path):
    w = make(tmp_path)
    public = {n for n in vars(w.runner) if not n.startswith("_")}
    assert public == RUNNER_ATTRIBUTES, f"the runner hands out {sorted(public - RUNNER_ATTRIBUTES)}"
    # the parts it ticks are the composition root's: the same objects, reached without the runner
    assert w.parts.book is w.runner._book and w.desk.pretrade is w.parts.pretrade
    w.store.close()


def _wired_after(src: str, name: str) -> list[str]:
    """Assignments to an attribute of anything but ``self``: a part wired after it was built."""
    found = []
    for n in ast.walk(ast.parse(src)):
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] \
            if isinstance(n, (ast.AugAssign, ast.AnnAssign)) else []
        for t in targets:
            for e in (t.elts if isinstance(t, ast.Tuple) else [t]):
                if isinstance(e, ast.Attribute) and not (isinstance(e.value, ast.Name) and e.value.id == "self"):
                    found.append(f"{name}:{e.lineno}: {ast.unparse(e)}")
    return found


def test_the_composition_root_builds_every_part_with_its_collaborators():
    found = [w for f in sorted((ROOT / "process").glob("*.py")) for w in _wired_after(f.read_text(), f.name)]
    assert found == [], ("a part is wired after it was built (hand its constructor the collaborator, or a "
                         f"holder made up front, as runner/firm_slot.py's FirmSlot): {found}")


def test_the_wiring_check_finds_an_attribute_set_from_outside():
    src = ("def build(readout, book):\n    readout.shard = 'a'\n    a.b, self.c = 1, 2\n    book.x += 1\n"
           "    self.y = 3\n")
    assert _wired_after(src, "m.py") == ["m.py:2: readout.shard", "m.py:3: a.b", "m.py:4: book.x"]


def test_the_desk_answers_every_view_call_and_holds_none_of_the_runner(tmp_path):
    from killswitch.face.desk.desk import Desk
    from killswitch.face.runner_view import RunnerView
    from killswitch.view.operations import OPERATIONS

    views = {n for n, v in vars(RunnerView).items() if inspect.isfunction(v) and not n.startswith("_")}
    views |= {n for op in OPERATIONS for n in (op.name, *op.also)}  # the operations' table's calls too
    assert views <= set(dir(Desk)), sorted(views - set(dir(Desk)))
    assert "runner" not in inspect.signature(Desk).parameters
    w = make(tmp_path)
    # a call the table says a part answers: that part's method, taking the entry's fields as it names them
    for op in OPERATIONS:
        if op.by:
            part, method = op.by.split(".")
            target = getattr(getattr(w.desk, part), method)
            taken = inspect.signature(target).parameters
            named = {a.name for a in op.args if a.passed and (a.keyword or not a.required)}
            named |= {op.caller} - {"", "position"}
            assert named <= set(taken), f"{op.name}: {op.by} takes {sorted(taken)}, not {sorted(named - set(taken))}"
            assert getattr(w.desk, op.name).__name__ == op.name  # the turn knows it by its name
    held = [name for name, v in vars(w.desk).items() if isinstance(v, Runner)]
    assert held == [], f"the desk holds the runner: {held}"
    # the same parts as the runner's: a command on the desk is seen by the runner's tick
    start(w)
    assert run(w.desk.lock_scope(ACCOUNT, "halted", "drill", actor="alice")).done
    assert [h.scope for h in w.parts.book.lock_book.holds] == [ACCOUNT]
    w.store.close()


# --- the book: its writers hold it, its readers its read-only view -----------------------------------

# the parts that change the book (each through its named writers, or by replacing a field it owns);
# the runner (the tick) holds it through RunnerParts (runner/tick/parts.py); a part built on the
# Keeper (runner/book/keeper.py) is handed the Book through it
BOOK_WRITERS = {"acks", "book", "commands", "countdowns", "enforcement", "entries", "keeper", "leadership", "left_open",
                "parts", "persist", "resets", "resuming", "revokes", "shortfalls", "silences"}


def test_the_parts_that_only_read_the_book_are_handed_its_read_only_view():
    takes_book = set()
    for f in sorted((ROOT / "runner").rglob("*.py")):
        tree = ast.parse(f.read_text())
        for n in ast.walk(tree):
            # runner/book/book.py, from its own room or from another
            of_book = (n.level == 1 and n.module == "book" and f.parent.name == "book") \
                or (n.level == 2 and n.module == "book.book") if isinstance(n, ast.ImportFrom) else False
            if of_book and any(a.name == "Book" for a in n.names):
                takes_book.add(f.stem)
            if isinstance(n, ast.ImportFrom) and n.module == "book.keeper" and n.level == 2:
                takes_book.add(f.stem)
    assert takes_book == BOOK_WRITERS - {"book"}, (
        f"a part imports the mutable Book: {sorted(takes_book - BOOK_WRITERS)} (hand it a BookView: "
        f"runner/book/view.py), or a writer no longer does: {sorted(BOOK_WRITERS - {'book'} - takes_book)}")
    from killswitch.face.readout.previews import Previews
    from killswitch.face.readout.readout import Readout
    from killswitch.runner.book.view import BookView

    for part in (Readout, Previews):
        assert inspect.signature(part).parameters["book"].annotation in ("BookView", BookView), part
