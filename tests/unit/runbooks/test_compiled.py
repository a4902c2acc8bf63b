"""Runbook templates' trees and code kept between runs (``killswitch/runbooks/compiled.py``): a
kept tree or kept code stands only for the same text under the same environment, every check
still runs, a kept tree can make nothing but syntax nodes, and a cache that cannot be used is
passed over."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from killswitch.runbooks import compiled
from killswitch.runbooks.templates import Templates

SOURCE = "# {{ policy }} at stage {{ stage.level }}\n{% for o in orders %}- {{ o.symbol }}\n{% endfor %}"
CONTEXT = {"policy": "book", "stage": {"level": 2}, "orders": [{"symbol": "BTC"}, {"symbol": "ETH"}]}
EXPECTED = "# book at stage 2\n- BTC\n- ETH\n"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("KS_TEMPLATE_CACHE", str(where))
    return where


@pytest.fixture
def compiles(monkeypatch) -> list[str]:
    """The names of the templates jinja2 compiled (a template whose code came from the cache is
    not among them)."""
    from jinja2.sandbox import SandboxedEnvironment

    seen: list[str] = []
    real = SandboxedEnvironment.compile

    def counting(self, source, name=None, filename=None, *a, **kw):
        seen.append(name)
        return real(self, source, name, filename, *a, **kw)

    monkeypatch.setattr(SandboxedEnvironment, "compile", counting)
    return seen


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The names of the templates jinja2 parsed (a template whose tree came from the cache is
    not among them)."""
    from jinja2.sandbox import SandboxedEnvironment

    seen: list[str] = []
    real = SandboxedEnvironment.parse

    def counting(self, source, name=None, filename=None):
        seen.append(name)
        return real(self, source, name, filename)

    monkeypatch.setattr(SandboxedEnvironment, "parse", counting)
    return seen


