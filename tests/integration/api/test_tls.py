"""TLS on the API's listener (``ksctl run --web-config-file``; killswitch/face/api/tls/),
against real clients over 127.0.0.1 with certificates the test makes: the typed client and
``ksctl`` over https, an aiohttp client with and without a client certificate (refused where
one is required; one from another CA refused; one that names no identity answered 401; one that
does, the caller of a change), TLS 1.2 refused when the minimum is TLS 1.3, a plain-HTTP request
to the TLS port told to use TLS, and a certificate rotated mid-session: an open keep-alive
connection goes on with its certificate, a new one gets the new certificate, and a rotation that
cannot be served keeps the one in force.

Nothing here is timed: every wait is a bound."""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import ssl
import time
from pathlib import Path
from typing import Optional

import aiohttp
import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.client import RunnerClient, RunnerUnreachable
from killswitch.face.api.api import make_app
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.face.api.thread import ApiThread
from killswitch.face.api.tls.context import LiveTls
from tests.tls_certs import Ca, self_signed, serial_of
from tests.unit.face.api.rig import TOKEN, FakeView

BOUND_S = 10.0


class Pki:
    def __init__(self, where: Path):
        self.where = where
        self.ca = Ca(where, "desk")
        self.server = self.ca.server()
        self.bot = self.ca.issue("bot", "pricing-bot")
        self.nobody = self.ca.issue("nobody", "nobody.desk.example")
        self.other = Ca(where, "other")
        self.stranger = self.other.issue("stranger", "pricing-bot")  # the right name, the wrong CA

    def web_config(self, auth: str = "NoClientCert", min_version: str = "TLS12") -> Path:
        ca = f"  client_ca_file: {self.ca.path.name}\n" if auth != "NoClientCert" else ""
        path = self.where / "web.yml"
        path.write_text(f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{ca}"
                        f"  client_auth_type: {auth}\n  min_version: {min_version}\n")
        return path

    def client(self, cert=None, *, maximum: Optional[ssl.TLSVersion] = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca.path))
        if cert is not None:
            ctx.load_cert_chain(str(cert.cert), str(cert.key))
        if maximum is not None:
            ctx.maximum_version = maximum
        return ctx


TOKENS = {"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator", "viewer"], "sha256": token_digest(TOKEN)},
    {"identity": "pricing-bot", "roles": ["bot", "operator"], "client_cert": {"subject_cn": "pricing-bot"}},
]}


@pytest.fixture
def pki(tmp_path) -> Pki:
    return Pki(tmp_path)


class Served:
    def __init__(self, pki: Pki, auth: str = "NoClientCert", min_version: str = "TLS12", *, check_every_s=0.0):
        self.view = FakeView()
        self.errors: list[str] = []
        self.tls = LiveTls(pki.web_config(auth, min_version), err=self.errors.append, check_every_s=check_every_s)
        self.tls.load()
        app = make_app(self.view, tokens=parse_tokens(TOKENS))
        self.api = ApiThread(app, "127.0.0.1", 0, tls=self.tls)
        self.url = asyncio.run(self.api.start())
        self.port = int(self.url.rsplit(":", 1)[1])

    def close(self) -> None:
        asyncio.run(self.api.stop())


@pytest.fixture
def serve(pki):
    made: list[Served] = []

    def start(*a, **kw) -> Served:
        made.append(Served(pki, *a, **kw))
        return made[-1]

    yield start
    for s in made:
        s.close()


def test_the_client_reaches_an_https_runner_by_its_ca_and_plain_http_is_told_to_use_tls(pki, serve):
    s = serve()
    assert s.url.startswith("https://127.0.0.1:")
    assert RunnerClient(s.url, tls=pki.client()).lock_document()["locked"] is False
    with pytest.raises(RunnerUnreachable, match="CERTIFICATE_VERIFY_FAILED"):  # not trusted: never a silent pass
        RunnerClient(s.url, tls=ssl.create_default_context()).lock_document()
    with socket.create_connection(("127.0.0.1", s.port), timeout=BOUND_S) as raw:
        raw.sendall(b"GET /v1/lock HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"TLS_REQUIRED: this runner serves https" in answer and b"locked" not in answer
    assert s.view.names() == ["lock_document"]  # the plain request reached nothing


def test_tls12_is_refused_when_the_minimum_is_tls13(pki, serve):
    s = serve(min_version="TLS13")
    with pytest.raises(RunnerUnreachable):
        RunnerClient(s.url, tls=pki.client(maximum=ssl.TLSVersion.TLSv1_2)).lock_document()
    with socket.create_connection(("127.0.0.1", s.port), timeout=BOUND_S) as raw:
        ctx = pki.client()
        ctx.set_alpn_protocols(["h2", "http/1.1"])  # as a browser offers them
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3" and tls.selected_alpn_protocol() == "http/1.1"
    assert s.view.names() == []


async def _lock(url: str, ctx: ssl.SSLContext, token: Optional[str] = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BOUND_S)) as session:
        async with session.post(url + "/v1/lock", json={"scope": "binanceusdm/main", "reason": "drill"},
                                headers=headers, ssl=ctx) as r:
            return r.status, await r.json()


