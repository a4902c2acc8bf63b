"""The audit sink (killswitch/audit/siem/): its URLs, its records, and its shipper over a real
store and real sockets: delivery in order from a durable cursor, a receiver down and back, one
that stalls, cuts the connection or answers garbage, a crash between a send and its cursor's
save, a takeover, and the gate of --audit-sink-required."""

from __future__ import annotations

import time
from typing import Callable

import pytest

from killswitch.audit.siem.records import SyslogFormat, author
from killswitch.audit.siem.shipper import AuditSinks, ShipOptions, SinkShipper
from killswitch.audit.siem.targets import SinkUrlError, parse_target, parse_targets
from killswitch.render.status import audit_sink_lines
from killswitch.render.times import iso
from killswitch.state import open_store
from killswitch.state.store import ChainRow
from tests.procs import free_port, wait_for
from tests.siem import OtlpLogsReceiver, SyslogReceiver, check_chain, deduped, parse_syslog

FAST = ShipOptions(batch=50, poll_s=0.02, probe_s=0.2, backoff_s=0.05, max_backoff_s=0.2, save_every_s=0)


@pytest.mark.parametrize("url, problem", [
    ("syslog+tpc://127.0.0.1:514", "did you mean 'syslog+tcp'"),
    ("syslog+tcp://127.0.0.1", "no port"),
    ("syslog+tcp://127.0.0.1:514?ca_file=/x", "TLS keys need syslog+tls"),
    ("syslog+tls://127.0.0.1:6514?ca_fle=/x", "did you mean 'ca_file'"),
    ("syslog+tcp://127.0.0.1:514?facility=locl0", "did you mean 'local0'"),
    ("syslog+tls://127.0.0.1:6514?cert_file=/c", "cert_file and key_file go together"),
    ("otlp+http://u:secret@127.0.0.1:4318", "credentials in the URL are refused"),
    ("syslog+tcp://127.0.0.1:514?timeout=0", "timeout is seconds"),
])
def test_a_bad_url_is_refused_with_what_is_wrong(url, problem):
    with pytest.raises(SinkUrlError) as e:
        parse_target(url)
    assert problem in str(e.value) and "secret" not in str(e.value)


def test_urls_read_with_their_defaults_and_names_told_apart():
    t = parse_target("otlp+http://127.0.0.1:4318")
    assert (t.path, t.name, t.timeout_s, t.tls) == ("/v1/logs", "otlp+http://127.0.0.1:4318/v1/logs", 5.0, False)
    t = parse_target("syslog+tls://siem.example:6514?ca_file=/ca.pem&name=siem&facility=local3&timeout=2")
    assert (t.name, t.facility, t.timeout_s, t.tls, t.ca_file) == ("siem", 19, 2.0, True, "/ca.pem")
    with pytest.raises(SinkUrlError, match="given twice"):
        parse_targets(["syslog+tcp://a:1?name=x", "syslog+tcp://b:1?name=x"])


def test_a_syslog_message_is_rfc5424_with_the_row_its_hashes_and_an_escaped_author():
    row = ChainRow(7, "operator_lock", 1_795_833_278_123, '{"by":"al\\"ice]","reason":"x"}', "a" * 64, "b" * 64)
    assert author(row) == 'al"ice]'
    frame = SyslogFormat(4, hostname="host one", procid=42).frames([row])
    length, _, msg = frame.partition(b" ")
    assert int(length) == len(msg)
    text = msg.decode()
    assert text.startswith("<37>1 2026-11-28T02:34:38.123Z hostone killswitch 42 operator_lock [audit@32473 ")
    got = parse_syslog(text)
    assert (got["seq"], got["author"], got["prev_hash"], got["hash"], got["text"]) == (
        7, 'al"ice]', "a" * 64, "b" * 64, row.text)
    assert author(ChainRow(1, "stage_entered", 1, '{"policy":"p"}', "", "")) == "killswitch"