def code(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.jinja"))


def trees(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("killswitch-tree-*.pickle"))


def facts(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("killswitch-facts-*.json"))


def render(sources: dict[str, str], name: str = "a.md.j2", context: dict = CONTEXT) -> str:
    return Templates(sources).render(name, context)


def test_the_second_run_renders_from_kept_code_and_the_same_text(cache_dir, compiles):
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert compiles == ["a.md.j2"] and len(code(cache_dir)) == 1 and len(trees(cache_dir)) == 1
    assert render({"a.md.j2": SOURCE}) == EXPECTED  # a new Templates: a new process, as far as it knows
    assert compiles == ["a.md.j2"]


def test_a_changed_text_is_compiled_anew(cache_dir, compiles):
    render({"a.md.j2": SOURCE})
    assert render({"a.md.j2": "#" + SOURCE}) == "#" + EXPECTED
    assert compiles == ["a.md.j2", "a.md.j2"]
    # the same name in another directory, another text: never the other's code
    assert Templates({"a.md.j2": "other {{ policy }}"}, root="elsewhere").render("a.md.j2", CONTEXT) == "other book"


def test_a_changed_environment_is_compiled_anew(cache_dir, compiles, monkeypatch):
    render({"a.md.j2": SOURCE})
    monkeypatch.setattr(compiled, "REVISION", compiled.REVISION + "-next")
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert compiles == ["a.md.j2", "a.md.j2"]


def test_the_key_holds_the_options_that_change_the_code():
    t = Templates({"a.md.j2": SOURCE})
    key = compiled.environment_key(t.env)
    for attr, value in (("trim_blocks", False), ("lstrip_blocks", False), ("keep_trailing_newline", False),
                        ("finalize", None), ("optimized", True)):
        other = Templates({"a.md.j2": SOURCE}).env
        setattr(other, attr, value)
        assert compiled.environment_key(other) != key, attr
    other = Templates({"a.md.j2": SOURCE}).env
    other.filters["extra"] = str
    assert compiled.environment_key(other) != key


def test_the_checks_run_against_kept_code(cache_dir, compiles):
    """A kept template is checked as a fresh one: an unknown key and a failing render are found."""
    bad = {"a.md.j2": "{{ policy }} {{ stage.levle }}"}
    for _ in range(2):
        errs = Templates(bad).check("a.md.j2", [CONTEXT])
        assert [e.kind for e in errs] == ["render"] and "levle" in errs[0].message
    assert compiles == ["a.md.j2"]
    for _ in range(2):
        errs = Templates({"a.md.j2": "{{ stage.level / 0 }}"}).check("a.md.j2", [CONTEXT])
        assert [e.kind for e in errs] == ["render"] and "ZeroDivisionError" in errs[0].message


def test_a_template_that_does_not_compile_keeps_nothing_and_is_reported_each_time(cache_dir):
    for _ in range(2):
        errs = Templates({"a.md.j2": "{{ policy | no_such_filter }}"}).check("a.md.j2", [CONTEXT])
        assert [e.kind for e in errs] == ["syntax"] and "no_such_filter" in errs[0].message
    assert not cache_dir.exists() or not code(cache_dir)  # (it parses: its tree is kept)


def test_a_damaged_file_is_compiled_anew(cache_dir, compiles):
    render({"a.md.j2": SOURCE})
    (kept,) = code(cache_dir)
    for damage in (b"", b"garbage", kept.read_bytes()[:40]):
        kept.write_bytes(damage)
        assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert len(compiles) == 4


def test_a_cache_that_cannot_be_used_is_passed_over(tmp_path, monkeypatch, compiles):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for where in (blocker, blocker / "below"):
        monkeypatch.setenv("KS_TEMPLATE_CACHE", str(where))
        assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert blocker.read_text() == "not a directory"


def test_off_keeps_nothing(tmp_path, monkeypatch, compiles):
    monkeypatch.setenv("KS_TEMPLATE_CACHE", "off")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where jinja2's own directory would go
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    render({"a.md.j2": SOURCE})
    render({"a.md.j2": SOURCE})
    assert compiles == ["a.md.j2", "a.md.j2"] and not list(tmp_path.iterdir())


def test_without_a_setting_the_cache_is_jinja2s_directory_of_this_user(tmp_path, monkeypatch, compiles):
    import os
    import tempfile

    monkeypatch.delenv("KS_TEMPLATE_CACHE", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    render({"a.md.j2": SOURCE})
    render({"a.md.j2": SOURCE})
    (d,) = tmp_path.iterdir()
    assert d.name == f"_jinja2-cache-{os.getuid()}" and (d.stat().st_mode & 0o777) == 0o700
    assert len(code(d)) == 1 and len(trees(d)) == 1 and compiles == ["a.md.j2"]


def test_a_write_that_fails_is_passed_over(cache_dir, monkeypatch, compiles):
    import errno
    import tempfile

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)  # jinja2's code
    monkeypatch.setattr(tempfile, "mkstemp", full)  # the trees
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert compiles == ["a.md.j2", "a.md.j2"] and not list(cache_dir.iterdir())


def test_whether_a_template_is_escaped_is_in_the_key(cache_dir, compiles):
    """Autoescaping is decided by the template's name and written into its code: the same text
    and name under an environment that escapes it is compiled anew, and escapes."""
    context = {"x": "<b>"}
    assert render({"a.md.j2": "{{ x }}"}, context=context) == "<b>"
    t = Templates({"a.md.j2": "{{ x }}"})
    t.env.autoescape = True
    assert t.render("a.md.j2", context) == "&lt;b&gt;"
    assert compiles == ["a.md.j2", "a.md.j2"]
    # an HTML twin is escaped by its name, a markdown one is not, side by side
    both = Templates({"a.md.j2": "{{ x }}", "a.html.j2": "{{ x }}"})
    assert (both.render("a.md.j2", context), both.render("a.html.j2", context)) == ("<b>", "&lt;b&gt;")


def test_a_directory_others_can_write_to_is_not_used(tmp_path, monkeypatch, compiles):
    """Kept code is run: a directory in which another user could put a file is refused."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("KS_TEMPLATE_CACHE", str(shared))
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert compiles == ["a.md.j2", "a.md.j2"] and not list(shared.iterdir())
    shared.chmod(0o700)
    render({"a.md.j2": SOURCE})
    assert len(code(shared)) == 1 and len(trees(shared)) == 1


@pytest.mark.parametrize("value", ["false", "0", "no", "relative/cache", "Of"])
def test_a_value_that_is_neither_off_nor_an_absolute_directory_is_refused(value, tmp_path, monkeypatch, compiles,
                                                                          caplog):
    """A setting meant to turn the cache off, or a path relative to wherever the command runs,
    makes no directory there and keeps nothing; it is named in a warning."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KS_TEMPLATE_CACHE", value)
    with caplog.at_level("WARNING", logger="killswitch.runbooks.compiled"):
        assert render({"a.md.j2": SOURCE}) == EXPECTED
        assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert compiles == ["a.md.j2", "a.md.j2"] and not list(tmp_path.iterdir())
    assert repr(value) in caplog.text and "absolute" in caplog.text
    assert ("did you mean 'off'" in caplog.text) == (value == "Of")


