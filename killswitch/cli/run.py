"""``ksctl run``: the kill switch as a daemon (see :mod:`killswitch.process.daemon`)."""

from __future__ import annotations

import click

from ..process.pod_label import SERVICEACCOUNT_DIR
from .common import duration_ms, file_option, max_file_size_option, secret_file_option, state_option


@click.command(epilog="""\b
Examples:
  ksctl run --policies policies/ --accounts policies/accounts.yaml --state sqlite:///var/lib/ks/state.db
  ksctl run --policies /etc/ks/policies --accounts /etc/ks/accounts.yaml \\
      --state postgresql://ks@db/ks --api-host 0.0.0.0 --api-port 8080 --api-tokens /etc/ks/tokens.yaml
Dry run unless the accounts document says dry_run: false. SIGHUP reloads the policies.
A policy file over --max-file-size is refused unread (KS010): at start, as any policy error;
at a reload, as a failed reload that keeps the last good graph running.
The on-call console is at the API's URL, / (http://127.0.0.1:8080/ by default).
Secrets as files (mounted Secrets; docs/runner.md): --state-url-file, --api-token-file,
--audit-key-file, --api-tokens, and {file: PATH} in the Accounts and routes documents.
With --audit-key-file (or KS_AUDIT_KEY) the audit chain is anchored by HMAC; keep the
AUDIT_HEAD lines it logs: ksctl audit verify --anchors-from FILE checks the chain against them.
\b
Shards (spec.shards of the accounts document; ksctl shards prints them):
  ksctl run --shard desk-a --policies policies/ --accounts accounts.yaml --state postgresql://ks@db/ks
runs that shard's accounts and the policies within it, with its lease, journal and audit chain in
the schema ks_shard_desk_a. Refused at start (exit 2): SHARD_REQUIRED (shards declared, no
--shard), SHARD_UNKNOWN, SHARD_NEEDS_POSTGRESQL (a sqlite state), SHARD_MISMATCH (the shard runs
with another account set: both digests and the accounts that differ).
""")
@click.option("--policies", "policies", multiple=True, required=True, type=click.Path(exists=True))
@click.option("--accounts", required=True, type=click.Path(exists=True, dir_okay=False))
@state_option(creates=True, help="Where the runner keeps its state: sqlite:///path/to/state.db (created in a folder "
                                 "that exists) or postgresql://user@host/db (the password is never printed). From "
                                 "the environment, a URL with a password stays out of the process list.")
@click.option("--shard", "shard", default=None, envvar="KS_SHARD", show_envvar=True,
              help="Run one shard of the accounts document (spec.shards): its accounts and the policies within "
                   "it, its state in its own PostgreSQL schema. Required when the document declares shards.")
@click.option("--lock-file", default="killswitch-lock.json", show_default=True, type=click.Path(dir_okay=False))
@click.option("--api-host", default="127.0.0.1", show_default=True)
@click.option("--api-port", default=8080, show_default=True, type=int, envvar="KS_API_PORT", show_envvar=True,
              help="0: any free port; -1: no API.")
@click.option("--api-token-env", default="KS_API_TOKEN", show_default=True,
              help="Environment variable holding the API's shared bearer token (prefer --api-token-file). "
                   "With --api-tokens, taken only when this option is given: KS_API_TOKEN is the client verbs' "
                   "variable, so an on-call's own exported token is not made a shared one (said in a WARNING).")
@click.option("--api-token-file", default=None, envvar="KS_API_TOKEN_FILE", show_envvar=True,
              callback=secret_file_option, metavar="PATH",
              help="A file holding the API's shared bearer token (a mounted Secret), in place of "
                   "--api-token-env: the token stays out of the environment. Missing, unreadable or empty: "
                   "exit 2, nothing started.")
@file_option("--web-config-file", "KS_WEB_CONFIG_FILE",
             help="Serve the API and console over TLS: a web config file in exporter-toolkit's format (Prometheus's "
                  "--web.config.file: tls_server_config with cert_file, key_file, client_ca_file, client_auth_type, "
                  "min_version). Read again, with its certificates, when a file changes. One that cannot be served "
                  "stops the start (exit 2): never plain HTTP in its place.")
@file_option("--trusted-proxy", "KS_TRUSTED_PROXY_FILE", exists=True,
             help="An authenticating proxy in front (oauth2-proxy, an ingress with authentication) names the person "
                  "at the console by its user and groups headers (X-Forwarded-User, X-Forwarded-Groups): a "
                  "TrustedProxy document with the proxy's source addresses (CIDRs) and/or its client certificate, "
                  "the headers and the console's external URLs. The same headers from anywhere else are refused "
                  "(401 PROXY_HEADER_UNTRUSTED) and audited. Groups map to roles in the tokens document.")
@file_option("--api-tokens", "KS_API_TOKENS_FILE", exists=True,
             help="The tokens document: each operator's token hash, identity and roles (ksctl token new). "
                  "A shared token (--api-token-file, or --api-token-env given) is one more identity, "
                  "shared-token, with every role but approver.")
