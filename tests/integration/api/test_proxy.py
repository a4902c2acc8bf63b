"""The trusted-proxy mode (``ksctl run --trusted-proxy``) through a real reverse proxy: Debian's
nginx, started by the test on 127.0.0.1 with a config of its own in a temp dir, in front of a
``ksctl run`` process. nginx plays the authenticating proxy: a fixed map from a session cookie
to the person and their groups stands for its sign-in, and it sets ``X-Forwarded-User`` and
``X-Forwarded-Groups`` itself (``proxy_set_header``), as oauth2-proxy or an ingress with
authentication does.

Shown: the person named in the audit after a lock through nginx; the same headers forged
straight to the runner refused (401 ``PROXY_HEADER_UNTRUSTED``), counted on /metrics and
audited with the source address; a forged header sent through nginx overwritten by nginx (or
dropped when nginx names no one); a cross-origin write with the session refused (403
``CSRF_ORIGIN``); a bot's bearer token through nginx still its own; over mutual TLS, the proxy
trusted by its client certificate (``proxy_ssl_certificate``) and a client with another
certificate, or none, refused.

Every wait is a bound; nothing is timed."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import pytest

from killswitch.face.api.identity import token_digest
from killswitch.state import open_store
from tests.conftest import POLICIES, require_tool
from tests.procs import NO_READERS, accounts_file, free_port, wait_port
from tests.tls_certs import Ca

BOT_TOKEN = "tok-" + "b" * 32
BOUND_S = 60.0
PROXY_ADDRESS = "127.0.0.2"  # nginx connects to the runner from here (proxy_bind); the test from 127.0.0.1


class Nginx:
    """nginx in the foreground with its own prefix, pid, error log and temp paths (no root
    needed), listening on 127.0.0.1:``port`` and proxying to ``upstream``."""

    def __init__(self, where: Path, port: int, upstream: str, tls: str = "", bind: str = ""):
        exe = require_tool("nginx")
        self.where = where / "nginx"
        self.where.mkdir()
        self.log = self.where / "error.log"
        user = "user root;\n" if os.geteuid() == 0 else ""  # (as root, workers would drop to nobody)
        temps = "".join(f"  {k}_temp_path {self.where / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                          "scgi"))
        conf = self.where / "nginx.conf"
        conf.write_text(f"""{user}worker_processes 1;
