"""``ksctl audit verify`` and ``ksctl history``: what they print and their exit codes, on SQLite
and PostgreSQL — 0 intact and anchored, or consistent in a chain never anchored below the
exported anchors given (said to leave truncation and wipes after them undetectable); 1 the first
finding with its row, or an anchored chain without its key; 2 a bad anchor or an unusable key;
3 a store that cannot be read; 4 consistent but checked against neither the key nor an anchor
(a wiped or wholly rewritten chain reads the same: never "intact") — and the key never in their
output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from killswitch.cli.common import EXIT_UNVERIFIED
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


def test_an_old_chain_without_key_or_anchors_exits_4_consistent_unverified_never_intact(store_url):
    write(store_url)
    r = ksctl("audit", "verify", "--state", store_url)
    assert r.exit_code == EXIT_UNVERIFIED == 4, r.output
    assert r.stdout.startswith("audit chain consistent, UNVERIFIED: 5 row(s), seq 1..5 and the head (seq 5) agree "
                               "(hashes link, no row missing), but nothing authenticates or anchors them: neither "
                               "the audit key nor an exported anchor was given")
    assert "a wiped chain, one cut back, or one rewritten whole" in r.stdout and "intact" not in r.stdout
    h = ksctl("history", "--state", store_url)
    assert h.exit_code == 4 and "audit chain: consistent, UNVERIFIED" in h.stdout and "intact" not in h.stdout
    doc = json.loads(ksctl("audit", "verify", "--state", store_url, "-o", "json").stdout)
    assert (doc["format_version"], doc["verdict"], doc["passed"], doc["intact"], doc["consistent"]) == \
        (3, "consistent_unverified", False, False, True)


def test_an_old_chain_with_its_exported_anchor_exits_0_consistent_unanchored(store_url, tmp_path):
    write(store_url)
    s = open_store(store_url, migrate=False)
    head = s.audit_head()
    s.close()
    r = ksctl("audit", "verify", "--state", store_url, "--anchor", f"{head.seq}:{head.hash}")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("audit chain consistent, UNANCHORED: 5 row(s), seq 1..5 and the head (seq 5), 1 "
                               "exported anchor(s) (up to seq 5) check; not anchored: nothing in the chain shows "
                               "an audit key; the exported anchors hold rows 1..5 as exported")
    assert "intact" not in r.stdout


def test_with_the_key_it_exits_0_intact_and_anchored_and_never_prints_the_key(store_url):
    write(store_url, key=KEY)
    r = ksctl("audit", "verify", "--state", store_url, key=KEY)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("audit chain intact and anchored: 6 row(s)")  # row 1: the key's adoption
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


def test_a_rewritten_row_is_caught_by_the_hmac_and_without_the_key_nothing_passes(store_url, raw):
    from tests.state.test_audit_chain import rehash_from

    write(store_url, key=KEY)
    rehash_from(raw, 3, {"i": 99})
    bare = ksctl("audit", "verify", "--state", store_url)  # consistent, but an anchored chain needs its key
    assert bare.exit_code == 1 and bare.stdout.startswith("audit chain NOT VERIFIABLE without the key: ")
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
    (["--audit-key-file", "/nonexistent/ks-audit-key"], 2,
     "AUDIT_KEY_UNREADABLE: SECRET_FILE_MISSING: --audit-key-file /nonexistent"),
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
    assert (doc["format_version"], doc["intact"], doc["anchored"], doc["first_bad_row"]) == (3, False, False, 3)
    assert (doc["verdict"], doc["passed"], doc["consistent"]) == ("tampered", False, False)
    assert [(f["code"], f["seq"]) for f in doc["findings"]] == [("ROWS_MISSING", 3), ("ROWS_MISSING", 7)]
    assert doc["head"]["seq"] == 8 and doc["rows"] == 6


# --- an anchored chain passed off as unanchored; an unanchored chain cut -----------------------------------


def strip(raw) -> None:
    raw("UPDATE audit_log SET mac = NULL")
    raw("UPDATE audit_head SET mac = NULL, key_id = NULL, anchored_from = NULL WHERE id = 1")


def runner_log(url: str, path) -> str:
    """The log of a runner holding the key, its anchor sink's AUDIT_HEAD line as line 2."""
    s = open_store(url, migrate=False)
    head = s.audit_head()
    s.close()
    path.write_text(f"ksctl run: started\n2026-03-02T13:05:00Z INFO killswitch.run {head.line()} "
                    f"at=2026-03-02T13:05:00Z anchored=hmac:{head.key_id}\n")
    return str(path)


def test_an_anchored_chain_without_the_key_exits_1_not_verifiable(store_url):
    write(store_url, key=KEY)
    for args in (("audit", "verify"), ("history",)):
        r = ksctl(*args, "--state", store_url)
        assert r.exit_code == 1, r.output
        assert "NOT VERIFIABLE without the key: 6 row(s), seq 1..6 and the head (seq 6) check" in r.stdout
        assert f"anchored by HMAC from row 1 with key id {AuditKey(KEY).key_id}, but NOT checked" in r.stdout
    doc = json.loads(ksctl("audit", "verify", "--state", store_url, "-o", "json").stdout)
    assert (doc["verdict"], doc["passed"], doc["intact"], doc["consistent"]) == \
        ("not_verifiable_without_key", False, False, True)