class Chain:
    """A store with rows in its chain and a runner that leads it (its fencing token)."""

    def __init__(self, tmp_path, rows: int = 0):
        self.url = f"sqlite://{tmp_path / 'state.db'}"
        self.store = open_store(self.url)
        self.fence = self.store.acquire_lease("a", 600_000, int(time.time() * 1000))
        self.opened = [self.store]
        self.add(rows)

    def add(self, n: int, kind: str = "operator_lock", pad: int = 0) -> None:
        now = int(time.time() * 1000)
        extra = {"note": "x" * pad} if pad else {}
        self.store.audit_many([(kind, now, {"by": "alice", "i": i, **extra}) for i in range(n)], fence=self.fence)

    def shipper(self, url: str, leading=None, errs=None, **kw) -> SinkShipper:
        s = open_store(self.url)
        self.opened.append(s)
        errs = errs if errs is not None else []
        return SinkShipper(parse_target(url), s, leading or (lambda: self.fence), errs.append, lambda _: None,
                           kw.pop("opts", FAST), **kw)

    def close(self):
        for s in self.opened:
            s.close()


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path, 120)
    yield c
    c.close()


def _all(n):
    return lambda msgs: len({m["seq"] for m in msgs}) >= n


def idle_looks(s: SinkShipper) -> Callable[[], int]:
    """Counts the shipper's looks at the chain that found nothing past its cursor: once it has
    made one, what it was going to send (a row again, too) has been sent."""
    looks, rows = [0], s.store.chain_rows

    def chain_rows(*args, **kwargs):
        got = rows(*args, **kwargs)
        looks[0] += not got
        return got

    s.store.chain_rows = chain_rows
    return lambda: looks[0]


def shipped(chain: Chain, s: SinkShipper, idle: Callable[[], int], seq: int) -> None:
    """Wait until ``s`` has stored its cursor at ``seq`` and looked again with nothing to send."""
    looked = idle()
    wait_for(lambda: chain.store.audit_sink_cursor("siem") == seq, f"the cursor stored at {seq}")
    wait_for(lambda: idle() > looked, "a look at the chain past the cursor")


def test_every_row_reaches_the_receiver_in_order_and_a_restart_sends_none_twice(chain):
    rx = SyslogReceiver()
    url = f"syslog+tcp://127.0.0.1:{rx.port}?name=siem"
    first = chain.shipper(url)
    idle = idle_looks(first)
    first.start()
    try:
        rx.wait_for(_all(120))
        shipped(chain, first, idle, 120)
    finally:
        first.stop()
    assert chain.store.audit_sink_cursor("siem") == 120 and first.lag == 0
    chain.add(30)
    second = chain.shipper(url)  # a restart: the cursor read from the store
    idle = idle_looks(second)
    second.start()
    try:
        rx.wait_for(_all(150))
        shipped(chain, second, idle, 150)
    finally:
        second.stop()
        rx.close()
    rows, repeats = deduped(rx.messages)
    assert repeats == 0 and [r["seq"] for r in rows] == list(range(1, 151))
    check_chain(rows)
    assert all(r["author"] == "alice" and r["kind"] == "operator_lock" for r in rows)


