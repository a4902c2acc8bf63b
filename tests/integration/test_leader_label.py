"""The pod's role label follows the lease: a fake Kubernetes API server over TLS records the patches.

First :class:`~killswitch.process.pod_label.PodRoleLabel` against the fake (what it sends, what
it does with a refusal, a certificate it must not trust, a pod outside a cluster); then real
``ksctl run`` processes, each as a pod of its own (on PostgreSQL where a leader is paused, else
SQLite): the runner that takes the lease labels its pod ``leader`` and a standby ``standby``; a
standby that takes over labels itself ``leader`` and the old leader, woken, ``standby``; a clean
stop steps down; an API server that answers 403 is a WARNING and a metric, and the runner keeps
ticking and leading.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

import pytest

from killswitch.metrics import Registry
from killswitch.process.pod_label import LEADER, STANDBY, PodRoleLabel, label_key_problem
from killswitch.state import open_store
from tests.conftest import reset_pg
from tests.kube_fake import TOKEN, FakeKube, self_signed
from tests.procs import accounts_file, free_port

from .test_leadership import CALM_POLICY
from .test_processes import Sim, stop, wait_for

KEY = "killswitch.io/role"
EXE = Path(sys.executable)
KSCTL = EXE.with_name("ksctl")
LEASE_TTL_MS = 1_500  # renewals (and looks at the label) every 0.5 s; a takeover within 1.5 s
API_TOKEN = "t0ken-for-label-tests"


@pytest.fixture
def kube(tmp_path):
    fake = FakeKube(tmp_path / "kube")
    yield fake
    fake.close()


class Said:
    """The runner's WARNING and INFO lines, as the daemon hands them over."""

    def __init__(self):
        self.warnings: list[str] = []
        self.infos: list[str] = []


def labeller(kube: FakeKube, pod: str = "pod-a", env: Optional[dict] = None, said: Optional[Said] = None,
             **kw) -> PodRoleLabel:
    said = said or Said()
    return PodRoleLabel(KEY, kube.env(pod) if env is None else env, warn=said.warnings.append,
                        echo=said.infos.append, serviceaccount_dir=str(kube.sa_dir), **kw)


async def applied(label: PodRoleLabel, *roles: str) -> list[bool]:
    try:
        return [await label.apply(r) for r in roles]
    finally:
        await label.aclose()


def metrics(label: PodRoleLabel) -> str:
    reg = Registry()
    label.collect_metrics(reg)
    return reg.render()


# --- the patch ---------------------------------------------------------------------------------------


def test_a_patch_sets_the_pods_label_by_merge_patch_with_the_service_accounts_token(kube):
    said = Said()
    label = labeller(kube, said=said)
    assert asyncio.run(applied(label, LEADER, STANDBY)) == [True, True]
    [first, second] = kube.patches
    assert first.pod == "pod-a" and first.content_type == "application/merge-patch+json"
    assert first.authorization == f"Bearer {TOKEN}"
    assert first.body == {"metadata": {"labels": {KEY: "leader"}}}
    assert second.body == {"metadata": {"labels": {KEY: "standby"}}}
    # a merge patch: the pod's other labels stay
    assert kube.labels["pod-a"] == {"app.kubernetes.io/name": "killswitch", KEY: "standby"}
    assert said.infos == [f"ksctl run: pod trading/pod-a labelled {KEY}=leader",
                          f"ksctl run: pod trading/pod-a labelled {KEY}=standby"]
    assert not said.warnings
    assert "killswitch_leader_label_patches_total 2.0" in metrics(label)
    assert "killswitch_leader_label_in_sync 1.0" in metrics(label)


def test_the_namespace_comes_from_pod_namespace_before_the_service_accounts_file(kube):
    label = labeller(kube, env={**kube.env("pod-a"), "POD_NAMESPACE": "elsewhere"})
    assert asyncio.run(applied(label, LEADER)) == [False]
    assert kube.patches[0].status == 404, "patched in POD_NAMESPACE, which the fake does not hold"
    assert label.failures == {"NOT_FOUND": 1}