def test_macs_and_head_stripped_exit_1_with_the_anchor_line_that_shows_it(store_url, raw, tmp_path):
    write(store_url, 4, key=KEY)
    log = runner_log(store_url, tmp_path / "run.log")  # the head at row 5, anchored=hmac:<key id>
    write(store_url, 2, key=KEY)
    strip(raw)
    r = ksctl("audit", "verify", "--state", store_url, "--anchors-from", log)
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith("audit chain TAMPERED: first bad row 1: ANCHOR_STRIPPED: the head carries no anchor "
                               "(MAC, key id) but row 1 records that key id")
    assert "7 rows from row 1 to row 7 carry no MAC" in r.stdout
    assert "the exported anchor 5:" in r.stdout and f"anchored=hmac:{AuditKey(KEY).key_id}, {log}:2)" in r.stdout
    assert "intact" not in r.stdout


def test_macs_and_head_stripped_exit_1_without_anchors_too(store_url, raw):
    write(store_url, key=KEY)
    strip(raw)
    r = ksctl("audit", "verify", "--state", store_url)
    assert r.exit_code == 1 and r.stdout.startswith("audit chain TAMPERED: first bad row 1: ANCHOR_STRIPPED: "), \
        r.output
    assert "nothing from row 1 on can be verified without the key" in r.stdout


def test_a_row_appended_with_a_copied_mac_exits_1(store_url, raw):
    from killswitch.state.store import audit_hash, canonical_json

    write(store_url, key=KEY)
    prev, mac = raw("SELECT hash, mac FROM audit_log WHERE seq = 6")[0]
    forged = {"approver": "mallory", "level": 3}
    digest = audit_hash(prev, 7, "reset_approval", 9, forged)
    raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash, mac) VALUES (7, 'reset_approval', 9, ?, ?, "
        "?, ?)", (canonical_json(forged), prev, digest, mac))
    raw("UPDATE audit_head SET seq = 7, hash = ? WHERE id = 1", (digest,))
    r = ksctl("audit", "verify", "--state", store_url)
    assert r.exit_code == 1 and r.stdout.startswith("audit chain TAMPERED: first bad row 7: MAC_REPEATED: row 7 "
                                                    "carries the MAC of row 6"), r.output


@pytest.mark.parametrize("attack", ["truncated", "wiped"])
def test_an_unkeyed_chain_cut_or_wiped_exits_4_unverified_and_says_that_cannot_be_detected(store_url, raw, attack):
    from killswitch.state.store import GENESIS_HASH

    write(store_url)
    if attack == "truncated":
        raw("DELETE FROM audit_log WHERE seq >= 4")
        raw("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3) WHERE id = 1")
    else:
        raw("DELETE FROM audit_log")
        raw("UPDATE audit_head SET seq = 0, hash = ? WHERE id = 1", (GENESIS_HASH,))
    r = ksctl("audit", "verify", "--state", store_url)
    # nothing in the store can show it: exit 4, and the line says so instead of "intact"
    assert r.exit_code == 4 and r.stdout.startswith("audit chain consistent, UNVERIFIED: "), r.output
    assert "a wiped chain, one cut back, or one rewritten whole" in r.stdout and "intact" not in r.stdout


def rewrite_whole_without_adoption(raw) -> None:
    """A keyed chain rewritten from row 1 by someone without the key: the adoption row removed,
    every row renumbered and hashed again, no MAC anywhere, the head pointed at the new end."""
    from killswitch.state.store import GENESIS_HASH, audit_hash

    rows = raw("SELECT seq, kind, ts_ms, payload FROM audit_log ORDER BY seq")
    raw("DELETE FROM audit_log")
    prev, seq = GENESIS_HASH, 0
    for _, kind, ts, text in rows:
        if kind == "audit_key_adopted":
            continue
        seq += 1
        digest = audit_hash(prev, seq, kind, ts, json.loads(text))
        raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
            (seq, kind, ts, text, prev, digest))
        prev = digest
    raw("UPDATE audit_head SET seq = ?, hash = ?, mac = NULL, key_id = NULL, anchored_from = NULL WHERE id = 1",
        (seq, prev))


def test_a_keyed_chain_rewritten_whole_without_its_adoption_row_is_unverified_bare_and_fails_with_the_key(
        store_url, raw):
    write(store_url, key=KEY)
    rewrite_whole_without_adoption(raw)
    bare = ksctl("audit", "verify", "--state", store_url)
    assert bare.exit_code == 4, bare.output
    assert bare.stdout.startswith("audit chain consistent, UNVERIFIED: 5 row(s), seq 1..5 and the head (seq 5) agree")
    assert "intact" not in bare.stdout
    doc = json.loads(ksctl("audit", "verify", "--state", store_url, "-o", "json").stdout)
    assert (doc["verdict"], doc["passed"], doc["intact"]) == ("consistent_unverified", False, False)
    keyed = ksctl("audit", "verify", "--state", store_url, key=KEY)
    assert keyed.exit_code == 1 and keyed.stdout.startswith("audit chain TAMPERED: "), keyed.output
    assert "NOT_ANCHORED: a key was given but the chain carries no anchor" in keyed.stdout