def test_a_receiver_down_then_back_gets_every_row_once(chain):
    port = free_port()
    errs: list[str] = []
    s = chain.shipper(f"syslog+tcp://127.0.0.1:{port}?name=siem&timeout=0.5", errs=errs)
    sinks = AuditSinks([s], required=True)
    s.start()
    try:
        wait_for(lambda: s.cause == "CONNECT_FAILED", "the first connect refused")
        assert s.up is False and s.cause == "CONNECT_FAILED" and s.lag == 120
        assert "AUDIT_SINK_DOWN" in errs[0] and sinks.refusal() is not None
        assert chain.store.audit_sink_cursor("siem") is None
        [down] = sinks.status()["sinks"]
        since = down["since_ms"]
        assert down["url"] == f"syslog+tcp://127.0.0.1:{port}" and down["state"] == "down" and down["required"]
        assert down["cause"] == "CONNECT_FAILED" and abs(since - time.time() * 1000) < 5_000 and down["lag_rows"] == 120
        failures = s.failures
        wait_for(lambda: s.failures >= failures + 2, "two more connects refused")
        assert sinks.status()["sinks"][0]["since_ms"] == since  # since the first failure, not the latest
        lines = audit_sink_lines(sinks.status(), None)
        assert lines == [f"  audit sink siem syslog+tcp://127.0.0.1:{port}: DOWN, CONNECT_FAILED since "
                         f"{iso(since)}; lag 120 row(s), acknowledged seq 0 of 120; required: writes that add risk "
                         "wait for a sink"], lines
        rx = SyslogReceiver(port=port)
        rx.wait_for(_all(120), timeout=60)
        wait_for(lambda: s.up is True and s.lag == 0, "the sink up and caught up")
        assert sinks.refusal() is None
        [up] = sinks.status()["sinks"]
        assert up["state"] == "up" and up["cause"] is None and up["since_ms"] is None and up["lag_rows"] == 0
    finally:
        s.stop()
        rx.close()
    rows, repeats = deduped(rx.messages)
    assert repeats == 0 and len(rows) == 120
    check_chain(rows)


@pytest.mark.parametrize("mode", ["garbage", "cut"])
def test_a_receiver_that_answers_garbage_or_cuts_the_connection_loses_no_row(chain, mode):
    rx = SyslogReceiver("garbage") if mode == "garbage" else SyslogReceiver(cut_after=30)
    s = chain.shipper(f"syslog+tcp://127.0.0.1:{rx.port}?name=siem")
    s.start()
    try:
        chain.add(40)
        # the receiver answers a frame after it took it: rows sent once 160 are taken find the
        # answers to those before them waiting, whatever the load
        rx.wait_for(_all(160), timeout=15)
        chain.add(40)
        rx.wait_for(_all(200), timeout=15)
    finally:
        s.stop()
        rx.close()
    rows, repeats = deduped(rx.messages)
    assert [r["seq"] for r in rows] == list(range(1, 201))
    check_chain(rows)
    if mode == "cut":
        assert rx.connections >= 2  # sent again on a new connection, the receiver drops the repeats
    else:
        assert repeats == 0 and s.transport.garbage_bytes > 0


def test_a_stalled_receiver_times_out_and_is_tried_again(chain):
    stall = SyslogReceiver("stall")
    chain.add(3000, pad=8000)  # more than the socket buffers take (24 MB)
    s = chain.shipper(f"syslog+tcp://127.0.0.1:{stall.port}?name=siem&timeout=0.3",
                      opts=ShipOptions(batch=1000, poll_s=0.02, backoff_s=0.05, max_backoff_s=0.2, save_every_s=0))
    s.start()
    try:
        wait_for(lambda: s.cause == "TIMEOUT", "the stalled send timed out")
        assert s.up is False
    finally:
        s.stop()
        stall.close()
    assert (chain.store.audit_sink_cursor("siem") or 0) < 3120


