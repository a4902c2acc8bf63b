"""The pod's role label: the lease holder's pod says so to Kubernetes, so a Service can follow it.

What it owns: one label on this runner's own pod (``ksctl run --kube-leader-label KEY``, e.g.
``killswitch.io/role``), set to ``leader`` while this runner holds the lease and to ``standby``
otherwise, by a JSON merge patch (``application/merge-patch+json``) of the pod through the
in-cluster API: the API server from ``KUBERNETES_SERVICE_HOST`` / ``KUBERNETES_SERVICE_PORT``,
over HTTPS checked against the service account's ``ca.crt``, with its bearer ``token`` (read
again at every call: the kubelet rotates it); the pod from the downward API (``POD_NAME``; the
namespace from ``POD_NAMESPACE``, else the service account's ``namespace`` file). The chart's
``<release>-leader`` Service selects the pod labelled ``leader``: the operators reach the leader
through it (Patroni labels its pods the same way).

:meth:`PodRoleLabel.follow` runs as a task of its own beside the ticks: it looks at the lease
when the lease thread says it changed hands and at every renewal period, and patches the pod when
the label says otherwise. A patch that fails (no service account mounted, RBAC refusing it, the
API server unreachable) is a WARNING with a reason code (``LEADER_LABEL_FAILED: reason=FORBIDDEN
…``), said again when the reason changes and at least every :data:`REPEAT_S` while it lasts,
counted in ``killswitch_leader_label_failures_total{reason}``, and tried again at the next
renewal period.

Must not: hold up a tick, a renewal or the lease (the label follows the lease; it never decides
anything, and the kill switch acts the same whether or not the label could be written), log or
expose the token, or touch any pod but its own. During a handover both pods may carry ``leader``
for up to a renewal period (the old leader learns it lost the lease at its next look): a request
sent through the Service then may reach the old leader, which refuses it with ``NOT_LEADER``
and names the new one, as any standby does.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Optional
from urllib.parse import quote

if TYPE_CHECKING:
    import aiohttp

    from ..metrics import Registry

SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
LEADER = "leader"
STANDBY = "standby"
REPEAT_S = 300.0  # a failure that lasts is said again this often (each attempt is counted)
TIMEOUT_S = 5.0  # one patch, connection included

# A label key as Kubernetes takes it: an optional DNS-subdomain prefix and "/", then a name of at
# most 63 characters, alphanumeric at both ends.
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL_KEY = re.compile(rf"^(?:(?P<prefix>{_PREFIX})/)?{_NAME}$")


def label_key_problem(key: str) -> Optional[str]:
    """Why ``key`` is not a label key Kubernetes accepts, or None."""
    m = _LABEL_KEY.match(key)
    if m is None:
        return (f"{key!r} is not a Kubernetes label key (an optional DNS-subdomain prefix and '/', then a name "
                "of letters, digits, '-', '_', '.' that starts and ends with a letter or digit)")
    if m.group("prefix") and len(m.group("prefix")) > 253:
        return f"the prefix of {key!r} is longer than 253 characters"
    return None


class LabelUnavailable(Exception):
    """The pod cannot be labelled from here: ``code`` says why (a reason code), the message how to fix it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PodRef:
    """Where this pod is, and how to reach the API server that holds it."""

    api: str  # https://host:port
    namespace: str
    name: str
    serviceaccount_dir: Path

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{quote(self.namespace, safe='')}/pods/{quote(self.name, safe='')}"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def in_cluster(env: Mapping[str, str], serviceaccount_dir: str = SERVICEACCOUNT_DIR) -> PodRef:
    """This pod and its API server, from the environment and the mounted service account, as a pod
    of the chart has them; :class:`LabelUnavailable` says what is missing."""
    sa = Path(serviceaccount_dir)
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise LabelUnavailable("NOT_IN_CLUSTER", "KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT are not set "
                                                 "(not in a Kubernetes pod?)")
    name = env.get("POD_NAME", "")
    if not name:
        raise LabelUnavailable("NO_POD_NAME", "POD_NAME is not set (the downward API's metadata.name)")
    namespace = env.get("POD_NAMESPACE", "")
    if not namespace:
        try:
            namespace = (sa / "namespace").read_text().strip()
        except OSError:
            namespace = ""
    if not namespace:
        raise LabelUnavailable("NO_NAMESPACE", f"neither POD_NAMESPACE nor {sa / 'namespace'} names the namespace")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return PodRef(f"https://{host}:{port}", namespace, name, sa)


