"""Golden outputs of ``ksctl plan``: the crash recording (a complete plan with changes) and the same
ticks with snapshots that failed (an incomplete plan: which accounts were and were not read), in
every format.

Rewrite with `pytest tests/golden --update-goldens` and review the diff like code.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from killswitch.preview.plan import plan_ticks
from killswitch.preview.replay import read_ticks
from killswitch.render.plan import plan_json, plan_markdown, plan_text
from killswitch.sources import read_sources
from tests.conftest import ROOT, check_golden
from tests.recordings import failing_ticks
from tests.unit.engine_helpers import compile_graph

HERE = Path(__file__).parent
RENDER = {"txt": plan_text, "md": plan_markdown, "json": plan_json}
CASES = {
    # case: (policies, recording path as the header names it, its ticks)
    "futures-crash": ("policies", "policies/recordings/futures-crash.jsonl",
                      lambda: (ROOT / "policies/recordings/futures-crash.jsonl").read_text()),
    "unread-accounts": ("policies/futures-book.yaml", "unread-accounts.jsonl", failing_ticks),
}


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _plan(case: str):
    rel, path, text = CASES[case]
    # relative paths and no revision: the output must not depend on where or when it runs
    graph = compile_graph(read_sources([rel]).files)
    result = plan_ticks(graph, read_ticks(io.StringIO(text())), scores="top")  # as ksctl plan by default
    return result, graph, {"kind": "file", "path": path, "ticks": result.ticks}


@pytest.mark.parametrize("case, fmt", [(c, f) for c in CASES for f in RENDER])
def test_plan_output(case, fmt, update_goldens):
    result, graph, source = _plan(case)
    check_golden(HERE / f"{case}.{fmt}", RENDER[fmt](result, graph, source, "dry-run") + "\n", update_goldens)


def test_the_goldens_show_a_complete_and_an_incomplete_plan():
    # what the goldens are for: the cases must stay one complete plan and one that missed accounts
    assert _plan("futures-crash")[0].complete and _plan("futures-crash")[0].changes
    incomplete = _plan("unread-accounts")[0]
    assert not incomplete.complete and {a.status for a in incomplete.accounts} == {"partly_read", "not_read"}