def test_mutual_tls_a_verified_certificate_is_its_identity_and_others_are_refused(pki, serve):
    s = serve("RequireAndVerifyClientCert")
    status, body = asyncio.run(_lock(s.url, pki.client(pki.bot)))
    assert status == 200, body
    assert s.view.actors == ["pricing-bot"]  # the caller of the change, as its audit row names it
    for who in (None, pki.stranger):  # no certificate; the right name from another CA
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            asyncio.run(_lock(s.url, pki.client(who), token=TOKEN))
    # counted (on /metrics; said once a minute) as the server's side of each handshake ends
    assert _within(lambda: s.tls.handshakes_failed == 2), s.tls.handshakes_failed
    status, body = asyncio.run(_lock(s.url, pki.client(pki.nobody)))  # verified, and no identity's
    assert (status, body["error"]) == (401, "AUTH_INVALID")
    assert "client certificate names no identity" in body["reason"]
    status, _ = asyncio.run(_lock(s.url, pki.client(pki.nobody), token=TOKEN))  # a token decides when sent
    assert status == 200 and s.view.actors == ["pricing-bot", "alice"]


def test_a_certificate_is_optional_with_verify_if_given_and_a_token_still_works(pki, serve):
    s = serve("VerifyClientCertIfGiven")
    status, body = asyncio.run(_lock(s.url, pki.client()))
    assert (status, body["error"]) == (401, "AUTH_REQUIRED")
    assert asyncio.run(_lock(s.url, pki.client(), token=TOKEN))[0] == 200
    assert asyncio.run(_lock(s.url, pki.client(pki.bot)))[0] == 200
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        asyncio.run(_lock(s.url, pki.client(pki.stranger)))
    assert s.view.actors == ["alice", "pricing-bot"]


def _within(cond, bound_s: float = BOUND_S) -> bool:
    end = time.monotonic() + bound_s
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def _replace(src: Path, dst: Path) -> None:
    """As a Secret's files change: whole, never half written."""
    tmp = dst.with_suffix(".new")
    tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dst)


def _served_serial(conn: http.client.HTTPSConnection) -> int:
    assert conn.sock is not None
    return serial_of(conn.sock.getpeercert(binary_form=True))


def test_a_rotated_certificate_serves_new_connections_and_an_open_one_goes_on(pki, serve, tmp_path):
    s = serve()
    old = serial_of(pki.server.cert.read_bytes())
    kept = http.client.HTTPSConnection("127.0.0.1", s.port, context=pki.client(), timeout=BOUND_S)
    kept.request("GET", "/v1/lock")
    assert kept.getresponse().read() and _served_serial(kept) == old
    (tmp_path / "next").mkdir()
    rotated = pki.ca.server("server", to=tmp_path / "next")
    new = serial_of(rotated.cert.read_bytes())
    _replace(rotated.key, pki.server.key)
    _replace(rotated.cert, pki.server.cert)
    fresh = http.client.HTTPSConnection("127.0.0.1", s.port, context=pki.client(), timeout=BOUND_S)
    fresh.request("GET", "/v1/lock")
    assert fresh.getresponse().status == 200 and _served_serial(fresh) == new
    kept.request("GET", "/v1/lock")  # the keep-alive connection made before: not dropped
    assert kept.getresponse().status == 200 and _served_serial(kept) == old
    assert s.tls.reloads == 1 and s.errors == []
    # a key that is not the certificate's: refused, said, and the certificate in force stays
    (tmp_path / "bad").mkdir()
    _replace(pki.ca.server("server", to=tmp_path / "bad").key, pki.server.key)
    third = http.client.HTTPSConnection("127.0.0.1", s.port, context=pki.client(), timeout=BOUND_S)
    third.request("GET", "/v1/lock")
    assert third.getresponse().status == 200 and _served_serial(third) == new
    assert len(s.errors) == 1 and "TLS RELOAD FAILED" in s.errors[0]
    assert "not the key of the certificate" in s.errors[0]
    for c in (kept, fresh, third):
        c.close()