pid {self.where / 'nginx.pid'};
error_log {self.log} info;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temps}  # the proxy's sign-in, played by a fixed map: the session cookie names the person and their groups
  map $cookie_session $ks_user {{ default ""; carol-session carol; dave-session dave; }}
  map $cookie_session $ks_groups {{ default ""; carol-session risk-oncall; dave-session "risk-managers, viewers"; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass {upstream};
      proxy_http_version 1.1;
{bind}{tls}      # set by the proxy whatever the client sent; an empty value is not sent at all
      proxy_set_header X-Forwarded-User $ks_user;
      proxy_set_header X-Forwarded-Groups $ks_groups;
    }}
  }}
}}
""")
        self.proc = subprocess.Popen([exe, "-p", str(self.where), "-c", str(conf), "-e", str(self.log),
                                      "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_port(port, 20)
        except AssertionError:
            self.stop()
            raise AssertionError(f"nginx did not listen: {self.log.read_text() if self.log.exists() else ''}")
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def call(url: str, path: str, method: str = "GET", body: Optional[dict] = None, headers: Optional[dict] = None,
         ctx: Optional[ssl.SSLContext] = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
    req = urllib.request.Request(url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw and resp.headers.get_content_type() == "application/json" \
                else {"text": raw.decode()}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class RunnerDidNotListen(AssertionError):
    def __init__(self, code: Optional[int], out: str):
        super().__init__(f"the runner did not listen (exit {code}): {out[-3000:]}")
        self.code, self.out = code, out


class Runner:
    """``ksctl run`` with a tokens document (a bot's token; groups mapped to roles) and the trusted
    proxy's document, on 127.0.0.1 (https with ``web_config``)."""

    def __init__(self, tmp_path: Path, proxy_doc: str, web_config: Optional[Path] = None):
        pol = tmp_path / "policies"
        pol.mkdir()
        (pol / "futures-book.yaml").write_text((POLICIES / "futures-book.yaml").read_text())
        tokens = tmp_path / "tokens.yaml"
        tokens.write_text(f"""apiVersion: killswitch/v1
kind: ApiTokens
tokens:
  - {{identity: pricing-bot, roles: [bot, viewer], sha256: {token_digest(BOT_TOKEN)}}}
groups:
  - {{group: risk-oncall, roles: [operator, viewer]}}
  - {{group: risk-managers, roles: [approver]}}
""")
        proxy = tmp_path / "proxy.yaml"
        proxy.write_text("apiVersion: killswitch/v1\nkind: TrustedProxy\n" + proxy_doc)
        self.port = free_port()
        self.state = f"sqlite://{tmp_path / 'state.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KS_"))}
        env.update(KS_T_KEY="k", KS_T_SECRET="s", OTEL_TRACES_EXPORTER="none")
        args = [str(Path(sys.executable).with_name("ksctl")), "run", "--policies", str(pol),
                "--accounts", str(accounts_file(tmp_path, free_port())), "--state", self.state,
                "--lock-file", str(tmp_path / "lock.json"), "--api-port", str(self.port), "--lease-ttl", "2s",
                "--api-tokens", str(tokens), "--trusted-proxy", str(proxy), *NO_READERS]
        if web_config is not None:
            args += ["--web-config-file", str(web_config)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.out = ""
        deadline = time.monotonic() + BOUND_S
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                wait_port(self.port, 0.5)
                return
            except AssertionError:
                continue
        self.stop()
        raise RunnerDidNotListen(self.proc.returncode, self.out)

    def wait_ready(self, url: str, ctx: Optional[ssl.SSLContext] = None) -> None:
        deadline = time.monotonic() + BOUND_S
        while call(url, "/readyz", ctx=ctx)[0] != 200:
            assert time.monotonic() < deadline, "the runner did not lead"
            time.sleep(0.2)

    def audit(self, kind: str, n: int = 1) -> list:
        """The audit rows of ``kind``, once there are ``n``."""
        deadline = time.monotonic() + BOUND_S
        while True:
            store = open_store(self.state)
            try:
                rows = store.audit_rows(kinds=[kind])
            finally:
                store.close()
            if len(rows) >= n or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.out, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.out, _ = self.proc.communicate()
        return self.out


LOCK = {"scope": "global", "reason": "drill through the proxy", "mode": "halted"}


def test_a_person_named_by_nginx_locks_and_forged_headers_are_refused_overwritten_and_audited(tmp_path):
    ngx_port = free_port()
    runner = Runner(tmp_path, f"sources: [{PROXY_ADDRESS}/32]\nexternal_urls: [http://127.0.0.1:{ngx_port}]\n")
    ngx = None
    try:
        ngx = Nginx(tmp_path, ngx_port, f"http://127.0.0.1:{runner.port}",
                    bind=f"      proxy_bind {PROXY_ADDRESS};\n")
        direct = f"http://127.0.0.1:{runner.port}"
        runner.wait_ready(direct)
        carol = {"Cookie": "session=carol-session", "Origin": ngx.url}

        # the person nginx names, with the roles of their groups, and the lock audited as theirs
        assert call(ngx.url, "/v1/whoami", headers=carol) == (200, {"identity": "carol",
                                                                     "roles": ["viewer", "operator"]})
        code, body = call(ngx.url, "/v1/lock", "POST", LOCK, carol)
        assert code == 200 and body["done"], body
        locks = runner.audit("manual_lock")
        assert [r.payload.get("by") for r in locks] == ["carol"], [r.payload for r in locks]

        # a forged header through nginx: overwritten by the proxy's own, or dropped when it names no one
        code, body = call(ngx.url, "/v1/whoami", headers={"Cookie": "session=dave-session",
                                                          "X-Forwarded-User": "carol",
                                                          "X-Forwarded-Groups": "risk-oncall"})
        assert (code, body) == (200, {"identity": "dave", "roles": ["approver"]})
        code, body = call(ngx.url, "/v1/lock", "POST", LOCK, {"X-Forwarded-User": "carol",
                                                              "X-Forwarded-Groups": "risk-oncall",
                                                              "Origin": ngx.url})
        assert code == 401 and body["error"] == "AUTH_REQUIRED", body

        # a cross-origin write with carol's session at the proxy: refused
        code, body = call(ngx.url, "/v1/lock", "POST", LOCK, {**carol, "Origin": "https://evil.example"})
        assert code == 403 and body["error"] == "CSRF_ORIGIN", body
        code, body = call(ngx.url, "/v1/unlock", "POST", {"scope": "global", "reason": "x"},
                          {"Cookie": "session=carol-session"})
        assert code == 403 and body["error"] == "CSRF_ORIGIN", body

        # a bot's token through nginx is the bot's
        assert call(ngx.url, "/v1/whoami", headers={"Authorization": f"Bearer {BOT_TOKEN}"}) == \
            (200, {"identity": "pricing-bot", "roles": ["viewer", "bot"]})

        # the same headers straight to the runner, from an address that is not the proxy's
        for path, method in (("/v1/lock", "POST"), ("/v1/status", "GET"), ("/healthz", "GET")):
            code, body = call(direct, path, method, LOCK if method == "POST" else None,
                              {"X-Forwarded-User": "carol", "X-Forwarded-Groups": "risk-oncall",
                               "Origin": direct})
            assert code == 401 and body["error"] == "PROXY_HEADER_UNTRUSTED", (path, body)
        refused = runner.audit("api_proxy_header_refused")
        assert len(refused) == 1, [r.payload for r in refused]  # one row for the address in the minute
        row = refused[0].payload
        assert row["source"] == "127.0.0.1" and row["claimed_user"] == "carol" and row["path"] == "/v1/lock"
        assert row["headers"] == ["X-Forwarded-User", "X-Forwarded-Groups"]
        assert len(runner.audit("manual_lock")) == 1  # the forged lock changed nothing
        code, metrics = call(direct, "/metrics")
        text = metrics["text"]
        assert 'killswitch_api_proxy_refused_total{reason="PROXY_HEADER_UNTRUSTED"} 3.0' in text
        assert 'killswitch_api_proxy_refused_total{reason="CSRF_ORIGIN"}' not in text
        assert "killswitch_api_proxy_refusals_folded_total 2.0" in text
    finally:
        if ngx is not None:
            ngx.stop()
        out = runner.stop()
    assert f"trusted proxy from {PROXY_ADDRESS}/32: X-Forwarded-User names the person" in out, out[-3000:]
    assert "PROXY_HEADER_UNTRUSTED: X-Forwarded-User/X-Forwarded-Groups from 127.0.0.1" in out
    assert BOT_TOKEN not in out


def test_over_mutual_tls_the_proxy_is_known_by_its_client_certificate(tmp_path):
    ca = Ca(tmp_path, "desk")
    server = ca.server()
    proxy_cert = ca.issue("nginx-proxy", "nginx-proxy.desk.example")
    bot_cert = ca.issue("bot", "pricing-bot")  # verified by the same CA, but not the proxy's
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n"
                   f"  client_ca_file: {ca.path}\n  client_auth_type: VerifyClientCertIfGiven\n")
    ngx_port = free_port()
    runner = Runner(tmp_path, f"client_cert: {{subject_cn: nginx-proxy.desk.example}}\n"
                              f"external_urls: [http://127.0.0.1:{ngx_port}]\n", web)
    ngx = None
    try:
        tls = (f"      proxy_ssl_certificate {proxy_cert.cert};\n      proxy_ssl_certificate_key {proxy_cert.key};\n"
               f"      proxy_ssl_trusted_certificate {ca.path};\n      proxy_ssl_verify on;\n"
               "      proxy_ssl_name localhost;\n")
        ngx = Nginx(tmp_path, ngx_port, f"https://127.0.0.1:{runner.port}", tls=tls)
        direct = f"https://127.0.0.1:{runner.port}"
        plain = ssl.create_default_context(cafile=str(ca.path))
        as_bot = ssl.create_default_context(cafile=str(ca.path))
        as_bot.load_cert_chain(str(bot_cert.cert), str(bot_cert.key))
        runner.wait_ready(direct, plain)
        carol = {"Cookie": "session=carol-session", "Origin": ngx.url}
        assert call(ngx.url, "/v1/whoami", headers=carol) == (200, {"identity": "carol",
                                                                     "roles": ["viewer", "operator"]})
        code, body = call(ngx.url, "/v1/lock", "POST", LOCK, carol)
        assert code == 200 and body["done"], body
        assert [r.payload.get("by") for r in runner.audit("manual_lock")] == ["carol"]
        forged = {"X-Forwarded-User": "carol", "X-Forwarded-Groups": "risk-oncall", "Origin": direct}
        for ctx in (plain, as_bot):  # no client certificate, or another one than the proxy's
            code, body = call(direct, "/v1/lock", "POST", LOCK, forged, ctx)
            assert code == 401 and body["error"] == "PROXY_HEADER_UNTRUSTED", body
        assert len(runner.audit("manual_lock")) == 1
        assert runner.audit("api_proxy_header_refused")[0].payload["source"] == "127.0.0.1"
    finally:
        if ngx is not None:
            ngx.stop()
        out = runner.stop()
    assert "with a client certificate whose subject_cn is nginx-proxy.desk.example" in out, out[-3000:]


def test_a_proxy_trusted_by_certificate_without_a_client_ca_stops_the_start(tmp_path):
    with pytest.raises(RunnerDidNotListen) as e:
        Runner(tmp_path, "client_cert: {subject_cn: nginx-proxy.desk.example}\n")
    assert e.value.code == 2
    assert "TRUSTED_PROXY_INVALID" in e.value.out and "client_cert needs --web-config-file with a client_ca_file" \
        in e.value.out