@file_option("--oidc-config", "KS_OIDC_CONFIG_FILE",
             help="Sign people in to the console through the firm's OpenID provider: a file with issuer, "
                  "client_id, client_secret ({file:} or {env:}), external_url, cookie_key_file, and optionally "
                  "scopes, name_claim, groups_claim, session_lifetime, ca_file (docs/console.md). Their groups map "
                  "to roles in the --api-tokens document's groups. A file that cannot be used, or a provider that "
                  "cannot be discovered, stops the start (exit 2).")
@click.option("--console-public/--no-console-public", default=False, envvar="KS_CONSOLE_PUBLIC", show_envvar=True,
              help="Show the console's views (GET /) and the reads that show the book (/v1/status, /v1/runbooks, "
                   "/v1/close/ID) without a token. Default: only to a token with the viewer, operator or approver "
                   "role; the actions always need the role of the action.")
@click.option("--holder", default=None, help="Lease holder name (default: host-pid).")
@click.option("--lease-ttl", default="5s", show_default=True,
              help="The takeover bound: a lease thread renews the lease every third of it, for two thirds, while "
                   "the runner's loop shows life; a standby takes a dead or hung leader's lease within it.")
@click.option("--runbooks", default=None, type=click.Path(file_okay=False),
              help="Runbook templates directory (default: runbooks/ next to the policies, up to the git root). "
                   "A missing one is said at start and the built-in runbook serves: it never stops the runner.")
@click.option("--external-url", default=None, envvar="KS_EXTERNAL_URL", show_envvar=True,
              help="How people reach this runner's API (e.g. https://killswitch.desk.example): "
                   "the base of the runbook links in notifications.")
@file_option("--audit-key-file", "KS_AUDIT_KEY_FILE",
             help="A file holding the audit chain's HMAC key (a mounted Secret); else the value of KS_AUDIT_KEY. "
                  "Without a key the chain is not anchored.")
@click.option("--audit-anchor-every", default="5m", show_default=True,
              help="How often the audit head is exported as an AUDIT_HEAD log line and on /metrics.")
@click.option("--audit-sink", "audit_sinks", multiple=True, envvar="KS_AUDIT_SINKS", show_envvar=True,
              metavar="URL",
              help="Stream the audit chain to a SIEM, repeatable: syslog+tcp://HOST:PORT, "
                   "syslog+tls://HOST:PORT?ca_file=PATH (RFC 5424, octet-counted), otlp+http://HOST:PORT or "
                   "otlp+https://... (OTLP logs); ?name=, timeout=, facility=, cert_file=, key_file=, server_name=. "
                   "Each row with its seq and chain hashes, from a cursor kept in the state store (docs/runner.md). "
                   "From the environment: URLs separated by spaces.")
@click.option("--audit-sink-required", is_flag=True, envvar="KS_AUDIT_SINK_REQUIRED", show_envvar=True,
              help="Refuse operator writes that add risk (unlock, reset, override, restore, kill release, silence, "
                   "dms arm/disarm, ...) with 503 AUDIT_SINK_DOWN while no --audit-sink takes rows. What reduces "
                   "risk (halt, lock, cancel, close, firm kill, revoke, ending an override or a silence) and an "
                   "ack are never refused: applied, kept in the local audit chain and shipped when a sink answers; "
                   "a lock that would loosen the operator's lock in force waits. The kill switch's own actions are "
                   "never refused.")
@click.option("--min-tick-spacing", default="100ms", show_default=True,
              help="The shortest time between the starts of two ticks when a private stream wakes the runner (an "
                   "update that may change a trigger); the policy interval stays the longest.")
@click.option("--log-format", default="text", show_default=True, envvar="KS_LOG_FORMAT", show_envvar=True,
              type=click.Choice(["text", "json"]),
              help="The log lines: text (UTC time, level, logger, message) or json (one object a line: ts, level, "
                   "logger, msg). INFO goes to stdout, errors to stderr; secrets are scrubbed from both.")
@click.option("--api-write-rate", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Operator changes (lock, unlock, reset, close, dms) each identity may send a second, in bursts "
                   "of twice as many; more are answered 429 RATE_LIMITED with Retry-After.")
@click.option("--api-heartbeat-rate", default=200.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Heartbeats each identity may send a second (bursts of twice as many); beats of one source "
                   "coalesce, so a bot token shared by many bots fits.")
@click.option("--api-write-queue", default=64, show_default=True, type=click.IntRange(min=1),
              help="Operator changes let through and not answered yet, every identity together; more are "
                   "answered 429 WRITE_QUEUE_FULL. The tick never waits for them.")
@click.option("--strict", is_flag=True, envvar="KS_STRICT", show_envvar=True,
              help="Refuse policies with a scope that selects none of this runner's accounts (--accounts), "
                   "at start and at a reload: the last good graph keeps running and the refusal is said "
                   "(POLICY_UNMATCHED). Without it such a policy runs, reported unmatched.")
