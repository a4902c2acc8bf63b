"""The audit anchor sink: the head exported to the log and /metrics on the runner's clock, the
previous anchor checked against the chain at each export, and the key never shown."""

from __future__ import annotations

import asyncio
import sqlite3
from types import SimpleNamespace

import pytest

from killswitch.audit.anchor import AuditAnchorSink
from killswitch.audit.key import audit_key_or_none, load_audit_key
from killswitch.runner.tick.report import TickReport
from killswitch.state import AuditAnchor, AuditKey, AuditKeyError, open_store

KEY = "anchor-sink-key-" + "3" * 40
MIN = 60_000


class Lines:
    def __init__(self):
        self.out: list[str] = []
        self.err: list[str] = []

    def all(self) -> str:
        return "\n".join(self.out + self.err)


@pytest.fixture
def url(tmp_path):
    return f"sqlite://{tmp_path / 'state.db'}"


def sink_for(url, key=None, every_ms=5 * MIN):
    store = open_store(url, audit_key=AuditKey(key) if key else None)
    lines = Lines()
    return store, AuditAnchorSink(store, lines.out.append, lines.err.append, every_ms=every_ms), lines


def tick(sink, now_ms):
    """A tick as the runner gives it: the sink reads through the context's view of the store."""
    sink.on_tick(TickReport(now_ms, leader=True), SimpleNamespace(store=sink.store))


def test_the_head_is_logged_at_the_first_tick_then_on_the_interval_when_it_moved(url):
    store, sink, lines = sink_for(url, KEY)  # row 1: the key's adoption
    store.audit("stage_transition", 1, {"to": 1})
    tick(sink, 0)
    head = store.audit_head()
    assert lines.out == [f"AUDIT_HEAD seq=2 hash={head.hash} at=1970-01-01T00:00:00Z "
                         f"anchored=hmac:{AuditKey(KEY).key_id}"]
    store.audit("stage_transition", 2, {"to": 2})
    tick(sink, 4 * MIN)  # not yet due
    assert len(lines.out) == 1
    tick(sink, 5 * MIN)
    assert lines.out[-1].startswith("AUDIT_HEAD seq=3 ") and len(lines.out) == 2
    tick(sink, 10 * MIN)  # due, but the head did not move: nothing new to anchor
    assert len(lines.out) == 2 and sink.exports == 3
    exported = AuditAnchor.parse(lines.out[-1])
    assert exported == AuditAnchor(3, store.audit_head().hash) and exported.key_id == AuditKey(KEY).key_id
    m = sink.metrics_text()
    assert "killswitch_audit_head_seq 3.0\n" in m and "killswitch_audit_anchored 1.0\n" in m
    assert f'killswitch_audit_head_info{{hash="{store.audit_head().hash}",seq="3"}} 1.0' in m
    assert "killswitch_audit_anchor_timestamp_seconds 600.0\n" in m
    assert lines.err == [] and KEY not in lines.all() + m
    store.close()


def test_without_a_key_the_anchor_says_none_and_the_start_warns(url):
    store, sink, lines = sink_for(url)
    sink.announce()
    assert lines.out == ["ksctl run: audit chain NOT anchored by this runner (no usable audit key); AUDIT_HEAD "
                         "exported every 300s"]
    assert lines.err[0].startswith("ksctl run: warning: no audit key (KS_AUDIT_KEY or --audit-key-file)")
    tick(sink, 0)
    assert lines.out[-1].endswith("anchored=none") and "killswitch_audit_anchored 0.0\n" in sink.metrics_text()
    store.close()


def test_the_start_says_when_the_runners_key_is_not_the_chains(url):
    first, _, _ = sink_for(url, KEY)
    first.close()
    store, sink, lines = sink_for(url, "another-key-" + "x" * 30)
    sink.announce()
    assert lines.err and lines.err[0].startswith("ksctl run: error: AUDIT_KEY_MISMATCH: the audit chain is "
                                                 f"anchored with key id {AuditKey(KEY).key_id}")
    tick(sink, 0)
    assert "killswitch_audit_anchored 0.0\n" in sink.metrics_text()
    store.close()


