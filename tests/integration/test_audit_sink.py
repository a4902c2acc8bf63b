"""The audit chain streamed to real receivers: Debian's rsyslog, started by the test on 127.0.0.1,
over TCP (octet-counted RFC 5424) and over TLS (its gtls driver, certificates made by the test),
and ``ksctl run --audit-sink`` end to end: the chain shipped as it is written, operator writes that
add risk refused (503 AUDIT_SINK_DOWN) with --audit-sink-required while no sink takes rows, taken
again once one does, a halt applied meanwhile and its row shipped once one does, and nothing of a
secret in what the receiver got."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from killswitch.audit.siem.shipper import AuditSinks, ShipOptions, SinkShipper
from killswitch.audit.siem.targets import parse_target
from killswitch.state import open_store
from tests.conftest import POLICIES, require_tool
from tests.procs import NO_READERS, accounts_file, free_port, wait_port
from tests.siem import check_chain, deduped, parse_syslog
from tests.tls_certs import Ca

FAST = ShipOptions(batch=200, poll_s=0.05, probe_s=0.5, backoff_s=0.1, max_backoff_s=0.5)


class Rsyslog:
    """rsyslogd in the foreground with a config of its own: an imtcp input on ``port`` (TLS with
    ``pki``), every message's raw text a line of ``out``."""

    def __init__(self, where: Path, port: int, tls: "tuple[Path, Path, Path] | None" = None):
        exe = require_tool("rsyslogd")
        self.out = where / "received.log"
        work = where / "rsyslog-work"
        work.mkdir(exist_ok=True)
        glob = f'global(workDirectory="{work}" maxMessageSize="64k"'
        if tls:
            ca, cert, key = tls
            glob += (f' defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{ca}"'
                     f' defaultNetstreamDriverCertFile="{cert}" defaultNetstreamDriverKeyFile="{key}"')
            tcp = ('module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" '
                   'streamDriver.authMode="anon")')
        else:
            tcp = 'module(load="imtcp")'
        conf = where / "rsyslog.conf"
        conf.write_text(f"""{glob})
{tcp}
template(name="raw" type="string" string="%rawmsg%\\n")
input(type="imtcp" port="{port}" address="127.0.0.1")
action(type="omfile" file="{self.out}" template="raw" flushOnTXEnd="on" asyncWriting="off")
""")
        self.port, self.tls = port, tls
        self.proc = subprocess.Popen([exe, "-n", "-f", str(conf), "-i", str(where / "rsyslog.pid")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_port(port, 20)
        except Exception:
            self.stop()
            raise AssertionError(f"rsyslogd did not listen: {self.proc.stdout.read().decode()[-2000:]}")

    def messages(self) -> list[dict]:
        if not self.out.exists():
            return []
        lines = self.out.read_text(encoding="utf-8", errors="replace").splitlines()
        return [parse_syslog(x) for x in lines if "[audit@32473 " in x]

    def wait_for(self, n: int, timeout: float = 30) -> list[dict]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.messages()
            if len({m["seq"] for m in got}) >= n:
                return got
            time.sleep(0.1)
        raise AssertionError(f"rsyslog wrote {len(self.messages())} message(s), not {n}")

    def caught_up(self, timeout: float = 30) -> None:
        """Send a message of the test's own over a connection of its own and wait until it is
        written: what reached the receiver before it has had its turn to be written too."""
        text = f"caught up {time.monotonic_ns()}"
        msg = f"<37>1 - - test - - - {text}".encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            sock = ssl.create_default_context(cafile=str(self.tls[0])).wrap_socket(
                raw, server_hostname="localhost") if self.tls else raw
            sock.sendall(str(len(msg)).encode() + b" " + msg)
            sock.close()
        end = time.monotonic() + timeout
        while not (self.out.exists() and text in self.out.read_text(encoding="utf-8", errors="replace")):
            assert time.monotonic() < end, f"rsyslog did not write the test's own message in {timeout}s"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _chain(tmp_path, n: int):
    url = f"sqlite://{tmp_path / 'state.db'}"
    store = open_store(url)
    fence = store.acquire_lease("a", 600_000, int(time.time() * 1000))
    now = int(time.time() * 1000)
    store.audit_many([("operator_lock", now, {"by": "alice", "reason": f"drill {i}", "scope": "binance/main"})
                      for i in range(n)], fence=fence)
    return url, store, fence


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_rsyslog_receives_every_row_with_its_chain_hashes(tmp_path, tls):
    port = free_port()
    ca = Ca(tmp_path, "siem")
    server = ca.issue("rsyslog", "localhost", server=True, dns=("localhost",), ips=("127.0.0.1",))
    rs = Rsyslog(tmp_path, port, (ca.path, server.cert, server.key) if tls else None)
    url, store, fence = _chain(tmp_path, 300)
    target = f"syslog+tls://127.0.0.1:{port}?ca_file={ca.path}&name=siem" if tls else \
        f"syslog+tcp://127.0.0.1:{port}?name=siem"
    s = SinkShipper(parse_target(target), open_store(url), lambda: fence, print, print, FAST)
    s.start()
    try:
        got = rs.wait_for(300)
        deadline = time.monotonic() + 5
        while store.audit_sink_cursor("siem") != 300 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        s.stop()
        rs.stop()
        store.close()
    rows, repeats = deduped(got)
    assert repeats == 0 and [r["seq"] for r in rows] == list(range(1, 301))
    check_chain(rows)  # hashed again from what rsyslog wrote: the receiver can check continuity
    assert rows[0]["app"] == "killswitch" and rows[0]["pri"] == 37 and rows[0]["author"] == "alice"


def test_a_tls_receiver_whose_certificate_another_ca_signed_is_never_sent_to(tmp_path):
    port = free_port()
    ours, theirs = Ca(tmp_path, "ours"), Ca(tmp_path, "theirs")
    server = theirs.issue("rsyslog", "localhost", server=True, dns=("localhost",), ips=("127.0.0.1",))
    rs = Rsyslog(tmp_path, port, (theirs.path, server.cert, server.key))
    url, store, fence = _chain(tmp_path, 5)
    errs: list[str] = []
    s = SinkShipper(parse_target(f"syslog+tls://127.0.0.1:{port}?ca_file={ours.path}&name=siem"),
                    open_store(url), lambda: fence, errs.append, print, FAST)
    sinks = AuditSinks([s], required=True)
    try:
        with pytest.raises(Exception, match="TLS_FAILED"):
            s.step()
        s._down("TLS_FAILED", "")
        assert "TLS_FAILED" in (sinks.refusal() or "")
        rs.caught_up()  # a message on a connection of its own, after the refused one, written
        assert rs.messages() == [] and store.audit_sink_cursor("siem") is None
    finally:
        s.stop()
        rs.stop()
        store.close()


def _post(url: str, path: str, body: dict, token: str) -> tuple[int, dict]:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _get(url: str, path: str, token: str) -> dict:
    req = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _ksctl_status(api: str, token: str) -> str:
    r = subprocess.run([str(Path(sys.executable).with_name("ksctl")), "status", "--api", api], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "KS_API_TOKEN": token})
    assert r.returncode == 0, r.stderr
    return r.stdout


def _metric(url: str, name: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        return "\n".join(x for x in resp.read().decode().splitlines() if x.startswith(name))


def test_ksctl_run_streams_its_chain_and_refuses_operator_writes_while_no_sink_takes_them(tmp_path):
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "futures-book.yaml").write_text((POLICIES / "futures-book.yaml").read_text())
    syslog_port, api_port = free_port(), free_port()
    token, exchange_secret = "tok-" + "9" * 32, "exsecret-" + "7" * 24
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(KS_API_TOKEN=token, KS_T_KEY="k", KS_T_SECRET=exchange_secret, OTEL_TRACES_EXPORTER="none",
               KS_AUDIT_KEY="a" * 64)
    exe = Path(sys.executable).with_name("ksctl")
    proc = subprocess.Popen([str(exe), "run", "--policies", str(pol),
                             "--accounts", str(accounts_file(tmp_path, free_port())),
                             "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "l.json"),
                             "--api-port", str(api_port), "--lease-ttl", "2s",
                             "--audit-sink", f"syslog+tcp://127.0.0.1:{syslog_port}?name=siem&timeout=1",
                             "--audit-sink-required", *NO_READERS],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    rs = None
    try:
        wait_port(api_port, 60)
        api = f"http://127.0.0.1:{api_port}"
        unlock = {"scope": "global", "reason": "drill over"}
        code, body = _post(api, "/v1/unlock", unlock, token)
        assert code == 503 and body["error"] == "AUDIT_SINK_DOWN", body  # refused before the first try too
        deadline = time.monotonic() + 20
        while "siem: CONNECT_FAILED" not in body["reason"] and time.monotonic() < deadline:
            time.sleep(0.1)
            code, body = _post(api, "/v1/unlock", unlock, token)
        assert code == 503 and "siem: CONNECT_FAILED" in body["reason"], body
        # a global halt reduces risk: applied with no sink, its row kept in the local chain
        code, body = _post(api, "/v1/lock", {"scope": "global", "reason": "drill", "mode": "halted"}, token)
        assert code == 200 and body["done"], body
        with urllib.request.urlopen(api + "/v1/lock", timeout=10) as resp:
            assert json.loads(resp.read())["mode"] == "halted"
        local = open_store(f"sqlite://{tmp_path / 'state.db'}")
        try:
            [halt] = local.audit_rows(kinds=["manual_lock"])
        finally:
            local.close()
        assert halt.payload["scope"] == "global" and halt.payload["mode"] == "halted", halt
        # a lock that would loosen that halt waits for the sink, as the unlock does
        code, body = _post(api, "/v1/lock", {"scope": "global", "reason": "calmer", "mode": "reducing"}, token)
        assert code == 503 and body["error"] == "AUDIT_SINK_DOWN" and "halted lock of global" in body["reason"], body
        assert 'killswitch_audit_sink_up{sink="siem"} 0' in _metric(api, "killswitch_audit_sink_up")
        # the status says which sink, where (no query), since when it fails and that writes wait for it
        [sink] = _get(api, "/v1/status", token)["audit_sinks"]["sinks"]
        assert sink["url"] == f"syslog+tcp://127.0.0.1:{syslog_port}" and sink["state"] == "down", sink
        assert sink["cause"] == "CONNECT_FAILED" and sink["since_ms"] and sink["required"] is True, sink
        assert sink["lag_rows"] >= 1 and sink["acknowledged_seq"] is None, sink
        said = _ksctl_status(api, token)
        assert f"audit sink siem syslog+tcp://127.0.0.1:{syslog_port}: DOWN, CONNECT_FAILED since " in said, said
        rs = Rsyslog(tmp_path, syslog_port)
        deadline = time.monotonic() + 30
        while code == 503 and time.monotonic() < deadline:
            time.sleep(0.3)
            code, body = _post(api, "/v1/unlock", unlock, token)
        assert code == 200 and body["done"], body
        got = rs.wait_for(2)
        deadline = time.monotonic() + 30
        while not any(m["kind"] == "manual_unlock" for m in rs.messages()) and time.monotonic() < deadline:
            time.sleep(0.2)
        got = rs.messages()
        # the halt made while the sink was down, shipped once it answered, before the unlock
        shipped = [(m["kind"], m["author"]) for m in got if m["kind"] in ("manual_lock", "manual_unlock")]
        assert shipped[0] == ("manual_lock", "shared-token") and shipped[-1] == ("manual_unlock", "shared-token"), \
            [(m["kind"], m["author"]) for m in got]
        assert [m for m in got if m["kind"] == "manual_lock"][0]["seq"] == halt.seq
        rows, repeats = deduped(got)
        assert repeats == 0 and rows[0]["seq"] == 1
        check_chain(rows)
        assert 'killswitch_audit_sink_up{sink="siem"} 1' in _metric(api, "killswitch_audit_sink_up")
        [sink] = _get(api, "/v1/status", token)["audit_sinks"]["sinks"]
        assert sink["state"] == "up" and sink["cause"] is None and sink["since_ms"] is None, sink
        assert sink["acknowledged_seq"] >= rows[-1]["seq"] - sink["lag_rows"], sink
        assert f"audit sink siem syslog+tcp://127.0.0.1:{syslog_port}: takes rows; lag " in _ksctl_status(api, token)
        raw = rs.out.read_text(encoding="utf-8", errors="replace")
        assert token not in raw and exchange_secret not in raw and "a" * 64 not in raw
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if rs is not None:
            rs.stop()
    assert "audit sink siem: syslog (RFC 5424) over TCP to 127.0.0.1:" in out, out[-3000:]
    assert "AUDIT_SINK_DOWN: audit sink siem: CONNECT_FAILED" in out
    assert token not in out and exchange_secret not in out
