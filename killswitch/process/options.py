"""The options of ``ksctl run`` (:class:`RunOptions`), as the command line gives them to the
daemon (:mod:`killswitch.process.daemon`) and its start (:mod:`killswitch.process.start`).

A value only: it must not read a file, the environment or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..face.api.admission import Limits
from ..runner.tick.wakes import DEFAULT_MIN_SPACING_S
from ..sources import MAX_FILE_BYTES
from .pod_label import SERVICEACCOUNT_DIR


@dataclass
class RunOptions:
    policies: tuple[str, ...]
    accounts: str
    state_url: str
    lock_file: str
    api_host: str = "127.0.0.1"
    api_port: Optional[int] = 8080  # None: no API
    api_token_env: str = "KS_API_TOKEN"
    holder: Optional[str] = None
    lease_ttl_ms: int = 5_000
    max_ticks: Optional[int] = None
    runbooks: Optional[str] = None  # the runbook templates directory (default: runbooks/ found near the policies)
    external_url: Optional[str] = None  # how people reach the API: the base of the runbook links in pages
    audit_key_file: Optional[str] = None  # the audit chain's HMAC key (else KS_AUDIT_KEY; neither: unanchored)
    audit_anchor_every_ms: int = 5 * 60_000  # how often the audit head is exported (log line and /metrics)
    audit_sinks: tuple[str, ...] = ()  # where the audit chain is streamed (audit/siem/targets.py's URLs)
    audit_sink_required: bool = False  # writes that add risk refused while no audit sink takes rows
    web_config_file: Optional[str] = None  # TLS on the API (face/api/tls/webconfig.py); None: plain HTTP
    trusted_proxy: Optional[str] = None  # the trusted proxy's document (face/api/proxy/config.py); None: no proxy
    api_token_file: Optional[str] = None  # the shared token from a file (a mounted Secret), not api_token_env
    api_tokens: Optional[str] = None  # the tokens document: identities and roles (see face/api/identity.py)
    oidc_config: Optional[str] = None  # single sign-on for the console (face/api/signin/); None: tokens only
    console_public: bool = False  # the console's views without a token (its actions always need one)
    log_format: str = "text"  # text or json lines (see killswitch/logs.py)
    max_file_bytes: int = MAX_FILE_BYTES  # a policy file over it is refused unread (KS010): at start, at a reload
    api_limits: Limits = field(default_factory=Limits)  # the writes' rates per identity and their queue
    strict: bool = False  # refuse a graph with a policy that selects none of the runner's accounts
    # the label key this runner sets on its own pod, leader or standby as the lease says
    # (process/pod_label.py); None: no label, the runner never talks to the Kubernetes API
    kube_leader_label: Optional[str] = None
    kube_serviceaccount_dir: str = SERVICEACCOUNT_DIR  # the token, ca.crt and namespace of the pod's account
    # the shortest time between two tick starts when a private stream wakes the runner (runner/tick/wakes.py)
    min_tick_spacing_s: float = DEFAULT_MIN_SPACING_S
    # reader processes that hold the venues' connections and parse their answers (adapters/remote/);
    # 0: read in the deciding process itself; -1: one per usable core beyond the decider's
    readers: int = 0
    # the shard this runner runs (its accounts, its local policies, its schema); None: every account
    shard: Optional[str] = None
    # --api-token-env given on the command line: beside a tokens document the variable is taken
    # only then (it is also the client verbs' variable: see process/shared.py)
    api_token_env_given: bool = False