def test_a_refused_patch_is_a_warning_with_its_reason_counted_and_tried_again(kube):
    """403 from RBAC: one WARNING naming the reason and the API server's message (never the
    token), every attempt counted; the next attempt that succeeds says how many failed."""
    said = Said()
    label = labeller(kube, said=said)
    kube.refuse = 403

    async def go() -> list[bool]:
        try:
            out = [await label.apply(LEADER), await label.apply(LEADER)]
            text = metrics(label)
            kube.refuse = None
            return [*out, await label.apply(LEADER), text]  # type: ignore[list-item]
        finally:
            await label.aclose()

    first, second, third, text = asyncio.run(go())
    assert (first, second, third) == (False, False, True)
    [warning] = said.warnings  # the second failure, same reason, is counted, not said again
    assert warning.startswith("ksctl run: LEADER_LABEL_FAILED: reason=FORBIDDEN: pod pod-a not labelled "
                              f"{KEY}=leader: the API server answered 403: pods \"pod-a\" is forbidden")
    assert "cannot patch resource" in warning and "the kill switch acts regardless" in warning
    assert TOKEN not in warning
    assert 'killswitch_leader_label_failures_total{reason="FORBIDDEN"} 2.0' in text
    assert "killswitch_leader_label_in_sync 0.0" in text
    assert said.infos == [f"ksctl run: pod trading/pod-a labelled {KEY}=leader (after 2 failed attempt(s))"]
    assert "killswitch_leader_label_in_sync 1.0" in metrics(label)


def test_a_failure_that_lasts_is_said_again_after_the_repeat_interval(kube):
    now = [0.0]
    said = Said()
    label = labeller(kube, said=said, repeat_s=300, monotonic=lambda: now[0])
    kube.refuse = 403

    async def go() -> None:
        try:
            for t in (0, 100, 299, 300, 301):
                now[0] = t
                await label.apply(LEADER)
        finally:
            await label.aclose()

    asyncio.run(go())
    assert len(said.warnings) == 2 and "(4 attempts so far)" in said.warnings[1]
    assert label.failures == {"FORBIDDEN": 5}


def test_an_api_server_the_clusters_ca_does_not_sign_is_not_sent_the_token(kube, tmp_path):
    other, _ = self_signed(tmp_path / "other", "someone-else")
    (kube.sa_dir / "ca.crt").write_bytes(other.read_bytes())
    said = Said()
    label = labeller(kube, said=said)
    assert asyncio.run(applied(label, LEADER)) == [False]
    assert kube.patches == [], "nothing reaches a server the CA does not vouch for"
    assert label.failures == {"TLS": 1}
    assert "reason=TLS" in said.warnings[0]


def test_outside_a_pod_the_label_cannot_be_set_and_says_why(kube, tmp_path):
    cases = {
        "NOT_IN_CLUSTER": ({"POD_NAME": "pod-a"}, kube.sa_dir),
        "NO_POD_NAME": ({k: v for k, v in kube.env("pod-a").items() if k != "POD_NAME"}, kube.sa_dir),
        "NO_NAMESPACE": (kube.env("pod-a"), tmp_path / "empty"),
    }
    (tmp_path / "empty").mkdir()
    for code, (env, sa_dir) in cases.items():
        said = Said()
        label = PodRoleLabel(KEY, env, warn=said.warnings.append, echo=said.infos.append,
                             serviceaccount_dir=str(sa_dir))
        assert asyncio.run(applied(label, LEADER)) == [False], code
        assert label.failures == {code: 1}
        assert f"reason={code}" in said.warnings[0]
    (kube.sa_dir / "token").unlink()
    label = labeller(kube)
    assert asyncio.run(applied(label, LEADER)) == [False]
    assert label.failures == {"NO_TOKEN": 1}
    assert kube.patches == []


@pytest.mark.parametrize("key,ok", [
    ("killswitch.io/role", True), ("role", True), ("a.b-c/x_y.z", True),
    ("Killswitch.io/role", False), ("killswitch.io/", False), ("/role", False), ("role-", False),
    ("killswitch.io/" + "r" * 64, False), ("a/b/c", False),
])
def test_a_label_key_is_checked_as_kubernetes_checks_it(key, ok):
    assert (label_key_problem(key) is None) == ok


def test_a_stop_ends_the_label_loop_though_the_lease_changed_hands_at_that_moment(kube):
    """A clean stop gives the lease up (a wake) as it cancels the loop: the cancel is kept."""

    async def go() -> bool:
        label = labeller(kube)
        wake = asyncio.Event()
        looked = asyncio.Event()
        task = asyncio.create_task(label.follow(looked.set, wake, every_s=30))
        await asyncio.wait_for(looked.wait(), 60)
        while label.applied is None:  # its first look's patch: then it waits for the next wake
            await asyncio.sleep(0.01)
        for _ in range(5):
            await asyncio.sleep(0)
        wake.set()
        task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(task), 10)
        except asyncio.CancelledError:
            return True
        except asyncio.TimeoutError:
            task.cancel()
            return False
        finally:
            await label.aclose()
        return True

    assert asyncio.run(go()), "the label loop ran on past its cancel"


