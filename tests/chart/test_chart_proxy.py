"""The trusted-proxy mode in the chart (trustedProxy.enabled): the document it renders is one the
runner reads, mounted where the argument says; what the runner would refuse is refused at
render time."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from killswitch.face.api.proxy import load_proxy_config
from tests.chart.conftest import CHART, CI_VALUES, objects_of, one, runner_container

ON = ["--set", "trustedProxy.enabled=true"]


def test_the_rendered_document_is_one_the_runner_reads_where_the_argument_says(helm, tmp_path):
    docs = helm.template("-f", str(CI_VALUES["single"]), *ON, "--set", "trustedProxy.sources={10.42.0.0/16}",
                         "--set", "trustedProxy.externalUrls={https://ks.desk.example}",
                         "--set", "trustedProxy.userHeader=X-Forwarded-Email",
                         "--set", "tls.enabled=true", "--set", "tls.existingSecret=ks-tls",
                         "--set", "tls.clientAuthType=VerifyClientCertIfGiven",
                         "--set", "trustedProxy.clientCert.subject_cn=oauth2-proxy.trading.svc")
    [config] = [c for c in objects_of(docs, "ConfigMap") if c["metadata"]["name"] == "ks-killswitch-trusted-proxy"]
    container = runner_container(docs)
    arg = next(a for a in container["args"] if a.startswith("--trusted-proxy="))
    path = Path(arg.partition("=")[2])
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["trusted-proxy"]["mountPath"] == str(path.parent) and mounts["trusted-proxy"]["readOnly"]
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["trusted-proxy"]["configMap"]["name"] == "ks-killswitch-trusted-proxy"
    (tmp_path / path.name).write_text(config["data"][path.name])
    read = load_proxy_config(tmp_path / path.name)
    assert read.sources == (ipaddress.ip_network("10.42.0.0/16"),)
    assert read.client_cert == ("subject_cn", "oauth2-proxy.trading.svc")
    assert read.headers == ("X-Forwarded-Email", "X-Forwarded-Groups")
    assert read.external_urls == ("https://ks.desk.example",)


def test_without_it_nothing_is_rendered(helm):
    docs = helm.template("-f", str(CI_VALUES["single"]))
    assert not [c for c in objects_of(docs, "ConfigMap") if "trusted-proxy" in c["metadata"]["name"]]
    assert not any(a.startswith("--trusted-proxy") for a in runner_container(docs)["args"])


@pytest.mark.parametrize("args,said", [
    ([], "needs trustedProxy.sources or trustedProxy.clientCert"),
    (["--set", "trustedProxy.clientCert.subject_cn=proxy"], "trustedProxy.clientCert needs tls.enabled"),
    (["--set", "trustedProxy.sources={10.0.0.0/8}", "--set", "trustedProxy.userHeader=X User"],
     "at '/trustedProxy/userHeader'"),
    (["--set", "trustedProxy.clientCert.subject_nc=proxy"], "subject_nc"),
])
def test_a_setting_the_runner_would_refuse_is_refused_at_render_time(helm, args, said):
    r = helm.run("template", "ks", str(CHART), "-f", str(CI_VALUES["single"]), *ON, *args, check=False)
    assert r.returncode != 0 and said in r.stderr, r.stderr