def test_ksctl_talks_to_an_https_runner_with_its_ca_and_a_client_certificate(pki, serve):
    s = serve("RequireAndVerifyClientCert")
    tls = ["--api", s.url, "--ca-file", str(pki.ca.path), "--cert-file", str(pki.bot.cert),
           "--key-file", str(pki.bot.key)]
    env = {"KS_API_TOKEN": ""}
    got = CliRunner().invoke(cli, ["lock", "--scope", "binanceusdm/main", "--reason", "drill", "--yes", *tls],
                             env=env)
    assert got.exit_code == 0, got.output
    assert s.view.actors == ["pricing-bot"]
    # the same by the environment, as the URL and the token are
    env |= {"KS_API_URL": s.url, "KS_API_CA_FILE": str(pki.ca.path), "KS_API_CERT_FILE": str(pki.bot.cert),
            "KS_API_KEY_FILE": str(pki.bot.key)}
    got = CliRunner().invoke(cli, ["unlock", "--scope", "binanceusdm/main", "--reason", "drill"], env=env)
    assert got.exit_code == 0, got.output
    assert s.view.actors == ["pricing-bot", "pricing-bot"]
    # without the client certificate: refused at the handshake, said as unreachable (exit 5)
    got = CliRunner().invoke(cli, ["lock", "--scope", "binanceusdm/main", "--reason", "drill", "--yes",
                                   "--api", s.url, "--ca-file", str(pki.ca.path)],
                             env={"KS_API_TOKEN": TOKEN, "KS_API_CERT_FILE": "", "KS_API_KEY_FILE": "",
                                  "KS_API_URL": ""})
    assert got.exit_code == 5, got.output
    # a key that is not the certificate's: a usage error naming the files, nothing sent
    got = CliRunner().invoke(cli, ["lock", "--scope", "binanceusdm/main", "--reason", "drill", "--yes",
                                   "--api", s.url, "--ca-file", str(pki.ca.path), "--cert-file", str(pki.bot.cert),
                                   "--key-file", str(pki.nobody.key)])
    assert got.exit_code == 2 and "the key is not the certificate's" in got.output
    assert len(s.view.actors) == 2


def test_ksctl_says_to_pass_the_ca_when_the_runner_s_certificate_is_not_trusted(pki, serve):
    lock = ["lock", "--scope", "binanceusdm/main", "--reason", "drill", "--yes"]
    env = {"KS_API_TOKEN": TOKEN, "KS_API_URL": "", "KS_API_CA_FILE": "", "KS_API_CERT_FILE": "", "KS_API_KEY_FILE": ""}
    self_signed(pki.where)  # the runner's server.crt signs itself
    s = serve()
    got = CliRunner().invoke(cli, [*lock, "--api", s.url], env=env)
    assert got.exit_code == 5, got.output
    assert "CERTIFICATE_VERIFY_FAILED" in got.output  # the reason as it came, then what to do
    assert ("the runner's certificate is not trusted: pass --ca-file FILE (or KS_API_CA_FILE=FILE), FILE the CA "
            "that signed it") in got.output
    # a CA given that did not sign it: that one is named
    got = CliRunner().invoke(cli, [*lock, "--api", s.url], env=env | {"KS_API_CA_FILE": str(pki.other.path)})
    assert got.exit_code == 5, got.output
    assert (f"the runner's certificate is not signed by the CA in --ca-file {pki.other.path}: pass the CA that "
            "signed it") in got.output
    assert s.view.names() == []  # nothing reached the runner


def test_an_unreachable_runner_that_is_no_certificate_matter_gets_no_ca_hint(pki, serve):
    s = serve()
    s.close()  # nobody listens there any more
    got = CliRunner().invoke(cli, ["lock", "--scope", "binanceusdm/main", "--reason", "drill", "--yes",
                                   "--api", s.url], env={"KS_API_TOKEN": TOKEN, "KS_API_CA_FILE": ""})
    assert got.exit_code == 5, got.output
    assert "cannot reach the runner" in got.output and "--ca-file" not in got.output
