"""A policy file is parsed once: libyaml's fast path reads ordinary YAML, and ruamel's loader reads
only what it declines; checks, salvage and the error path work on what was read. Counted here by
wrapping both parsers, on a clean file, one with schema errors, one the fast path declines and
one that stops at a YAML error (whose error path reads the lines before the error for the
document's name, and only then)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from killswitch.policy import load, yamlbounds, yamlfast
from tests.conftest import POLICIES

BAD = Path(__file__).resolve().parents[2] / "fixtures" / "bad"


@pytest.fixture
def parses(monkeypatch) -> Counter:
    """How many times each parser was started, by name: "libyaml", "ruamel", "ruamel scan"."""
    counted: Counter = Counter()
    real_parser, real_load_all, real_scan = yamlfast._CParser, yamlbounds.load_all, yamlbounds.open_flow_collections
    if real_parser is None:
        pytest.skip("no libyaml: every text is ruamel's")

    def parser(text):
        counted["libyaml"] += 1
        return real_parser(text)

    def load_all(text):
        counted["ruamel"] += 1
        return real_load_all(text)

    def scan(text, upto):
        counted["ruamel scan"] += 1
        return real_scan(text, upto)

    monkeypatch.setattr(yamlfast, "_CParser", parser)
    monkeypatch.setattr(yamlbounds, "load_all", load_all)
    monkeypatch.setattr(yamlbounds, "open_flow_collections", scan)
    return counted


def test_a_clean_file_is_parsed_once_by_libyaml(parses):
    result = load.load_text((POLICIES / "futures-book.yaml").read_text(), "futures-book.yaml")
    assert not result.diagnostics and result.docs and all(d.complete for d in result.docs)
    assert parses == Counter({"libyaml": 1})


def test_a_file_with_schema_errors_is_parsed_once_and_salvaged_from_what_was_read(parses):
    f = BAD / "016-unknown-spec-key.bad.yaml"
    result = load.load_text(f.read_text(), f.name)
    assert [(x.code, x.pos.line, x.pos.col) for x in result.diagnostics] == [("KS101", 8, 3)]
    assert result.docs and not result.docs[0].complete and result.docs[0].model is not None  # salvaged
    assert parses == Counter({"libyaml": 1})


def test_a_file_the_fast_path_declines_is_read_by_ruamel_once(parses):
    # a date libyaml (YAML 1.1) and ruamel (1.2) do not read alike: the fast path declines it
    text = (POLICIES / "futures-book.yaml").read_text().replace("metadata:\n", "metadata:\n  since: 2026-01-02\n", 1)
    result = load.load_text(text, "f.yaml")
    assert result.docs and result.docs[0].kind == "Policy"
    assert parses == Counter({"libyaml": 1, "ruamel": 1})


def test_a_yaml_error_reads_the_text_once_then_the_lines_before_it_for_the_name(parses):
    f = BAD / "003-yaml-unterminated-quote.bad.yaml"
    result = load.load_text(f.read_text(), f.name)
    assert [(x.code, x.pos.line, x.pos.col) for x in result.diagnostics] == [("KS002", 12, 13)]
    assert [(d.kind, d.name, d.complete) for d in result.docs] == [("Policy", "futures-book", False)]
    # libyaml declines and ruamel reads to the error; then the error path alone scans for brackets
    # still open (the quote runs to the end of the file) and reads the lines before the error once
    assert parses == Counter({"libyaml": 1, "ruamel": 2, "ruamel scan": 1})


def test_validate_loads_each_file_once(monkeypatch):
    from click.testing import CliRunner

    from killswitch.cli.main import cli

    loaded: Counter = Counter()
    real = load.load_text

    def counted(text, file):
        loaded[file] += 1
        return real(text, file)

    monkeypatch.setattr(load, "load_text", counted)
    r = CliRunner().invoke(cli, ["validate", str(POLICIES)])
    assert r.exit_code == 0, r.output
    files = sorted(str(p) for p in POLICIES.rglob("*.yaml"))
    assert len(loaded) == len(files) and set(loaded.values()) == {1}, loaded
