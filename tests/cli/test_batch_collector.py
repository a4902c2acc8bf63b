"""The garbage collector's settings while `ksctl validate` reads a batch of policies
(killswitch/cli/common.py, batch_collector): the imports happen with it paused, what they made
is frozen, cycles made afterwards are still collected, and everything is as it was after the
batch, whether it ended normally or with an exception (commands also run in process, in tests);
and when the process exits, what is alive is frozen before the interpreter's last collections."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

import pytest
from click.testing import CliRunner

from killswitch.cli.common import BATCH_GC_THRESHOLD, batch_collector
from killswitch.cli.main import cli
from tests.conftest import POLICIES


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_inside_a_batch_imports_are_frozen_and_cycles_still_collected():
    gc.unfreeze()  # (the collection froze what it made, tests/conftest.py; so does a runner after its start)
    before = gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()
    with batch_collector(("json",)):
        assert gc.get_threshold() == BATCH_GC_THRESHOLD and gc.isenabled() is before[1]
        assert gc.get_freeze_count() > 0
        ref = weakref.ref(_Node())
        assert ref() is not None
        gc.collect()
        assert ref() is None  # garbage made in the batch is collected
    assert (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()) == before


def test_what_was_frozen_before_the_batch_stays_frozen():
    """A runner freezes what its start-up made after its first tick; a batch run later in the
    same process must not thaw it (the collector would walk it all again, tick after tick)."""
    gc.freeze()
    before = gc.get_freeze_count()
    try:
        with batch_collector(("json",)):
            pass
        assert gc.get_freeze_count() >= before > 0
    finally:
        gc.unfreeze()


def test_everything_is_restored_after_an_exception_and_a_disabled_collector_stays_disabled():
    gc.unfreeze()  # (as above: from nothing frozen, the batch's own freeze is undone)
    before = gc.get_threshold()
    gc.disable()
    try:
        with pytest.raises(RuntimeError):
            with batch_collector(("json",)):
                assert not gc.isenabled()
                raise RuntimeError("boom")
        assert not gc.isenabled() and gc.get_threshold() == before and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_ksctl_validate_in_process_leaves_the_collector_as_it_found_it():
    before = gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()
    out = CliRunner().invoke(cli, ["validate", str(POLICIES)])
    assert out.exit_code == 0, out.output
    assert (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()) == before


def test_what_a_batch_leaves_alive_is_frozen_when_the_process_exits():
    # atexit runs its functions last registered first: this one, registered before the batch's,
    # runs after it, just before the interpreter's last collections that the freezing spares
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit', gc.get_freeze_count() > 0, flush=True))\n"
        "from killswitch.cli.main import main\n"
        "try:\n"
        f"    main(['validate', {str(POLICIES)!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print('after the batch', gc.get_freeze_count() == 0, flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-2:] == ["after the batch True", "frozen at exit True"], out.stdout + out.stderr


def test_a_runners_pause_that_ends_inside_a_batch_leaves_the_collector_on():
    """A batch entered while a runner's tick holds the collector off (in a test process, a served
    runner ticks on a thread beside in-process commands), with the tick turning it on again before
    the batch ends: the batch must not put back the "off" it found, or the collector stays off for
    every later test of the process with nobody holding it."""
    from killswitch.runner.tick.gc_pause import CollectorPause

    assert gc.isenabled()
    pause = CollectorPause()
    pause.pause()
    try:
        with batch_collector(("json",)):
            assert not gc.isenabled()
            pause.resume()  # the tick's first send
        assert gc.isenabled()
    finally:
        pause.resume()
        gc.enable()
    # and the other order: a pause taken and ended inside a batch leaves it as the batch found it
    with batch_collector(("json",)):
        pause.pause()
        pause.resume()
    assert gc.isenabled()
