"""TLS in the chart (tls.enabled): the web config file it renders is one the runner serves, with
the certificate Secret's files (cert-manager's tls.crt, tls.key, ca.crt) where the chart mounts
them; the probes and the ServiceMonitor speak https; the Secret is mounted without subPath (a
renewal reaches the runner) and rolls nothing."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from killswitch.face.api.tls.context import build_context
from killswitch.face.api.tls.webconfig import load_web_config
from tests.chart.conftest import CHART, CI_VALUES, objects_of, one, runner_container
from tests.tls_certs import Ca

TLS = ["--set", "tls.enabled=true", "--set", "tls.existingSecret=ks-tls"]


def _render(helm, *args: str) -> list[dict]:
    return helm.template("-f", str(CI_VALUES["single"]), *TLS, *args)


@pytest.mark.parametrize("auth", ["NoClientCert", "VerifyClientCertIfGiven"])
def test_the_rendered_web_config_is_served_by_the_runner_with_the_secret_s_files(helm, tmp_path, auth):
    docs = _render(helm, "--set", f"tls.clientAuthType={auth}", "--set", "tls.minVersion=TLS13")
    [config] = [c for c in objects_of(docs, "ConfigMap") if c["metadata"]["name"] == "ks-killswitch-web-config"]
    container = runner_container(docs)
    arg = next(a for a in container["args"] if a.startswith("--web-config-file="))
    path = arg.partition("=")[2]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["web-config"]["mountPath"] == str(Path(path).parent) and mounts["tls"]["readOnly"]
    assert "subPath" not in mounts["tls"] and "subPath" not in mounts["web-config"]  # a renewal reaches the pod
    secret_dir = Path(mounts["tls"]["mountPath"])
    # the Secret as cert-manager writes it, at the mount's place in a scratch root
    root = tmp_path / "pod"
    (root / secret_dir.relative_to("/")).mkdir(parents=True)
    ca = Ca(root / secret_dir.relative_to("/"), "cluster")
    ca.server("tls")
    (ca.path.parent / "ca.crt").write_bytes(ca.path.read_bytes())
    text = config["data"]["web.yml"].replace(str(secret_dir), str(root / secret_dir.relative_to("/")))
    (tmp_path / "web.yml").write_text(text)
    ctx = build_context(load_web_config(tmp_path / "web.yml"))
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    assert ctx.verify_mode == (ssl.CERT_OPTIONAL if auth == "VerifyClientCertIfGiven" else ssl.CERT_NONE)
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    keys = [i["key"] for i in volumes["tls"]["secret"]["items"]]
    assert keys == ["tls.crt", "tls.key", "ca.crt"]  # optional: an ACME Secret has no ca.crt
    assert volumes["tls"]["secret"]["secretName"] == "ks-tls" and volumes["tls"]["secret"]["optional"]
    assert ("client_ca_file" in config["data"]["web.yml"]) == (auth != "NoClientCert")


def test_probes_and_the_servicemonitor_speak_https(helm):
    docs = _render(helm, "--set", "serviceMonitor.enabled=true")
    container = runner_container(docs)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS", probe
    [endpoint] = one(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {"ca": {"secret": {"name": "ks-tls", "key": "ca.crt"}},
                                     "serverName": "ks-killswitch.trading.svc"}
    plain = runner_container(helm.template("-f", str(CI_VALUES["single"])))
    assert "scheme" not in plain["readinessProbe"]["httpGet"]
    assert not any(a.startswith("--web-config-file") for a in plain["args"])


@pytest.mark.parametrize("args,said", [
    (["--set", "tls.existingSecret="], "tls.enabled needs tls.existingSecret"),
    (["--set", "tls.clientAuthType=RequireAndVerifyClientCert"], "would refuse the kubelet's probes"),
    (["--set", "tls.minVersion=TLS11"], "at '/tls/minVersion': value must be one of 'TLS12', 'TLS13'"),
])
def test_a_tls_setting_the_chart_cannot_serve_is_refused(helm, args, said):
    r = helm.run("template", "ks", str(CHART), "-f", str(CI_VALUES["single"]), *TLS,
                 *args, check=False)
    assert r.returncode != 0 and said in r.stderr, r.stderr
