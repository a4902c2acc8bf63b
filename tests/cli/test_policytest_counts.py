"""What ``ksctl test`` counts: test files among the files read, tests, and checks that passed,
failed or could not run (passed + failed + not run = checks, never a negative count)."""

import re
import shutil

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import POLICIES

POLICY = POLICIES / "futures-book.yaml"
TEST = POLICIES / "tests" / "futures-book.test.yaml"
SUMMARY = re.compile(r"^(\d+) test file\(s\) of (\d+) file\(s\) read, (\d+) test\(s\), (\d+) check\(s\): "
                     r"(\d+) passed, (\d+) failed(?:, (\d+) not run)?$", re.MULTILINE)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def summary(output: str) -> tuple[int, ...]:
    m = SUMMARY.search(output)
    assert m, output
    return tuple(int(g) if g is not None else 0 for g in m.groups())


def test_a_test_file_alone_does_not_run_and_says_why():
    r = run("test", TEST)
    assert r.exit_code == 1
    assert "-1 passed" not in r.output
    # 1 test file of 1 file read, 5 tests with 17 expectations and 2 stages series: none passed,
    # none failed, 19 not run
    assert summary(r.output) == (1, 1, 5, 19, 0, 0, 19)
    assert f'{TEST}:11:11: NOT RUN: policy "futures-book" is not loaded' in r.output


def test_a_policy_and_its_test_count_as_two_files_read_and_one_test_file():
    r = run("test", POLICY, TEST)
    assert r.exit_code == 0, r.output
    assert summary(r.output) == (1, 2, 5, 19, 19, 0, 0)


def test_the_examples_count_every_file_read():
    r = run("test", POLICIES)
    assert r.exit_code == 0, r.output
    files, read, cases, checks, passed, failed, not_run = summary(r.output)
    assert (files, read, failed, not_run) == (8, 18, 0, 0) and passed == checks > 0


def test_a_failed_check_counts_as_failed(tmp_path):
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    t = copy / "tests" / "futures-book.test.yaml"
    t.write_text(t.read_text().replace("{at: 30m, stage: 2,", "{at: 30m, stage: 3,"))
    r = run("test", copy / "futures-book.yaml", t)
    assert r.exit_code == 1
    assert summary(r.output) == (1, 2, 5, 19, 18, 1, 0)


def test_an_expectation_off_the_interval_is_a_failed_check(tmp_path):
    t = tmp_path / "t.test.yaml"
    t.write_text(TEST.read_text().replace("- at: 20m", "- at: 90s"))
    r = run("test", POLICY, t)
    assert r.exit_code == 1
    assert "at 1m30s is not a multiple of the interval" in r.output
    assert summary(r.output) == (1, 2, 5, 19, 18, 1, 0)


def test_two_test_documents_in_one_file_are_one_test_file(tmp_path):
    t = tmp_path / "t.test.yaml"
    t.write_text(TEST.read_text() + "\n---\n" + TEST.read_text().replace("futures-book-tests", "again"))
    r = run("test", POLICY, t)
    assert r.exit_code == 0, r.output
    assert summary(r.output) == (1, 2, 10, 38, 38, 0, 0)