def test_a_cut_below_the_last_anchor_is_said_at_the_next_export_and_stays_on_metrics(url, tmp_path):
    store, sink, lines = sink_for(url, KEY, every_ms=MIN)  # row 1: the key's adoption
    for i in range(4):
        store.audit("x", i, {"i": i})
    tick(sink, 0)
    exported = AuditAnchor.parse(lines.out[-1])
    with sqlite3.connect(tmp_path / "state.db") as db:  # cut back to row 3, head rewritten
        db.execute("DELETE FROM audit_log WHERE seq > 3")
        db.execute("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3)")
    tick(sink, MIN)
    assert len(lines.err) == 1 and lines.err[0].startswith(
        f"ksctl run: AUDIT_ANCHOR_BROKEN: row 5 was exported with hash {exported.hash} and is gone")
    assert f"ksctl audit verify --anchor 5:{exported.hash}" in lines.err[0]
    assert "killswitch_audit_anchor_broken 1.0\n" in sink.metrics_text()
    assert "killswitch_audit_anchored 0.0\n" in sink.metrics_text()  # the rewritten head has no valid MAC
    tick(sink, 2 * MIN)
    assert "killswitch_audit_anchor_broken 1.0\n" in sink.metrics_text(), "sticky: the evidence does not go away"
    store.close()


def test_a_head_mac_that_is_not_ascii_is_not_anchored_and_not_raised(url, tmp_path):
    store, sink, lines = sink_for(url, KEY)
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("UPDATE audit_head SET mac = ?", ("é" * 64,))
    tick(sink, 0)
    assert lines.out[-1].endswith("anchored=none") and "killswitch_audit_anchored 0.0\n" in sink.metrics_text()
    store.close()


def test_a_missing_head_or_an_unreadable_store_is_said_not_raised(url, tmp_path):
    store, sink, lines = sink_for(url, every_ms=MIN)
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("DELETE FROM audit_head")
    tick(sink, 0)
    assert lines.err == ["ksctl run: AUDIT_HEAD_MISSING: the audit_head row is gone; run ksctl audit verify"]
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("DROP TABLE audit_head")  # a query that fails, as on a store that cannot be read
    tick(sink, MIN)
    assert lines.err[-1].startswith("ksctl run: AUDIT_HEAD_UNREADABLE:") and "no such table" in lines.err[-1]
    assert "killswitch_audit_head_read_errors_total 1.0\n" in sink.metrics_text()
    store.close()


def test_the_head_at_stop_is_exported_once_more(url):
    store, sink, lines = sink_for(url)
    tick(sink, 0)
    store.audit("x", 1, {})
    asyncio.run(sink.aclose())
    assert [x.split()[1] for x in lines.out] == ["seq=0", "seq=1"]
    store.close()


def test_the_key_comes_from_a_file_before_the_environment_and_errors_name_no_value(tmp_path, monkeypatch):
    monkeypatch.delenv("KS_AUDIT_KEY", raising=False)
    assert load_audit_key(None) is None
    monkeypatch.setenv("KS_AUDIT_KEY", KEY)
    assert load_audit_key(None).key_id == AuditKey(KEY).key_id
    f = tmp_path / "audit-key"
    other = "file-key-" + "f" * 40
    f.write_text(other + "\n")
    assert load_audit_key(str(f)).key_id == AuditKey(other).key_id
    with pytest.raises(AuditKeyError,
                       match=r"AUDIT_KEY_UNREADABLE: SECRET_FILE_MISSING: --audit-key-file .*missing: no such file"):
        load_audit_key(str(tmp_path / "missing"))
    monkeypatch.setenv("KS_AUDIT_KEY", "short-value")
    with pytest.raises(AuditKeyError, match="AUDIT_KEY_TOO_SHORT") as e:
        load_audit_key(None)
    assert "short-value" not in str(e.value)


def test_a_runner_whose_key_cannot_be_read_says_so_and_runs_unanchored(tmp_path):
    said: list[str] = []
    assert audit_key_or_none(str(tmp_path / "no-such-key"), said.append) is None
    assert said == [f"ksctl run: error: AUDIT_KEY_UNREADABLE: SECRET_FILE_MISSING: --audit-key-file "
                    f"{tmp_path / 'no-such-key'}: no such file (is the Secret mounted there?); the audit rows this "
                    "runner writes will not be anchored"]
