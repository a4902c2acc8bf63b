"""``ksctl audit verify`` and ``ksctl history``: what they print and their exit codes, on SQLite
and PostgreSQL — 0 intact (and whether anchored), 1 the first finding with its row, 2 a bad anchor
or an unusable key, 3 a store that cannot be read — and the key never in their output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.state import AuditKey, open_store
from tests.state.conftest import backend, raw, store_url  # noqa: F401 - fixtures: both backends

KEY = "cli-audit-key-" + "7" * 40


def write(url: str, n: int = 5, key: str | None = None) -> None:
    s = open_store(url, audit_key=AuditKey(key) if key else None)
    for i in range(n):
        s.audit("stage_transition", 1_000 + i, {"i": i})
    s.close()


def ksctl(*args, key: str | None = None, stdin: str | None = None):
    env = {"KS_AUDIT_KEY": key} if key else {}
    return CliRunner(env=env).invoke(cli, list(args), input=stdin)


def test_an_intact_old_chain_exits_0_and_says_it_is_unanchored(store_url):
    write(store_url)
    r = ksctl("audit", "verify", "--state", store_url)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("audit chain intact, UNANCHORED: 5 row(s), seq 1..5 and the head (seq 5) check; "
                               "not anchored")


def test_with_the_key_it_exits_0_intact_and_anchored_and_never_prints_the_key(store_url):
    write(store_url, key=KEY)
    r = ksctl("audit", "verify", "--state", store_url, key=KEY)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("audit chain intact and anchored: 5 row(s)")
    assert f"key id {AuditKey(KEY).key_id}" in r.stdout and KEY not in r.output


def test_a_forged_row_after_the_head_exits_1_with_its_row(store_url, raw):
    write(store_url)
    prev = raw("SELECT hash FROM audit_log WHERE seq = 5")[0][0]
    raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash) VALUES (6, 'reset_approval', 9, "
        "'{\"approver\":\"mallory\"}', ?, 'bad')", (prev,))
    r = ksctl("audit", "verify", "--state", store_url)
    assert r.exit_code == 1
    assert r.stdout.startswith("audit chain TAMPERED: first bad row 6: ")
    assert "ROWS_PAST_HEAD: row 6 past the head (seq 5)" in r.stdout
    assert "  checked: 6 row(s), seq 1..6 and the head (seq 5)" in r.stdout


def test_a_missing_head_exits_1_for_verify_and_history_not_3(store_url, raw):
    write(store_url)
    raw("DELETE FROM audit_head")
    r = ksctl("audit", "verify", "--state", store_url)
    assert r.exit_code == 1 and "first bad row 6: HEAD_MISSING" in r.stdout, r.output
    h = ksctl("history", "--state", store_url)
    assert h.exit_code == 1 and "audit chain: TAMPERED: first bad row 6: HEAD_MISSING" in h.stdout, h.output
    doc = json.loads(ksctl("history", "--state", store_url, "-o", "json").stdout)
    assert (doc["audit_ok"], doc["audit_first_bad_row"], doc["audit"]["findings"][0]["code"]) == \
        (False, 6, "HEAD_MISSING")


def test_a_rewritten_row_is_caught_by_the_hmac_only_with_the_key(store_url, raw):
    from tests.state.test_audit_chain import rehash_from

    write(store_url, key=KEY)
    rehash_from(raw, 3, {"i": 99})
    assert ksctl("audit", "verify", "--state", store_url).exit_code == 0  # consistent, and said to be unproven
    r = ksctl("audit", "verify", "--state", store_url, key=KEY)
    assert r.exit_code == 1 and r.stdout.startswith("audit chain TAMPERED: first bad row 3: ROW_MAC_INVALID")


def test_exported_anchors_from_the_command_line_a_log_file_or_stdin(store_url, raw, tmp_path):
    write(store_url, 6)
    s = open_store(store_url, migrate=False)
    head = s.audit_head()
    s.close()
    line = f"2026-03-02T13:00:00Z {head.line()} at=2026-03-02T13:00:00Z anchored=none"
    log = tmp_path / "run.log"
    log.write_text(f"ksctl run: started\n{line}\n")
    ok = ksctl("audit", "verify", "--state", store_url, "--anchors-from", str(log), "-o", "json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["anchors"] == [f"6:{head.hash}"]
    raw("DELETE FROM audit_log WHERE seq = 6")
    raw("UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_log WHERE seq = 5)")
    for r in (ksctl("audit", "verify", "--state", store_url, "--anchor", f"6:{head.hash}"),
              ksctl("audit", "verify", "--state", store_url, "--anchors-from", "-", stdin=line + "\n")):
        assert r.exit_code == 1 and "first bad row 6: ANCHOR_ROW_MISSING: row 6 of the exported anchor" in r.stdout


@pytest.mark.parametrize("args,code,text", [
    (["--anchor", "6:xyz"], 2, "BAD_ANCHOR"),
    (["--audit-key-file", "/nonexistent/ks-audit-key"], 2, "AUDIT_KEY_UNREADABLE: secret file /nonexistent"),
])
def test_usage_errors_exit_2_with_a_reason_code(store_url, args, code, text):
    write(store_url)
    r = ksctl("audit", "verify", "--state", store_url, *args)
    assert r.exit_code == code and text in r.output, r.output


def test_a_short_key_in_the_environment_is_refused_without_being_printed(store_url):
    write(store_url)
    r = ksctl("audit", "verify", "--state", store_url, key="tiny-key-42")
    assert r.exit_code == 2 and "AUDIT_KEY_TOO_SHORT" in r.output and "tiny-key-42" not in r.output


def test_a_store_that_cannot_be_read_exits_3(tmp_path):
    garbage = tmp_path / "not-a-db.db"
    garbage.write_bytes(b"this is not a SQLite database, and it is long enough to have a header\n" * 4)
    r = ksctl("audit", "verify", "--state", f"sqlite://{garbage}")
    assert r.exit_code == 3 and "ksctl audit verify: STORE_UNREADABLE:" in r.stderr
    # a store file that is not there is a usage error, and reading it creates nothing
    r = ksctl("audit", "verify", "--state", f"sqlite://{tmp_path / 'no' / 'such.db'}")
    assert r.exit_code == 2 and "no state store at" in r.output and not (tmp_path / "no").exists()


def test_json_says_what_was_covered_and_every_finding(store_url, raw):
    write(store_url, 8)
    raw("DELETE FROM audit_log WHERE seq IN (3, 7)")
    doc = json.loads(ksctl("audit", "verify", "--state", store_url, "-o", "json").stdout)
    assert (doc["format_version"], doc["intact"], doc["anchored"], doc["first_bad_row"]) == (1, False, False, 3)
    assert [(f["code"], f["seq"]) for f in doc["findings"]] == [("ROWS_MISSING", 3), ("ROWS_MISSING", 7)]
    assert doc["head"]["seq"] == 8 and doc["rows"] == 6
