"""``--max-file-size`` (or KS_MAX_FILE_SIZE) on every command that reads policies: a file over it
is KS010 and is not read; a value that is not a size is a usage error (exit 2) that says what a
size looks like. The runner applies it to every reload: an oversize file is a failed reload that
keeps the last good graph running."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.process.daemon import Daemon
from killswitch.process.options import RunOptions
from tests.conftest import POLICIES

MIB = 1024 * 1024
SPOT = (POLICIES / "spot-book.yaml").read_text()
RECORDING = POLICIES / "recordings" / "futures-crash.jsonl"


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


def _padded(path, size: int, text: str = SPOT) -> None:
    path.write_text(text + "#" * (size - len(text.encode()) - 1) + "\n")
    assert path.stat().st_size == size


@pytest.fixture
def big(tmp_path):
    """A directory with the spot book padded to one byte over 1 MiB, and the routes it needs."""
    _padded(tmp_path / "spot-book.yaml", MIB + 1)
    (tmp_path / "routes.yaml").write_text((POLICIES / "routes.yaml").read_text())
    return tmp_path


def test_validate_refuses_a_file_over_one_mebibyte_by_default(big):
    r = run("validate", str(big))
    assert r.exit_code == 1, r.output
    assert (f"{big / 'spot-book.yaml'}: error[KS010]: the file is 1,048,577 bytes, over the limit of 1 MiB "
            "(1,048,576 bytes); it was not read") in r.output
    assert "--max-file-size 2MiB" in r.output


def test_validate_reads_a_file_exactly_at_the_limit(tmp_path):
    _padded(tmp_path / "spot-book.yaml", MIB)
    (tmp_path / "routes.yaml").write_text((POLICIES / "routes.yaml").read_text())
    r = run("validate", str(tmp_path))
    assert r.exit_code == 0, r.output


def test_a_higher_limit_from_the_option_or_the_environment_reads_it(big):
    assert run("validate", "--max-file-size", "2MiB", str(big)).exit_code == 0
    r = run("validate", str(big), env={"KS_MAX_FILE_SIZE": "1100000"})
    assert r.exit_code == 0, r.output
    r = run("validate", "--max-file-size", "1MiB", str(big), env={"KS_MAX_FILE_SIZE": "2MiB"})
    assert r.exit_code == 1 and "error[KS010]" in r.output, "the option wins over the environment"


@pytest.mark.parametrize("value", ["1Mb", "2 MiBs", "one", "-1", "0"])
def test_a_limit_that_is_not_a_size_is_a_usage_error(big, value):
    r = run("validate", "--max-file-size", value, str(big))
    assert r.exit_code == 2, r.output
    assert "Invalid value for '--max-file-size'" in r.output
    assert "is not a size: write a number of bytes with an optional unit" in r.output or "below one byte" in r.output


def test_a_limit_in_the_environment_that_is_not_a_size_says_where_it_came_from(big):
    r = run("validate", str(big), env={"KS_MAX_FILE_SIZE": "4mb"})
    assert r.exit_code == 2, r.output
    assert "KS_MAX_FILE_SIZE" in r.output and "'4mb' is not a size" in r.output


COMMANDS = [["validate"], ["graph"], ["test"], ["replay"], ["plan"], ["diff"], ["routes", "test"], ["run"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_that_reads_policies_takes_the_limit(command):
    r = run(*command, "--help")
    assert r.exit_code == 0, r.output
    assert "--max-file-size" in r.output and "KS_MAX_FILE_SIZE" in r.output


@pytest.mark.parametrize("args", [
    ["graph", "{big}"],
    ["test", "{big}"],
    ["replay", "--policies", "{big}", "--snapshots", str(RECORDING)],
    ["plan", "--policies", "{big}", "--against", str(RECORDING)],
    ["routes", "test", "--routes", "{big}", "--label", "severity=critical"],
    ["diff", str(POLICIES / "spot-book.yaml"), "{big}/spot-book.yaml", "--against", str(RECORDING)],
], ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_a_file_over_the_limit_and_reads_it_under_a_higher_one(big, args):
    argv = [a.replace("{big}", str(big)) for a in args]
    r = run(*argv)
    assert r.exit_code == 1, r.output
    assert "error[KS010]" in r.output
    assert "error[KS010]" not in run(*argv[:2], "--max-file-size", "2MiB", *argv[2:]).output


def test_a_reload_of_a_file_over_the_limit_fails_and_keeps_the_last_good_graph(tmp_path):
    from tests.integration.runner.rig import parts_of, setup

    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "p.yaml").write_text(SPOT)
    runner, _, _, _, _, _ = setup(tmp_path)
    parts = parts_of(runner)
    said: list[str] = []
    d = Daemon(RunOptions((str(pol),), "unused", "unused", "unused", max_file_bytes=64 * 1024), said.append,
               said.append)
    asyncio.run(d._reload(runner, parts))
    assert parts.reloads.error is None and parts.book.graph.policies[0].name == "spot-book"
    first = parts.book.graph.digest
    _padded(pol / "p.yaml", 64 * 1024 + 1, SPOT.replace("day <= -8%", "day <= -9%"))
    asyncio.run(d._reload(runner, parts))
    assert parts.book.graph.digest == first, "an oversize file must not disarm the running graph"
    assert parts.reloads.error and "error[KS010]" in parts.reloads.error and "65,537 bytes" in parts.reloads.error
    assert any("POLICY RELOAD FAILED" in m and "KS010" in m for m in said), said
    _padded(pol / "p.yaml", 64 * 1024, SPOT.replace("day <= -8%", "day <= -9%"))  # exactly at the limit
    asyncio.run(d._reload(runner, parts))
    assert parts.reloads.error is None and parts.book.graph.digest != first


def test_a_limit_of_400_digits_or_over_a_gib_is_a_usage_error_not_an_internal_error(big):
    for value in ("9" * 400, "2GiB"):
        r = run("validate", "--max-file-size", value, str(big))
        assert r.exit_code == 2, r.output
        assert "is over 1 GiB: a policy file is read into memory whole" in r.output
