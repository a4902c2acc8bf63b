"""``ksctl run`` on an API port another socket holds: said as the operator's to change, with
what to do, and exit 2 (usage), not ``internal error (a bug: please report it)`` and a
traceback (issue 65, walk 6 F-M7)."""

from __future__ import annotations

import socket
import subprocess

from tests.integration.test_processes import ENV, KSCTL, write_inputs
from tests.procs import NO_READERS


def test_a_port_in_use_is_said_with_what_to_do_and_exits_2(tmp_path):
    pol, acc = write_inputs(tmp_path, 1)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        args = ["run", "--policies", str(pol), "--accounts", str(acc), "--state", f"sqlite://{tmp_path / 'state.db'}",
                "--lock-file", str(tmp_path / "lock.json"), "--api-host", "127.0.0.1", "--api-port", str(port),
                "--max-ticks", "1", *NO_READERS]
        got = subprocess.run([str(KSCTL), *args], capture_output=True, text=True, env=ENV, timeout=120)
    assert got.returncode == 2, got.stderr[-2000:]
    assert (f"ksctl run: cannot listen on 127.0.0.1:{port}: address already in use (another process, or a "
            "connection still closing): pick another --api-port") in got.stderr, got.stderr[-2000:]
    assert "internal error" not in got.stderr and "Traceback" not in got.stderr