@click.option("--kube-leader-label", default=None, envvar="KS_KUBE_LEADER_LABEL", show_envvar=True,
              metavar="KEY",
              help="In a Kubernetes pod: set this label of the runner's own pod (POD_NAME, POD_NAMESPACE from the "
                   "downward API) to leader while it holds the lease and to standby otherwise, so that a Service "
                   "selecting KEY=leader reaches the leader (the chart's <release>-leader). Needs the service "
                   "account's token and the right to patch pods; a patch that fails is a WARNING "
                   "(LEADER_LABEL_FAILED), counted on /metrics and retried, and never stops the kill switch.")
@click.option("--kube-serviceaccount-dir", default=SERVICEACCOUNT_DIR, show_default=True,
              type=click.Path(file_okay=False),
              help="Where the service account's token, ca.crt and namespace are mounted (--kube-leader-label).")
@click.option("--readers", default="auto", show_default=True, envvar="KS_READERS", show_envvar=True, metavar="N|auto",
              help="Reader processes that hold the venues' connections (REST, streams) and parse what they send, "
                   "so that the process that decides never waits on a venue's bytes: N, or auto (one per core "
                   "beyond the decider's, at least one). 0 reads in the deciding process itself. A reader that "
                   "ends or stalls is started again; its accounts are blind (READER_DOWN) meanwhile.")
@max_file_size_option
@click.option("--max-ticks", default=None, type=int, help="Stop after N ticks (tests, drills).")
def run(policies, accounts, state_url, shard, lock_file, api_host, api_port, api_token_env, api_token_file,
        web_config_file, trusted_proxy, api_tokens, oidc_config,
        console_public,
        holder, lease_ttl, runbooks, external_url, audit_key_file, audit_anchor_every, audit_sinks, audit_sink_required,
        min_tick_spacing, log_format,
        api_write_rate, api_heartbeat_rate, api_write_queue, strict, kube_leader_label, kube_serviceaccount_dir,
        readers, max_file_bytes, max_ticks) -> None:
    """Run the kill switch: tick, decide, act, lock, serve the API."""
    from ..face.api.admission import parse_limits
    from ..process.daemon import main
    from ..process.options import RunOptions
    from ..process.pod_label import label_key_problem

    ttl_ms = duration_ms(lease_ttl, "--lease-ttl")
    if ttl_ms < 300:
        raise click.BadParameter(f"LEASE_TTL_TOO_SHORT: {lease_ttl} is below 300ms; renewals every third of it "
                                 "would leave no room for a store round trip", param_hint="--lease-ttl")
    if kube_leader_label:
        problem = label_key_problem(kube_leader_label)
        if problem:
            raise click.BadParameter(problem, param_hint="--kube-leader-label")
    anchor_ms = duration_ms(audit_anchor_every, "--audit-anchor-every")
    if anchor_ms <= 0:
        raise click.BadParameter("must be longer than 0s", param_hint="--audit-anchor-every")
    spacing_ms = duration_ms(min_tick_spacing, "--min-tick-spacing")
    from ..audit.siem.targets import SinkUrlError, parse_targets

    try:
        parse_targets(audit_sinks)
    except SinkUrlError as e:
        raise click.BadParameter(str(e), param_hint="--audit-sink") from None
    if audit_sink_required and not audit_sinks:
        raise click.BadParameter("AUDIT_SINK_REQUIRED_WITHOUT_SINK: no --audit-sink is given, so every operator "
                                 "write would be refused", param_hint="--audit-sink-required")
    if readers == "auto":
        reader_count = -1  # the daemon counts them from the usable cores and the accounts
    elif readers.isdigit():
        reader_count = int(readers)
    else:
        import difflib

        near = "; did you mean auto?" if difflib.get_close_matches(readers, ["auto"], cutoff=0.7) else ""
        raise click.BadParameter(f"READERS_INVALID: {readers!r} is not a count of reader processes nor auto{near}",
                                 param_hint="--readers")
    from click.core import ParameterSource

    # beside a tokens document the variable is a shared token only when asked for (process/shared.py)
    token_env_given = click.get_current_context().get_parameter_source("api_token_env") not in (
        None, ParameterSource.DEFAULT)
    opts = RunOptions(tuple(policies), accounts, state_url, lock_file, api_host,
                      None if api_port < 0 else api_port, api_token_env, holder, ttl_ms, max_ticks=max_ticks,
                      api_token_file=api_token_file, api_token_env_given=token_env_given,
                      runbooks=runbooks, external_url=external_url, api_tokens=api_tokens,
                      web_config_file=web_config_file, trusted_proxy=trusted_proxy, oidc_config=oidc_config,
                      audit_key_file=audit_key_file, audit_anchor_every_ms=anchor_ms, console_public=console_public,
                      log_format=log_format, max_file_bytes=max_file_bytes, strict=strict,
                      kube_leader_label=kube_leader_label or None, kube_serviceaccount_dir=kube_serviceaccount_dir,
                      api_limits=parse_limits(api_write_rate, api_heartbeat_rate, api_write_queue),
                      min_tick_spacing_s=spacing_ms / 1000, shard=shard, audit_sinks=tuple(audit_sinks),
                      audit_sink_required=audit_sink_required, readers=reader_count)
    raise SystemExit(main(opts))
