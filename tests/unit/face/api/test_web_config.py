"""The web config file of ``ksctl run --web-config-file`` (killswitch/face/api/tls/): an
exporter-toolkit file as Prometheus reads it is served; an unknown key is refused at its
``file:line:col`` with the key it resembles; exporter-toolkit's keys the runner does not serve
are refused saying so, never ignored; and the certificate and key are checked before a context
is built: a missing, unreadable, malformed or mismatched file is said by name and by what is
wrong, and nothing is served in its place."""

from __future__ import annotations

import os
import ssl

import pytest

from killswitch.face.api.tls.context import LiveTls, TlsMetrics, build_context
from killswitch.face.api.tls.webconfig import WebConfigError, load_web_config
from killswitch.metrics import Registry
from tests.tls_certs import Ca


@pytest.fixture
def pki(tmp_path):
    ca = Ca(tmp_path, "desk")
    ca.server()
    return ca


def write(tmp_path, text: str):
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


def refused(tmp_path, text: str) -> str:
    with pytest.raises(WebConfigError) as e:
        build_context(load_web_config(write(tmp_path, text)))
    return str(e.value)


def test_a_prometheus_web_config_is_served_as_it_says(tmp_path, pki):
    config = load_web_config(write(tmp_path, """\
# as Prometheus's --web.config.file reads it
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: desk-ca.crt
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: true
"""))
    assert config.cert_file == tmp_path / "server.crt" and config.client_ca_file == pki.path
    ctx = build_context(config)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1_3
    assert config.describe() == (f"TLS 1.3, certificate {tmp_path / 'server.crt'}; a client certificate required, "
                                 f"verified by {pki.path}")
    ifgiven = load_web_config(write(tmp_path, "tls_server_config: {cert_file: server.crt, key_file: server.key, "
                                              "client_ca_file: desk-ca.crt, "
                                              "client_auth_type: VerifyClientCertIfGiven}"))
    assert build_context(ifgiven).verify_mode == ssl.CERT_OPTIONAL
    assert build_context(ifgiven).minimum_version == ssl.TLSVersion.TLSv1_2  # exporter-toolkit's default


@pytest.mark.parametrize("text,said", [
    ("tls_server_config:\n  cert_file: server.crt\n  key_fil: server.key\n",
     "web.yml:3:3: tls_server_config.key_fil: unknown key (did you mean 'key_file'?)"),
    ("tls_srever_config: {}\n", "web.yml:1:1: tls_srever_config: unknown key (did you mean 'tls_server_config'?)"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key}\nbasic_auth_users: {alice: $2y$10$x}\n",
     "web.yml:2:1: basic_auth_users: not served by the runner: the runner's callers authenticate by bearer token"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key}\nhttp_server_config: {http2: false}\n",
     "http_server_config: not served by the runner: the runner serves HTTP/1.1"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key, client_allowed_sans: [a]}\n",
     "tls_server_config.client_allowed_sans: not served by the runner: map a client certificate to an identity"),
    ("tls_server_config: {cert: PEM, key_file: server.key}\n", "tls_server_config.cert: not served by the runner"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAnyClientCert}\n",
     "RequireAnyClientCert is not served: a certificate taken without verifying it would identify no one"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAndVerify}\n",
     "'RequireAndVerify' is not a client auth type (did you mean 'RequireAndVerifyClientCert'?)"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAndVerifyClientCert}\n",
     "RequireAndVerifyClientCert needs client_ca_file"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key, client_ca_file: desk-ca.crt}\n",
     "a client CA without a client_auth_type that verifies"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS11}\n",
     "tls_server_config.min_version: TLS11 is not served: the runner speaks TLS 1.2 and 1.3"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS13, max_version: TLS12}\n",
     "max_version: TLS12 is below min_version TLS13"),
    ("tls_server_config: {cert_file: server.crt, key_file: server.key, cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}\n",
     "cipher_suites[0]: 'TLS_RSA_WITH_RC4_128_SHA' is not a suite the runner serves"),
    ("tls_server_config: {cert_file: server.crt}\n", "tls_server_config.key_file: missing"),
    ("tls_server_config: {}\n", "no tls_server_config: the runner would serve plain HTTP"),
    ("", "no tls_server_config: the runner would serve plain HTTP"),
    ("tls_server_config: {cert_file: server.crt, cert_file: x}\n", "web.yml:1:"),  # a duplicate key
])
def test_what_cannot_be_served_is_refused_where_it_is_written(tmp_path, pki, text, said):
    assert said in refused(tmp_path, text)


def test_request_client_cert_is_served_without_asking_one(tmp_path, pki):
    config = load_web_config(write(tmp_path, "tls_server_config: {cert_file: server.crt, key_file: server.key, "
                                             "client_auth_type: RequestClientCert}\n"))
    assert config.client_auth_type == "NoClientCert"  # never verified, so it could identify no one
    assert build_context(config).verify_mode == ssl.CERT_NONE