def test_following_the_lease_patches_only_when_the_role_changes(kube):
    """A look at every period and at every wake: the label is patched when the lease says
    otherwise, and only then."""
    leads, looks = [False], [0]

    def leading() -> bool:
        looks[0] += 1
        return leads[0]

    async def go() -> list[str]:
        label = labeller(kube)
        wake = asyncio.Event()
        task = asyncio.create_task(label.follow(leading, wake, every_s=30))

        async def looked_twice() -> None:
            """Wake it (again until it looks: a look clears the wake) for two looks: the first
            one's patch, had it made one, is done once the second is taken. No wake is left
            set: on Python 3.11 ``asyncio.wait_for`` drops a cancel that meets a set wake, and
            the loop would run on past the cancel below."""
            for _ in range(2):
                seen = looks[0]
                await _until(lambda: looks[0] > seen or wake.set())

        try:
            await _until(lambda: kube.roles_set("pod-a") == ["standby"])
            leads[0] = True
            wake.set()  # the lease thread took the lease
            await _until(lambda: kube.roles_set("pod-a") == ["standby", "leader"])
            await looked_twice()  # wakes with nothing changed
            leads[0] = False
            wake.set()
            await _until(lambda: kube.roles_set("pod-a") == ["standby", "leader", "standby"])
            await looked_twice()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await label.aclose()
        return kube.roles_set("pod-a")

    assert asyncio.run(go()) == ["standby", "leader", "standby"]
    assert len(kube.patches) == 3


async def _until(cond, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


# --- ksctl run, as pods ---------------------------------------------------------------------------------


def start_pod(tmp: Path, kube: FakeKube, pod: str, sim_port: int, state_url: str, api_port: int) -> subprocess.Popen:
    pol = tmp / "policies"
    if not pol.exists():
        pol.mkdir()
        (pol / "calm.yaml").write_text(CALM_POLICY)
    acc = accounts_file(tmp, sim_port, paced=True)
    env = {**os.environ, **kube.env(pod), "KS_T_KEY": "sim-main-key", "KS_T_SECRET": "sim-main-secret",
           "KS_API_TOKEN": API_TOKEN, "KS_KUBE_LEADER_LABEL": KEY}
    with open(tmp / f"{pod}.out", "a") as out, open(tmp / f"{pod}.err", "a") as err:
        return subprocess.Popen(
            [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc), "--state", state_url,
             "--lock-file", str(tmp / f"lock-{pod}.json"), "--api-port", str(api_port), "--holder", pod,
             "--lease-ttl", f"{LEASE_TTL_MS}ms", "--kube-serviceaccount-dir", str(kube.sa_dir)],
            stdout=out, stderr=err, env=env)


def lease_holder(url: str) -> Optional[str]:
    s = open_store(url, migrate=False)
    try:
        le = s.lease()
        return le.holder if le.valid_at(int(time.time() * 1000)) else None
    finally:
        s.close()


def logs(tmp: Path, pod: str) -> str:
    return (tmp / f"{pod}.out").read_text() + (tmp / f"{pod}.err").read_text()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def sample(text: str, name: str) -> Optional[float]:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    return None


