"""A file only the API uses (``--web-config-file``, ``--oidc-config``) given to a runner without an
API (``--api-port -1``) is said, with what that leaves undone, and not read; with an API it is
read, and one that cannot be used stops the start (killswitch/process/daemon.py, _api_inputs)."""

from __future__ import annotations

import pytest

from killswitch.process.daemon import Daemon
from killswitch.process.options import RunOptions


def _inputs(tmp_path, **kw) -> tuple[tuple, list[str]]:
    said: list[str] = []
    opts = RunOptions(("p",), "a.yaml", f"sqlite:///{tmp_path / 'x.db'}", "lock.json", **kw)
    return Daemon(opts, said.append, said.append)._api_inputs(), said


def test_files_given_without_an_api_are_said_and_not_read(tmp_path):
    got, said = _inputs(tmp_path, api_port=None, web_config_file=str(tmp_path / "missing-web.yaml"),
                        oidc_config=str(tmp_path / "missing-oidc.yaml"))
    assert got == (True, None)
    assert said == ["ksctl run: --web-config-file without an API (--api-port -1): nothing is served",
                    "ksctl run: --oidc-config without an API (--api-port -1): nobody signs in"]


@pytest.mark.parametrize("option", ["web_config_file", "oidc_config"])
def test_a_file_the_api_cannot_use_stops_the_start(tmp_path, option):
    got, said = _inputs(tmp_path, api_port=0, **{option: str(tmp_path / "missing.yaml")})
    assert got == (False, None)
    assert said and "without an API" not in " ".join(said)


def test_no_file_is_nothing_to_say(tmp_path):
    assert _inputs(tmp_path, api_port=None) == ((True, None), [])