def test_a_certificate_or_key_that_cannot_be_served_is_said_by_file_and_why(tmp_path, pki):
    base = "tls_server_config: {cert_file: %s, key_file: %s}\n"
    assert "cert_file " + str(tmp_path / "gone.crt") + ": no such file" in refused(tmp_path, base % ("gone.crt",
                                                                                                       "server.key"))
    (tmp_path / "notpem.crt").write_text("hello")
    assert "notpem.crt: not a PEM certificate" in refused(tmp_path, base % ("notpem.crt", "server.key"))
    assert "server.crt: not a PEM private key" in refused(tmp_path, base % ("server.crt", "server.crt"))
    other = pki.issue("other", "other", server=True)
    said = refused(tmp_path, base % ("server.crt", "other.key"))
    assert f"key_file {other.key}: not the key of the certificate in cert_file {tmp_path / 'server.crt'}" == said
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(other.key.read_bytes(), None)
    (tmp_path / "locked.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")))
    assert "locked.key: the key is encrypted" in refused(tmp_path, base % ("other.crt", "locked.key"))
    (tmp_path / "ca.txt").write_text("no certificate")
    assert "client_ca_file " in refused(tmp_path, "tls_server_config: {cert_file: server.crt, key_file: server.key, "
                                                  "client_ca_file: ca.txt, client_auth_type: VerifyClientCertIfGiven}")
    if os.geteuid() != 0:  # root reads any file
        (tmp_path / "server.key").chmod(0)
        assert "cannot read it (Permission denied)" in refused(tmp_path, base % ("server.crt", "server.key"))


def test_a_web_config_that_becomes_invalid_keeps_the_context_in_force(tmp_path, pki):
    path = write(tmp_path, "tls_server_config: {cert_file: server.crt, key_file: server.key}\n")
    said: list[str] = []
    live = LiveTls(path, err=said.append, echo=said.append, check_every_s=0)
    live.load()
    first = live.context()
    assert live.context() is first  # nothing changed: not rebuilt
    path.write_text("tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS9}\n")
    assert live.context() is first and live.failed == 1
    assert "TLS RELOAD FAILED (a file changed)" in said[-1] and "'TLS9' is not a TLS version" in said[-1]
    assert live.context() is first and live.failed == 1  # said once per change, not per connection
    path.write_text("tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS13}\n")
    assert live.context() is not first and live.reloads == 1
    assert live.context().minimum_version == ssl.TLSVersion.TLSv1_3
    assert said[-1].startswith("ksctl run: TLS reloaded (a file changed): TLS 1.3, certificate")
    live.handshakes_failed = 3  # as the API's listener counts them
    reg = Registry()
    TlsMetrics(live).collect_metrics(reg)
    text = reg.render()
    assert 'killswitch_api_tls_reloads_total{result="served"} 1.0' in text
    assert 'killswitch_api_tls_reloads_total{result="failed"} 1.0' in text
    assert "killswitch_api_tls_handshakes_failed_total 3.0" in text and "killswitch_api_tls_in_force 1.0" in text
    plain = Registry()
    TlsMetrics(None).collect_metrics(plain)  # a runner without TLS: the families, no samples
    assert "# TYPE killswitch_api_tls_in_force gauge" in plain.render()
    assert not [line for line in plain.render().splitlines() if line.startswith("killswitch_api_tls")]


def test_a_secret_updated_in_place_is_read_again(tmp_path):
    """As the kubelet updates a mounted Secret: the files are links through ``..data``, which is
    swapped whole to a new directory; the runner's files are the links."""
    mount = tmp_path / "secret"
    mount.mkdir()
    ca = Ca(tmp_path, "desk")
    first = ca.server("first", to=tmp_path)
    second = ca.server("second", to=tmp_path)

    def publish(issued, name: str) -> None:
        version = mount / name
        version.mkdir()
        (version / "tls.crt").write_bytes(issued.cert.read_bytes())
        (version / "tls.key").write_bytes(issued.key.read_bytes())
        (mount / "..data.tmp").symlink_to(name)
        os.replace(mount / "..data.tmp", mount / "..data")

    publish(first, "..2026_11_28_a")
    for f in ("tls.crt", "tls.key"):
        (mount / f).symlink_to(f"..data/{f}")
    path = write(tmp_path, "tls_server_config: {cert_file: secret/tls.crt, key_file: secret/tls.key}\n")
    said: list[str] = []
    live = LiveTls(path, err=said.append, echo=said.append, check_every_s=0)
    live.load()
    before = live.context()
    publish(second, "..2026_11_28_b")
    assert live.context() is not before and live.reloads == 1, said
    assert said[-1].startswith("ksctl run: TLS reloaded (a file changed)")