def test_the_lease_holder_labels_its_pod_leader_and_hands_the_label_over_with_the_lease(tmp_path, kube,
                                                                                        own_pg_server):
    """pod-a leads (leader), pod-b stands by (standby); pod-a paused, pod-b takes the lease and
    labels itself leader; pod-a woken sees it lost the lease and labels itself standby; pod-b
    stopped cleanly steps down, and pod-a, leading again, labels itself leader.

    On PostgreSQL, the store of two replicas (``mode: ha``): a leader paused inside a write
    holds SQLite's one write lock until it wakes, and no standby can take over; PostgreSQL ends
    a session paused in its transaction (``idle_in_transaction_session_timeout``). This module's
    own server: a standby may end the paused leader's session."""
    sim = Sim(tmp_path, scenario="calm", scale=1.0)
    url = own_pg_server.url()
    reset_pg(url)
    open_store(url).close()
    a = b = None
    try:
        a = start_pod(tmp_path, kube, "pod-a", sim.port, url, free_port())
        wait_for(lambda: kube.role("pod-a") == "leader", 60, "pod-a to label itself leader")
        assert lease_holder(url) == "pod-a"
        b = start_pod(tmp_path, kube, "pod-b", sim.port, url, free_port())
        wait_for(lambda: kube.role("pod-b") == "standby", 60, "pod-b to label itself standby")
        assert kube.role("pod-a") == "leader"

        a.send_signal(signal.SIGSTOP)
        wait_for(lambda: kube.role("pod-b") == "leader", 60, "pod-b to take over and label itself leader")
        assert lease_holder(url) == "pod-b"
        # pod-a is paused: its label still says leader until it wakes (both may carry it for a
        # moment; pod-a then refuses changes with NOT_LEADER, naming pod-b)
        assert kube.role("pod-a") == "leader"
        a.send_signal(signal.SIGCONT)
        wait_for(lambda: kube.role("pod-a") == "standby", 60, "the woken pod-a to label itself standby")
        assert lease_holder(url) == "pod-b" and kube.role("pod-b") == "leader"

        b.send_signal(signal.SIGTERM)
        assert b.wait(30) == 0, logs(tmp_path, "pod-b")
        assert kube.role("pod-b") == "standby", "a clean stop steps down"
        wait_for(lambda: kube.role("pod-a") == "leader", 60, "pod-a to take the released lease and say so")
        a.send_signal(signal.SIGTERM)
        assert a.wait(30) == 0, logs(tmp_path, "pod-a")
        assert kube.role("pod-a") == "standby"
    finally:
        stop(a)
        stop(b)
        sim.close()
    assert kube.roles_set("pod-a") == ["leader", "standby", "leader", "standby"]
    assert kube.roles_set("pod-b") == ["standby", "leader", "standby"]
    assert {p.status for p in kube.patches} == {200}
    for pod in ("pod-a", "pod-b"):
        text = logs(tmp_path, pod)
        assert f"pod trading/{pod} labelled {KEY}=leader" in text
        assert TOKEN not in text and "LEADER_LABEL_FAILED" not in text


def test_a_refusing_api_server_is_loud_and_the_runner_keeps_ticking_and_leading(tmp_path, kube):
    """403 for every patch: a WARNING LEADER_LABEL_FAILED reason=FORBIDDEN, the failures counted
    on /metrics, and meanwhile the runner leads and ticks as before; once the API server takes the
    patch, the pod is labelled and the log says after how many failures."""
    kube.refuse = 403
    sim = Sim(tmp_path, scenario="calm", scale=1.0)
    url = f"sqlite://{tmp_path / 'state.db'}"
    open_store(url).close()
    port = free_port()
    a = None
    try:
        a = start_pod(tmp_path, kube, "pod-a", sim.port, url, port)
        wait_for(lambda: "LEADER_LABEL_FAILED" in logs(tmp_path, "pod-a"), 60, "the warning")
        wait_for(lambda: (sample(_scrape_or_empty(port), 'killswitch_leader_label_failures_total{reason="FORBIDDEN"}')
                          or 0) >= 3, 30, "three failed attempts counted")
        ticks = sample(scrape(port), "killswitch_ticks_total")
        assert ticks is not None

        def ticked() -> Optional[str]:
            text = scrape(port)
            return text if (sample(text, "killswitch_ticks_total") or 0) > ticks else None

        after = wait_for(ticked, 60, "the runner to tick on")  # (a bound only a hang reaches)
        assert sample(after, "killswitch_leader_label_in_sync") == 0
        assert lease_holder(url) == "pod-a"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert json.loads(r.read())["reason"] == "LEADER"
        assert kube.role("pod-a") is None

        kube.refuse = None
        wait_for(lambda: kube.role("pod-a") == "leader", 20, "the label once the API server takes it")
        wait_for(lambda: sample(_scrape_or_empty(port), "killswitch_leader_label_in_sync") == 1, 10, "in sync")
        a.send_signal(signal.SIGTERM)
        assert a.wait(30) == 0
    finally:
        stop(a)
        sim.close()
    err = (tmp_path / "pod-a.err").read_text()
    warnings = [line for line in err.splitlines() if "LEADER_LABEL_FAILED" in line]
    assert warnings and all(" WARNING " in w and "reason=FORBIDDEN" in w for w in warnings), warnings
    assert len(warnings) == 1, "a lasting failure is said once (and again every 5 minutes), counted always"
    assert "failed attempt(s))" in (tmp_path / "pod-a.out").read_text()
    assert TOKEN not in logs(tmp_path, "pod-a")


def _scrape_or_empty(port: int) -> str:
    try:
        return scrape(port)
    except OSError:
        return ""
