"""Compiled runbook templates kept between runs (``killswitch/runbooks/compiled.py``): kept code
stands only for the same text under the same environment, every check still runs, and a cache
that cannot be used is passed over."""

from __future__ import annotations

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


def render(sources: dict[str, str], name: str = "a.md.j2", context: dict = CONTEXT) -> str:
    return Templates(sources).render(name, context)


def test_the_second_run_renders_from_kept_code_and_the_same_text(cache_dir, compiles):
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert compiles == ["a.md.j2"] and len(list(cache_dir.iterdir())) == 1
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
    assert not cache_dir.exists() or not list(cache_dir.iterdir())


def test_a_damaged_file_is_compiled_anew(cache_dir, compiles):
    render({"a.md.j2": SOURCE})
    (kept,) = cache_dir.iterdir()
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
    assert len(list(d.iterdir())) == 1 and compiles == ["a.md.j2"]


def test_a_write_that_fails_is_passed_over(cache_dir, monkeypatch, compiles):
    import errno
    import tempfile

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert render({"a.md.j2": SOURCE}) == EXPECTED
    assert compiles == ["a.md.j2", "a.md.j2"]


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
    assert len(list(shared.iterdir())) == 1


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
