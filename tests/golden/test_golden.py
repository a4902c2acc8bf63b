"""Golden outputs: `ksctl graph` for the example policies, and the diagnostics formats.

Rewrite with `pytest tests/golden --update-goldens` and review the diff like code.
"""

from pathlib import Path

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_sources
from killswitch.render.diagnostics import validate_json, validate_text
from killswitch.render.graph import dot, mermaid
from killswitch.sources import read_sources
from tests.conftest import ROOT, check_golden

HERE = Path(__file__).parent


def compile_rel(rel: str):
    # Relative paths and no revision: the output must not depend on where or when it runs.
    src = read_sources([rel])
    return compile_documents(load_sources(src.files), revision=None), len(src.files)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("fmt,render", [("mermaid", mermaid), ("dot", dot)])
def test_graph_of_example_policies(fmt, render, update_goldens):
    result, _ = compile_rel("policies")
    assert result.graph is not None
    check_golden(HERE / "graph" / f"policies.{fmt}", render(result.graph), update_goldens)


NEW_CHECKS = ["unmatched-scope", "blind-after-deployment.yaml"]  # KS218 (a directory: accounts beside), KS219


@pytest.mark.parametrize("case", NEW_CHECKS)
@pytest.mark.parametrize("fmt,render", [("txt", validate_text), ("json", validate_json)])
def test_diagnostics_of_unmatched_scopes_and_blind_triggers(case, fmt, render, update_goldens):
    result, files = compile_rel(f"tests/golden/diagnostics/{case}")
    check_golden(HERE / "diagnostics" / f"{case.removesuffix('.yaml')}.{fmt}", render(result, files, False) + "\n",
                 update_goldens)


def test_diagnostics_json_format(update_goldens):
    result, files = compile_rel("tests/golden/diagnostics/several-mistakes.yaml")
    check_golden(HERE / "diagnostics" / "several-mistakes.json", validate_json(result, files, False) + "\n",
                 update_goldens)


def test_diagnostics_text_format(update_goldens):
    result, files = compile_rel("tests/golden/diagnostics/several-mistakes.yaml")
    check_golden(HERE / "diagnostics" / "several-mistakes.txt", validate_text(result, files, False) + "\n",
                 update_goldens)
