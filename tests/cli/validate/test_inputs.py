"""What ``ksctl validate`` makes of input that holds nothing, and of paths that do not exist.

Empty input is an error (KS007, exit 1): a CI job pointed at the wrong directory must fail, not
pass. ``--allow-empty`` accepts it (exit 0, no finding), for a repository that has no policies yet.
"""

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import POLICIES


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


EMPTY_FILES = {
    "empty": "",
    "comments-only": "# apiVersion: killswitch/v1\n# kind: Policy\n",
    "separators-only": "---\n# nothing\n---\n",
    "blank-lines": "\n\n   \n",
}


@pytest.mark.parametrize("text", EMPTY_FILES.values(), ids=EMPTY_FILES.keys())
def test_an_empty_file_fails_unless_allowed(tmp_path, text):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    r = run("validate", str(f))
    assert r.exit_code == 1, r.output
    assert f"{f}: error[KS007]: the file holds no YAML document" in r.output
    assert "hint: " in r.output
    r = run("validate", "--allow-empty", str(f))
    assert r.exit_code == 0, r.output
    assert "KS007" not in r.output


def test_an_empty_directory_fails_unless_allowed(tmp_path):
    (tmp_path / "README.md").write_text("no policies here\n")
    r = run("validate", str(tmp_path))
    assert r.exit_code == 1, r.output
    assert "error[KS007]: no .yaml or .yml files in this directory" in r.output
    assert run("validate", "--allow-empty", str(tmp_path)).exit_code == 0
    assert run("validate", "--allow-empty", "--strict", str(tmp_path)).exit_code == 0


def test_an_empty_file_beside_good_policies_is_still_an_error(tmp_path):
    (tmp_path / "spot-book.yaml").write_text((POLICIES / "spot-book.yaml").read_text())
    (tmp_path / "draft.yaml").write_text("# to be written\n")
    r = run("validate", str(tmp_path))
    assert r.exit_code == 1 and "draft.yaml: error[KS007]" in r.output


def test_allow_empty_does_not_hide_other_errors(tmp_path):
    (tmp_path / "p.yaml").write_text("apiVersion: killswitch/v1\nkind: Policy\nmetadata: {name: p}\nspec: {}\n")
    r = run("validate", "--allow-empty", str(tmp_path))
    assert r.exit_code == 1 and "error[KS102]" in r.output


def test_a_misspelled_directory_suggests_the_one_that_exists(tmp_path):
    (tmp_path / "policies").mkdir()
    r = run("validate", str(tmp_path / "polices"))
    assert r.exit_code == 2  # a usage error
    assert "polices' does not exist; did you mean '" + str(tmp_path / "policies") + "'?" in r.output


def test_the_examples_still_validate():
    r = run("validate", "--strict", str(POLICIES))
    assert r.exit_code == 0, r.output