# --- kept trees -------------------------------------------------------------------------------


INCLUDES = {"a.md.j2": "{{ policy }}\n{% include 'b.md.j2' %}", "b.md.j2": "{{ stage.levle }}"}


def test_the_second_check_reads_kept_trees_and_finds_the_same(cache_dir, parses):
    """Names, includes and unknown keys are read from a kept tree as from a fresh one."""
    found = [[(e.kind, e.file, e.line, e.message) for e in Templates(INCLUDES).check("a.md.j2", [CONTEXT])]
             for _ in range(2)]
    assert found[0] == found[1] and len(found[0]) == 1 and '"stage.levle"' in found[0][0][3]
    assert found[0][0][1:3] == ("runbooks/b.md.j2", 1)
    assert sorted(parses) == ["a.md.j2", "b.md.j2"] and len(trees(cache_dir)) == 2


def test_a_changed_text_or_environment_is_parsed_anew(cache_dir, parses, monkeypatch):
    Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    assert Templates({"a.md.j2": SOURCE + "{{ stage.levle }}"}).check("a.md.j2", [CONTEXT])
    monkeypatch.setattr(compiled, "REVISION", compiled.REVISION + "-next")
    assert not Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    assert parses == ["a.md.j2"] * 3


def test_a_text_that_does_not_parse_keeps_nothing_and_is_reported_each_time(cache_dir, parses):
    for _ in range(2):
        errs = Templates({"a.md.j2": "{% if %}"}).check("a.md.j2", [CONTEXT])
        assert [(e.kind, e.line) for e in errs] == [("syntax", 1)]
    assert parses == ["a.md.j2", "a.md.j2"] and not trees(cache_dir) and not facts(cache_dir)


