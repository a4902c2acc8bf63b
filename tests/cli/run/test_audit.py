"""``ksctl run`` with an audit key, as a process against the simulated exchange on 127.0.0.1: it
anchors the chain it finds, logs the head as ``AUDIT_HEAD`` lines, never prints the key, and
``ksctl audit verify`` later checks the chain against those lines."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.state import AuditKey, open_store
from tests.conftest import POLICIES
from tests.procs import NO_READERS, accounts_file, simulated_exchange

KEY = "run-audit-key-" + "5" * 40


def test_the_runner_anchors_and_exports_the_head_and_verify_checks_the_log_against_the_chain(tmp_path):
    url = f"sqlite://{tmp_path / 'state.db'}"
    old = open_store(url)  # a chain written before the key existed
    for i in range(3):
        old.audit("policy_reloaded", 1_000 + i, {"i": i})
    old.close()
    exe = Path(sys.executable)
    with simulated_exchange() as port:
        pol = tmp_path / "policies"
        pol.mkdir()
        shutil.copy(POLICIES / "futures-book.yaml", pol / "futures-book.yaml")
        env = {**os.environ, "KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret", "KS_AUDIT_KEY": KEY}
        out = subprocess.run(
            [str(exe.with_name("ksctl")), "run", "--policies", str(pol),
             "--accounts", str(accounts_file(tmp_path, port)),
             "--state", url, "--lock-file", str(tmp_path / "lock.json"), "--api-port", "-1", "--max-ticks", "2",
             "--audit-anchor-every", "1s", *NO_READERS],
            capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    key_id = AuditKey(KEY).key_id
    assert f"audit chain anchored by HMAC from row 4 (key id {key_id}); AUDIT_HEAD exported every 1s" in out.stdout
    # a log line: UTC time, level, logger, then the message (ksctl audit verify finds it in the line)
    heads = [x for x in out.stdout.splitlines() if " INFO killswitch.run AUDIT_HEAD " in x]
    assert heads and all(x.endswith(f"anchored=hmac:{key_id}") for x in heads), out.stdout
    assert KEY not in out.stdout + out.stderr
    log = tmp_path / "run.log"
    log.write_text(out.stdout)

    def verify(*args, key=True):
        # in this process: what is checked is the command's answer (exit code, output), not a process
        # of its own (``ksctl run`` above is one); a set KS_AUDIT_KEY_FILE would override either way
        env = {"KS_AUDIT_KEY": KEY if key else None, "KS_AUDIT_KEY_FILE": None}
        return CliRunner().invoke(cli, ["audit", "verify", "--state", url, *args], env=env, catch_exceptions=False)

    ok = verify("--anchors-from", str(log))
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("audit chain intact and anchored:") and "anchored by HMAC from row 4" in ok.stdout
    assert "rows 1..3 were written before the key" in ok.stdout
    with sqlite3.connect(tmp_path / "state.db") as db:  # every MAC and the head's anchor stripped
        db.execute("UPDATE audit_log SET mac = NULL")
        db.execute("UPDATE audit_head SET mac = NULL, key_id = NULL, anchored_from = NULL")
    bare = verify(key=False)  # row 4 records the key's adoption, in the hashed chain
    assert bare.exit_code == 1, bare.stdout
    assert bare.stdout.startswith("audit chain TAMPERED: first bad row 4: ANCHOR_STRIPPED: the head carries no anchor "
                                  f"(MAC, key id) but row 4 records that key id {key_id} anchored the chain from row 4")
    with sqlite3.connect(tmp_path / "state.db") as db:
        # the rows written with the key cut off too (the adoption row and the runner's rows after
        # it), the head pointed at the row before: nothing left in the database says the chain was
        # ever longer or anchored
        assert db.execute("SELECT kind FROM audit_log WHERE seq = 4").fetchone() == ("audit_key_adopted",)
        db.execute("DELETE FROM audit_log WHERE seq >= 4")
        db.execute("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3)")
        last = 4
    keyed = verify()  # the key says the chain must be anchored
    assert keyed.exit_code == 1 and "NOT_ANCHORED: a key was given but the chain carries no anchor" in keyed.stdout
    bare = verify(key=False)  # the structure alone cannot tell, and says what that leaves undetectable
    assert bare.exit_code == 4 and bare.stdout.startswith("audit chain consistent, UNVERIFIED")
    assert "a wiped chain, one cut back, or one rewritten whole" in bare.stdout and "intact" not in bare.stdout
    anchored = verify("--anchors-from", str(log), key=False)  # the logged anchor can
    assert anchored.exit_code == 1, anchored.stdout
    assert anchored.stdout.startswith(f"audit chain TAMPERED: first bad row {last}: ANCHOR_ROW_MISSING: row "), \
        anchored.stdout  # (the row of the last anchor exported: the adoption's or a runner row after it)