def _reason(status: int) -> str:
    return {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND"}.get(status, f"HTTP_{status}")


def _status_message(text: str) -> str:
    """The ``message`` of a Kubernetes Status answer (it says which permission is missing), short."""
    try:
        message = json.loads(text).get("message") or ""
    except (ValueError, AttributeError):
        message = ""
    message = " ".join(str(message).split())
    return message[:300]


class PodRoleLabel:
    """Keeps this pod's ``key`` label saying whether this runner holds the lease; see the module doc.

    ``env`` and ``serviceaccount_dir`` are where the pod is described (``os.environ`` and the
    in-cluster mount in production); ``warn`` and ``echo`` are the runner's WARNING and INFO lines."""

    def __init__(self, key: str, env: Mapping[str, str], *, warn: Callable[[str], None],
                 echo: Callable[[str], None], serviceaccount_dir: str = SERVICEACCOUNT_DIR,
                 timeout_s: float = TIMEOUT_S, repeat_s: float = REPEAT_S,
                 monotonic: Callable[[], float] = time.monotonic):
        problem = label_key_problem(key)
        if problem:
            raise ValueError(problem)
        self.key = key
        self.env = dict(env)
        self.serviceaccount_dir = serviceaccount_dir
        self.warn = warn
        self.echo = echo
        self.timeout_s = timeout_s
        self.repeat_s = repeat_s
        self._mono = monotonic
        self._session: Optional["aiohttp.ClientSession"] = None
        self._ssl: Optional[ssl.SSLContext] = None
        self.applied: Optional[str] = None  # the role the label was last set to by this process
        self.wanted: Optional[str] = None  # the role the lease called for at the last look
        # what an on-call engineer wants to see in /metrics
        self.patches = 0
        self.failures: dict[str, int] = {}  # by reason code
        self._failing: Optional[str] = None  # the reason of the failure said last (None: not failing)
        self._said_at = 0.0
        self._failed_since_ok = 0

    # --- the label --------------------------------------------------------------------------------

    async def apply(self, role: str) -> bool:
        """Set the label to ``role`` once; False (said and counted) when that failed."""
        self.wanted = role
        try:
            ref = in_cluster(self.env, self.serviceaccount_dir)
            await self._patch(ref, role)
        except LabelUnavailable as e:
            self._failed(e.code, role, str(e))
            return False
        self.applied = role
        self.patches += 1
        after = f" (after {self._failed_since_ok} failed attempt(s))" if self._failed_since_ok else ""
        self.echo(f"ksctl run: pod {ref} labelled {self.key}={role}{after}")
        self._failing, self._failed_since_ok = None, 0
        return True

    async def _patch(self, ref: PodRef, role: str) -> None:
        import aiohttp  # here: `ksctl` imports this module for its options, and must start fast

        sa = ref.serviceaccount_dir
        try:
            token = (sa / "token").read_text().strip()
        except OSError as e:
            raise LabelUnavailable("NO_TOKEN", f"the service account token {sa / 'token'} cannot be read "
                                               f"({type(e).__name__}; automountServiceAccountToken false?)") from None
        if not token:
            raise LabelUnavailable("NO_TOKEN", f"the service account token {sa / 'token'} is empty")
        try:
            if self._ssl is None:
                self._ssl = ssl.create_default_context(cafile=str(sa / "ca.crt"))
        except (OSError, ssl.SSLError) as e:
            raise LabelUnavailable("NO_CA", f"the cluster's CA {sa / 'ca.crt'} cannot be read "
                                            f"({type(e).__name__})") from None
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        body = json.dumps({"metadata": {"labels": {self.key: role}}})
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json",
                   "Accept": "application/json"}
        try:
            async with self._session.patch(ref.api + ref.path, data=body, headers=headers, ssl=self._ssl) as r:
                text = await r.text()
                status = r.status
        except (aiohttp.ClientSSLError, ssl.SSLError) as e:
            raise LabelUnavailable("TLS", f"the API server at {ref.api} failed the TLS check against "
                                          f"{sa / 'ca.crt'} ({type(e).__name__})") from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise LabelUnavailable("UNREACHABLE", f"the API server at {ref.api} did not answer "
                                                  f"({type(e).__name__})") from None
        if status != 200:
            said = _status_message(text)
            raise LabelUnavailable(_reason(status), f"the API server answered {status}" + (f": {said}" if said else ""))

    def _failed(self, code: str, role: str, why: str) -> None:
        self.failures[code] = self.failures.get(code, 0) + 1
        self._failed_since_ok += 1
        now = self._mono()
        if code != self._failing or now - self._said_at >= self.repeat_s:
            again = f" ({self._failed_since_ok} attempts so far)" if code == self._failing else ""
            self.warn(f"ksctl run: LEADER_LABEL_FAILED: reason={code}: pod {self._pod_text()} not labelled "
                      f"{self.key}={role}: {why}; the leader Service does not follow the lease until it is; "
                      f"retried at every lease renewal{again}; the kill switch acts regardless")
            self._failing, self._said_at = code, now

    def _pod_text(self) -> str:
        name = self.env.get("POD_NAME") or "?"
        namespace = self.env.get("POD_NAMESPACE")
        return f"{namespace}/{name}" if namespace else name

    # --- following the lease ----------------------------------------------------------------------

    async def follow(self, leads: Callable[[], bool], wake: asyncio.Event, every_s: float) -> None:
        """Until cancelled: at ``wake`` (the lease changed hands) and every ``every_s``, the label
        set to what ``leads()`` says, if it says otherwise. A failed patch is tried again at the
        next look."""
        while True:
            wake.clear()
            role = LEADER if leads() else STANDBY
            if role != self.applied:
                await self.apply(role)
            else:
                self.wanted = role
            try:
                # not asyncio.wait_for: on Python 3.11 it drops a cancel that meets a set wake,
                # and a stop (which gives the lease up, so sets the wake) would never end
                async with asyncio.timeout(every_s):
                    await wake.wait()
            except TimeoutError:
                pass

    async def step_down(self, timeout_s: float = 3.0) -> bool:
        """A clean stop (the lease given up): the label set to ``standby``, within ``timeout_s``
        (no call when it says so already)."""
        if self.applied == STANDBY:
            return True
        try:
            return await asyncio.wait_for(self.apply(STANDBY), timeout_s)
        except asyncio.TimeoutError:
            self._failed("UNREACHABLE", STANDBY, f"no answer within {timeout_s:g}s of the stop")
            return False

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- metrics ----------------------------------------------------------------------------------

    def collect_metrics(self, registry: "Registry") -> None:
        registry.sampled("killswitch_leader_label_patches_total", "counter",
                         "Patches of this pod's role label (leader / standby) that the API server took."
                         ).add(self.patches)
        failed = registry.sampled("killswitch_leader_label_failures_total", "counter",
                                  "Patches of this pod's role label that failed, by reason (FORBIDDEN, "
                                  "UNREACHABLE, NO_TOKEN, ...): the leader Service may not follow the lease.",
                                  ("reason",))
        for reason, n in sorted(self.failures.items()):
            failed.add(n, reason=reason)
        registry.sampled("killswitch_leader_label_in_sync", "gauge",
                         "1 when this pod's role label says what the lease says, 0 while a change waits."
                         ).add(1 if self.wanted is None or self.wanted == self.applied else 0)