def test_a_damaged_tree_is_parsed_anew_and_kept_again(cache_dir, parses):
    render({"a.md.j2": SOURCE})
    (kept,) = trees(cache_dir)
    whole = kept.read_bytes()
    for damage in (b"", b"garbage", whole[: len(whole) // 2], pickle.dumps(["not", "a", "tree"])):
        kept.write_bytes(damage)
        for other in code(cache_dir) + facts(cache_dir):  # (so that the tree is asked for)
            other.unlink()
        assert not Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    assert len(parses) == 5 and kept.read_bytes() == whole
    Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    assert len(parses) == 5


class _Planted:
    """A pickle that, loaded by a plain unpickler, makes a directory: what a tampered file could do."""

    def __init__(self, where: Path):
        self.where = where

    def __reduce__(self):
        import os

        return os.mkdir, (str(self.where),)


def test_a_tree_holding_anything_but_syntax_nodes_is_refused_and_never_run(cache_dir, parses, tmp_path):
    render({"a.md.j2": SOURCE})
    (kept,) = trees(cache_dir)
    marker = tmp_path / "ran"
    kept.write_bytes(pickle.dumps(_Planted(marker)))
    with pytest.raises(FileNotFoundError):  # the planted file does what it says under a plain unpickler...
        pickle.loads(pickle.dumps(_Planted(tmp_path / "no" / "such")))
    for other in code(cache_dir):  # (so that the tree is asked for)
        other.unlink()
    assert render({"a.md.j2": SOURCE}) == EXPECTED  # ... and here is refused, and the text parsed again
    assert not Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    assert not marker.exists() and parses == ["a.md.j2", "a.md.j2"]


# --- kept findings ----------------------------------------------------------------------------


@pytest.fixture
def walks(monkeypatch) -> list[str]:
    """The templates walked for unknown keys (a finding kept from an earlier run walks none)."""
    from killswitch.runbooks import templates

    seen: list[str] = []
    real = templates.unknown_names

    def counting(ast, shape):
        seen.append(ast)
        return real(ast, shape)

    monkeypatch.setattr(templates, "unknown_names", counting)
    return seen


def test_a_clean_template_checked_again_is_neither_parsed_nor_walked(cache_dir, parses, walks, compiles):
    for _ in range(3):
        assert Templates(INCLUDES | {"b.md.j2": "{{ stage.level }}"}).check("a.md.j2", [CONTEXT]) == []
    assert sorted(parses) == ["a.md.j2", "b.md.j2"] and len(walks) == 2 and len(compiles) == 2
    assert len(facts(cache_dir)) == 2


def test_a_finding_is_never_kept_and_is_made_again_with_its_place(cache_dir, walks):
    for _ in range(2):
        (err,) = Templates(INCLUDES).check("a.md.j2", [CONTEXT])
        assert (err.file, err.line) == ("runbooks/b.md.j2", 1) and '"stage.levle"' in err.message
    assert len(walks) == 5  # a.md.j2 is found clean and kept; b.md.j2 is walked twice each time (cut, whole)


def test_a_shape_not_found_clean_before_is_walked(cache_dir, walks):
    """Clean on data with the key says nothing of data without it."""
    text = {"a.md.j2": "{{ stage.level }}"}
    assert Templates(text).check("a.md.j2", [CONTEXT]) == []
    (err,) = Templates(text).check("a.md.j2", [{**CONTEXT, "stage": {"name": "x"}}])
    assert '"stage.level"' in err.message and len(walks) == 3  # (the cut shape, then the whole to say where)


def test_changed_checking_code_walks_anew(cache_dir, walks, parses, monkeypatch):
    from killswitch.runbooks import templates

    Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    monkeypatch.setattr(templates, "_checking_code", lambda: "another digest")
    Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    assert len(walks) == 2 and len(parses) == 1 and len(facts(cache_dir)) == 2  # (the tree still the same)


def test_damaged_findings_are_found_anew_and_kept_again(cache_dir, walks):
    Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    (kept,) = facts(cache_dir)
    whole = kept.read_text()
    for damage in ("", "{", "[]", '{"names": [1], "includes": [], "clean": []}', '{"names": []}'):
        kept.write_text(damage)
        assert Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT]) == []
        assert kept.read_text() == whole
    assert len(walks) == 6


def test_without_the_checking_codes_source_nothing_is_kept(cache_dir, walks, monkeypatch):
    from killswitch.runbooks import templates

    monkeypatch.setattr(templates, "_checking_code", lambda: None)
    for _ in range(2):
        Templates({"a.md.j2": SOURCE}).check("a.md.j2", [CONTEXT])
    assert len(walks) == 2 and not facts(cache_dir)


def test_at_most_the_latest_clean_shapes_are_kept(tmp_path):
    kept = compiled.Facts(str(tmp_path / "f.json"))
    kept.scanned(frozenset({"a"}), [])
    for i in range(compiled.Facts.MAX_CLEAN + 5):
        kept.found_clean(f"shape-{i}")
    again = compiled.Facts(str(tmp_path / "f.json"))
    assert len(again.clean) == compiled.Facts.MAX_CLEAN and again.clean[-1] == f"shape-{compiled.Facts.MAX_CLEAN + 4}"
