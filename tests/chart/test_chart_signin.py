"""Single sign-on in the chart (signin.enabled): the configuration it renders is one the runner
reads, with the client secret and the cookie key as files mounted from the Secret named (never an
environment variable), where the argument says; what it cannot render is refused at render time."""

from __future__ import annotations

from pathlib import Path

import pytest

from killswitch.face.api.signin.config import load_oidc_config
from tests.chart.conftest import CHART, CI_VALUES, objects_of, one, runner_container

ON = ["--set", "signin.enabled=true", "--set", "signin.issuer=https://login.desk.example/realms/desk",
      "--set", "signin.clientId=killswitch", "--set", "signin.externalUrl=https://ks.desk.example",
      "--set", "signin.existingSecret=ks-signin", "--set", "apiTokens.existingSecret=ks-tokens"]


def test_the_rendered_configuration_is_read_by_the_runner_with_its_secrets_as_files(helm, tmp_path):
    docs = helm.template("-f", str(CI_VALUES["single"]), *ON, "--set", "signin.nameClaim=preferred_username",
                         "--set", "signin.sessionLifetime=4h", "--set", "signin.caKey=ca.crt")
    [config] = [c for c in objects_of(docs, "ConfigMap") if c["metadata"]["name"] == "ks-killswitch-signin"]
    container = runner_container(docs)
    arg = next(a for a in container["args"] if a.startswith("--oidc-config="))
    path = Path(arg.partition("=")[2])
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["signin"]["mountPath"] == str(path.parent) and mounts["signin"]["readOnly"]
    secret_dir = mounts["signin-secret"]["mountPath"]
    assert mounts["signin-secret"]["readOnly"]
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["signin"]["configMap"]["name"] == "ks-killswitch-signin"
    secret = volumes["signin-secret"]["secret"]
    # 0440 as written: octal to Kubernetes (YAML 1.1), 440 to a YAML 1.2 reader such as this test's
    assert secret["secretName"] == "ks-signin" and secret["defaultMode"] in (0o440, 440), secret
    assert not any("SIGNIN" in e.get("name", "").upper() or "OIDC" in e.get("name", "").upper()
                   for e in container.get("env", []))  # no secret of it in an environment variable
    # the files the Secret gives, at the mount: here under tmp_path
    (tmp_path / "client-secret").write_text("s3cret-of-the-client\n")
    (tmp_path / "cookie-key").write_text("k" * 48)
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    text = config["data"][path.name].replace(secret_dir, str(tmp_path))
    (tmp_path / path.name).write_text(text)
    read = load_oidc_config(tmp_path / path.name)
    assert (read.issuer, read.client_id, read.external_url) == ("https://login.desk.example/realms/desk",
                                                                "killswitch", "https://ks.desk.example")
    assert read.client_secret is not None and read.client_secret.reveal() == b"s3cret-of-the-client"
    assert read.name_claims == ("preferred_username",) and read.session_lifetime_s == 4 * 3600
    assert read.groups_claim == "groups" and read.ca_file == str(tmp_path / "ca.crt")
    assert read.scopes == ("openid", "email", "profile")  # as ksctl run asks by default


def test_without_it_nothing_is_rendered(helm):
    docs = helm.template("-f", str(CI_VALUES["single"]))
    assert not [c for c in objects_of(docs, "ConfigMap") if c["metadata"]["name"].endswith("-signin")]
    assert not any(a.startswith("--oidc-config") for a in runner_container(docs)["args"])


@pytest.mark.parametrize("drop,said", [
    ("signin.issuer", "needs signin.issuer, signin.clientId and signin.externalUrl"),
    ("signin.existingSecret", "needs signin.existingSecret"),
    ("apiTokens.existingSecret", "needs apiTokens.existingSecret"),
])
def test_a_setting_missing_is_refused_at_render_time(helm, drop, said):
    args = [a if not a.startswith(drop + "=") else drop + "=" for a in ON]
    r = helm.run("template", "ks", str(CHART), "-f", str(CI_VALUES["single"]), *args, check=False)
    assert r.returncode != 0 and said in r.stderr, r.stderr


def test_a_network_policy_lets_the_audit_sinks_through_on_their_ports(helm):
    docs = helm.template("-f", str(CI_VALUES["single"]), "--set", "networkPolicy.enabled=true",
                         "--set", "networkPolicy.ingress.namespaces={monitoring}",
                         "--set", "auditSinks.urls={syslog+tls://siem.desk.example:6514?name=siem,"
                                  "otlp+http://otel-collector:4318?name=otel}")
    egress = one(docs, "NetworkPolicy")["spec"]["egress"]
    ports = [{p["port"] for p in rule.get("ports", [])} for rule in egress]
    assert {6514, 4318} in ports, egress  # else a required sink would refuse every operator write