class Crash(BaseException):
    """The process dies here (the thread ends, nothing after it runs)."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_crash_between_send_and_cursor_save_sends_that_batch_again_and_only_that(chain):
    rx = SyslogReceiver()
    url = f"syslog+tcp://127.0.0.1:{rx.port}?name=siem"
    s = chain.shipper(url)
    saves = []

    def save_then_crash(name, seq, fence, ts):
        if len(saves) == 1:
            raise Crash()
        saves.append(seq)
        type(s.store).save_audit_sink_cursor(s.store, name, seq, fence, ts)

    s.store.save_audit_sink_cursor = save_then_crash
    s.start()
    s._thread.join(10)
    s.transport.close()
    assert saves == [50] and chain.store.audit_sink_cursor("siem") == 50
    rx.wait_for(_all(100))
    again = chain.shipper(url)
    idle = idle_looks(again)
    again.start()
    try:
        rx.wait_for(_all(120))
        shipped(chain, again, idle, 120)
    finally:
        again.stop()
        rx.close()
    rows, repeats = deduped(rx.messages)
    assert repeats == 50 and [r["seq"] for r in rows] == list(range(1, 121))  # rows 51..100, exactly
    check_chain(rows)


def test_a_takeover_goes_on_from_the_stored_cursor_and_a_deposed_leader_cannot_move_it(chain):
    rx = SyslogReceiver()
    url = f"syslog+tcp://127.0.0.1:{rx.port}?name=siem"
    old = chain.shipper(url)
    idle = idle_looks(old)
    old.start()
    rx.wait_for(_all(120))
    shipped(chain, old, idle, 120)
    old.stop()
    chain.store.release_lease("a")
    new_fence = chain.store.acquire_lease("b", 600_000, int(time.time() * 1000))
    chain.fence = new_fence
    chain.add(20)
    stale = chain.shipper(url, leading=lambda: new_fence - 1)
    stale.cursor, stale.leads_with = 120, new_fence - 1
    stale.step()  # sends (the receiver drops the repeats) but its save is fenced out
    assert chain.store.audit_sink_cursor("siem") == 120 and stale.leads_with is None
    new = chain.shipper(url, leading=lambda: new_fence)
    idle = idle_looks(new)
    new.start()
    try:
        rx.wait_for(lambda m: len(m) >= 160)
        shipped(chain, new, idle, 140)
    finally:
        new.stop()
        stale.transport.close()
        rx.close()
    assert chain.store.audit_sink_cursor("siem") == 140
    rows, repeats = deduped(rx.messages)
    assert repeats == 20 and len(rows) == 140  # the deposed leader's one batch, never the new one's
    check_chain(rows)


def test_a_standby_probes_sends_nothing_and_shows_the_stored_lag(chain):
    rx = SyslogReceiver()
    s = chain.shipper(f"syslog+tcp://127.0.0.1:{rx.port}?name=siem", leading=lambda: None)
    assert s.step() is False and s.up is True and s.lag == 120 and rx.messages == []
    s.transport.close()
    rx.close()


def test_otlp_delivers_and_a_garbage_or_failing_answer_is_no_acknowledgement(chain):
    rx = OtlpLogsReceiver()
    s = chain.shipper(f"otlp+http://127.0.0.1:{rx.port}?name=otlp")
    rx.answer = "garbage"
    with pytest.raises(Exception, match="GARBAGE_ANSWER"):
        s.step()
    rx.answer = "error"
    with pytest.raises(Exception, match="HTTP_STATUS: 503"):
        s.step()
    assert chain.store.audit_sink_cursor("otlp") is None
    rx.answer = "ok"
    s.start()
    try:
        rx.wait_for(_all(120))
    finally:
        s.stop()
        rx.close()
    rows, repeats = deduped(rx.messages)
    assert repeats == 0 and len(rows) == 120
    check_chain(rows)
    assert rx.resources[0]["service.name"] == "killswitch"
    assert rows[0]["time_unix_nano"] == rows[0]["ts_ms"] * 1_000_000


def test_cursor_saves_are_spaced_while_rows_follow_and_made_at_once_when_caught_up(chain):
    rx = SyslogReceiver()
    s = chain.shipper(f"syslog+tcp://127.0.0.1:{rx.port}?name=siem",
                      opts=ShipOptions(batch=50, poll_s=0.02, probe_s=0.2, backoff_s=0.05, save_every_s=60))
    saved = []
    real = s.store.save_audit_sink_cursor

    def spy(name, seq, fence, ts):
        saved.append(seq)
        real(name, seq, fence, ts)

    s.store.save_audit_sink_cursor = spy
    assert s.step() and s.step() and s.step()  # 50, 100, 120 sent
    assert saved == [50] and chain.store.audit_sink_cursor("siem") == 50  # the next saves wait
    assert s.step() is False  # caught up: saved at once
    assert saved == [50, 120] and chain.store.audit_sink_cursor("siem") == 120
    s.transport.close()
    rx.close()
