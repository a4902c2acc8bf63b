"""Operator commands: ``ksctl status / reset / close / heartbeat / lock / unlock`` talk to a
running runner's API; ``ksctl history`` and ``ksctl audit verify`` read the state store and
verify the audit chain (options in :mod:`.auditopts`). Thin: they parse options, call, and print.
Exit codes: 0 done (the chain intact), 1 refused, not reachable or a finding in the chain (the
reason is printed), 2 usage, 3 a state store that cannot be read.

A reset, a lock or an unlock must go through the runner (it holds the live state and the lock):
writing it into the store behind the runner's back would be overwritten by its next tick.

``ksctl close --wait`` follows the close until its orders settle, with a progress line on stderr
when stderr is a terminal (nothing when it is not: logs and pipes stay clean).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

import click

from . import auditopts
from .common import EXIT_FINDINGS, EXIT_OK, output_option

POLL_S = 0.5  # how often ``close --wait`` asks the runner

api_option = click.option("--api", "api", default="http://127.0.0.1:8080", show_default=True,
                          envvar="KS_API_URL", help="The runner's API (env KS_API_URL).")
token_option = click.option("--token-env", default="KS_API_TOKEN", show_default=True,
                            help="Environment variable holding the API bearer token.")


def _call(api: str, method: str, path: str, body=None, token_env: str | None = None, timeout: float = 10.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api.rstrip("/") + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise click.UsageError(f"{token_env} is not set: mutating calls need the API token")
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"reason": raw.decode(errors="replace")[:200]}
    except (urllib.error.URLError, OSError) as e:
        click.echo(f"ksctl: cannot reach the runner at {api}: {getattr(e, 'reason', e)}", err=True)
        raise SystemExit(EXIT_FINDINGS)


def _change(api: str, path: str, body: dict, token_env: str) -> None:
    """POST a change to the runner, print its reason, exit 0 when it was done (200), else 1."""
    code, answer = _call(api, "POST", path, body, token_env)
    click.echo(answer.get("reason") if isinstance(answer, dict) else answer)
    raise SystemExit(EXIT_OK if code == 200 else EXIT_FINDINGS)


def duration_s(text: str, option: str) -> float:
    """``300s`` / ``6h`` → seconds; a bad value is a usage error (exit 2)."""
    from ..policy.units import UnitError, parse_duration

    try:
        d = parse_duration(text)
    except UnitError as e:
        raise click.BadParameter(e.message, param_hint=option) from None
    if d.ms <= 0:
        raise click.BadParameter("must be longer than 0s", param_hint=option)
    return d.ms / 1000


def _stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


class Progress:
    """One progress line on stderr, rewritten in place; silent unless stderr is a terminal."""

    def __init__(self, enabled: Optional[bool] = None):
        self.enabled = _stderr_tty() if enabled is None else enabled
        self.width = 0

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        click.echo("\r" + text + " " * max(0, self.width - len(text)), err=True, nl=False)
        self.width = len(text)

    def done(self) -> None:
        if self.enabled and self.width:
            click.echo("", err=True)
            self.width = 0


def _age(seconds) -> str:
    return "-" if seconds is None else f"{seconds:g}s"


@click.command()
@api_option
@output_option
def status(api: str, output: str) -> None:
    """The runner's mode, leadership, graph, stages per scope and data ages."""
    code, body = _call(api, "GET", "/v1/status")
    if output == "json":
        click.echo(json.dumps(body, indent=1))
        raise SystemExit(EXIT_OK if code == 200 else EXIT_FINDINGS)
    if code != 200:
        click.echo(f"ksctl status: {code} {body}", err=True)
        raise SystemExit(EXIT_FINDINGS)
    click.echo(f"mode {body['mode']}  {'leader' if body['leader'] else 'standby'} (fence {body['fence']})  "
               f"graph {body['graph_digest'][:19]}  revision {body['graph_revision'] or '-'}")
    if body.get("policy_error"):
        click.echo(f"POLICY RELOAD FAILED (last good graph running): {body['policy_error']}")
    for s in body["scopes"]:
        extra = ""
        if s["manual"] and s["stage"]:
            extra = f"  LATCHED: reset needs {s['approvals_needed']} approver(s), have {len(s['approvals'])}"
        click.echo(f"  {s['policy']:<20} {s['scope']:<40} stage {s['stage']} {s['stage_name'] or ''}{extra}")
    for acct, age in sorted(body.get("data_age_s", {}).items()):
        click.echo(f"  data age {acct}: {age:g}s")
    for r in body.get("resuming", []):
        limits = ", ".join(x for x in (
            f"max {r['max_positions']} position(s)" if r["max_positions"] is not None else "",
            f"gross exposure {r['max_gross_exposure']:g}" if r["max_gross_exposure"] is not None else "") if x)
        click.echo(f"  RESUMING {r['policy']} {r['scope']}: day {r['day']} of {r['days']}, "
                   f"{r['fraction'] * 100:g}% of normal ({limits})")
    for r in body.get("residuals", []):  # what closes left open and the runner stopped closing
        leg = f" {r['position_side']}" if r.get("position_side") else ""
        click.echo(f"  RESIDUAL {r['account']} {r['symbol']} {r['side']}{leg} {r['amount']:g}: {r['why']} "
                   f"({r['detail']}); incident {r['incident']}")
    _print_dms(body.get("dms") or {})


def _print_dms(doc: dict) -> None:
    for name, s in sorted((doc.get("sources") or {}).items()):
        if s["fired"]:
            state = "FIRED" + (f" (trading halted for {name})" if s.get("locked") else "")
        elif s["armed"]:
            state = f"armed, fires in {_age(s['fires_in_s'])}"
        else:
            state = "disarmed" + (f" (trading halted for {name})" if s.get("locked") else "")
        click.echo(f"  dms {name}: {state}; last beat {_age(s['last_beat_age_s'])} ago, timeout {_age(s['timeout_s'])}")
    for acct, n in sorted((doc.get("native") or {}).items()):
        extra = "  LAPSED" if n["lapsed"] else ""
        extra += f"  refresh failing: {n['error']}" if n.get("error") else ""
        click.echo(f"  venue cancel-all-after {acct}: {n['countdown_s']:g}s countdown, refreshed "
                   f"{_age(n['last_refresh_age_s'])} ago, cancels in {_age(n['cancels_in_s'])} without a "
                   f"refresh{extra}")


@click.command()
@api_option
@token_option
@click.option("--policy", required=True)
@click.option("--scope", required=True, help="The scope instance, e.g. binanceusdm/main.")
@click.option("--approver", default=None,
              help="Optional: your identity, checked against your token's (the approver is always the caller).")
@click.option("--reason", required=True)
def reset(api, token_env, policy, scope, approver, reason) -> None:
    """Approve the reset of a latched stage. The approver is the identity of your token: a stage
    that asks for two approvals needs two people, each with their own token."""
    body = {"policy": policy, "scope": scope, "reason": reason}
    if approver is not None:
        body["approver"] = approver
    _change(api, "/v1/reset", body, token_env)


@click.command()
@api_option
@token_option
@click.option("--scope", required=True)
@click.option("--reason", required=True)
@click.option("--dry-run", is_flag=True, help="Only say how many orders the close would send.")
@click.option("--wait", is_flag=True, help="Follow the close until its orders settle (exit 1 if some did not fill).")
@click.option("--wait-timeout", default="2m", show_default=True, help="Stop following after this long.")
def close(api, token_env, scope, reason, dry_run, wait, wait_timeout) -> None:
    """Emergency close of a scope through the runner's planner and journal.

    \b
    Exit codes: 0 queued (with --wait: every order filled), 1 refused, or with --wait an order
    that did not fill or a close still working at --wait-timeout.
    """
    timeout_s = duration_s(wait_timeout, "--wait-timeout")
    code, body = _call(api, "POST", "/v1/close", {"scope": scope, "reason": reason, "dry_run": dry_run}, token_env)
    click.echo(body.get("reason") if isinstance(body, dict) else body)
    if code != 202:
        raise SystemExit(EXIT_FINDINGS)
    if not wait or dry_run or not isinstance(body, dict) or not body.get("id"):
        raise SystemExit(EXIT_OK)
    raise SystemExit(_follow_close(api, body["id"], timeout_s))


def _progress_line(doc: dict) -> str:
    if doc["state"] == "queued":
        return f"close {doc['scope']}: queued for the next tick ({doc['orders']} order(s) planned now)"
    return (f"close {doc['scope']}: {doc['settled']}/{doc['orders']} order(s) settled, {doc['filled']} filled, "
            f"{doc['open']} open")


def _follow_close(api: str, close_id: str, timeout_s: float) -> int:
    path = "/v1/close/" + urllib.parse.quote(close_id, safe="")
    deadline = time.monotonic() + timeout_s
    progress = Progress()
    try:
        while True:
            code, doc = _call(api, "GET", path)
            if code != 200 or not isinstance(doc, dict):
                progress.done()
                click.echo(f"ksctl close: cannot follow {close_id}: {code} {doc}", err=True)
                return EXIT_FINDINGS
            progress.update(_progress_line(doc))
            if doc["state"] in ("settled", "dry_run", "unplanned"):
                break
            if time.monotonic() >= deadline:
                progress.done()
                click.echo(f"ksctl close: {close_id} still working after {timeout_s:g}s: {_progress_line(doc)}")
                return EXIT_FINDINGS
            time.sleep(POLL_S)
    finally:
        progress.done()
    if doc["state"] == "unplanned":
        click.echo(f"ksctl close: {doc['scope']} was not in the runner's snapshots at its tick; nothing was sent")
        return EXIT_FINDINGS
    if doc["state"] == "dry_run":
        click.echo(f"ksctl close: the runner is in dry run: {doc['orders']} order(s) planned and audited, none sent")
        return EXIT_OK
    statuses = ", ".join(f"{k} {v}" for k, v in doc["statuses"].items()) or "no orders"
    click.echo(f"close {doc['scope']} settled: {statuses}")
    return EXIT_OK if doc["unfilled"] == 0 else EXIT_FINDINGS


@click.command()
@api_option
@token_option
@click.option("--scope", required=True, help="What bots name in /v1/check-order: global, a venue, an account, a "
                                             "strategy or a symbol.")
@click.option("--reason", required=True)
@click.option("--ttl", default=None, help="Lift the lock by itself after this long (e.g. 6h); default: until unlocked.")
@click.option("--mode", type=click.Choice(["halted", "reducing"]), default="halted", show_default=True,
              help="halted: no order passes; reducing: only orders that reduce a position.")
def lock(api, token_env, scope, reason, ttl, mode) -> None:
    """Lock trading on a scope by hand; bots see it in the lock file and /v1/lock."""
    ttl_s = duration_s(ttl, "--ttl") if ttl is not None else None
    _change(api, "/v1/lock", {"scope": scope, "reason": reason, "mode": mode, "ttl_s": ttl_s}, token_env)


@click.command()
@api_option
@token_option
@click.option("--scope", required=True)
@click.option("--reason", required=True)
def unlock(api, token_env, scope, reason) -> None:
    """Lift the operator's (and a dead man's switch's) lock on a scope.

    A lock a policy's stage holds is not lifted: a manual-reset stage needs ksctl reset
    (MANUAL_RESET_REQUIRED, exit 1)."""
    _change(api, "/v1/unlock", {"scope": scope, "reason": reason}, token_env)


@click.command()
@api_option
@token_option
@click.argument("source")
def heartbeat(api, token_env, source) -> None:
    """Tell the runner SOURCE is alive (for bots without an HTTP client)."""
    code, body = _call(api, "POST", f"/v1/heartbeat/{source}", None, token_env)
    if code != 204:
        click.echo(f"ksctl heartbeat: {code} {body}", err=True)
        raise SystemExit(EXIT_FINDINGS)


@click.command(epilog="""\b
Exit codes: 0 the audit chain is intact, 1 it is not (the first finding is printed),
2 usage (an audit key that cannot be used), 3 the state store cannot be read.
""")
@click.option("--state", "state_url", required=True, envvar="KS_STATE_URL", help="sqlite://… or postgresql://…")
@click.option("--limit", default=50, show_default=True)
@auditopts.key_file_option
@output_option
def history(state_url, limit, audit_key_file, output) -> None:
    """The order journal from the state store, newest last, and what verifying the audit chain found."""
    key = auditopts.audit_key(audit_key_file)
    store = auditopts.open_for_audit(state_url, key, "history")
    try:
        rows = store.journal(limit=limit)
        v = auditopts.verify(store, (), "history")
    finally:
        store.close()
    if output == "json":
        click.echo(json.dumps({"format_version": 1, "audit_ok": v.ok, "audit_first_bad_row": v.first_bad_seq,
                               "audit": v.to_json(), "journal": [r.__dict__ for r in rows]}, indent=1, default=str))
    else:
        for r in rows:
            click.echo(f"{r.created_ms}  {r.client_order_id}  {r.venue}/{r.account} {r.symbol} {r.side} {r.amount:g}  "
                       f"{r.status or 'pending'}{'  ' + r.reason_code if r.reason_code else ''}")
        click.echo(v.describe(lead="audit chain: "))
    raise SystemExit(EXIT_OK if v.ok else EXIT_FINDINGS)


@click.group()
def audit() -> None:
    """The append-only audit trail."""


@audit.command("verify", epilog="""\b
Examples:
  ksctl audit verify --state sqlite:///var/lib/ks/state.db
  KS_AUDIT_KEY=... ksctl audit verify --state postgresql://ks@db/ks --anchor 1042:9f2c…e1
  kubectl logs deploy/ks | ksctl audit verify --state "$KS_STATE_URL" --anchors-from -
What is checked: every row of the table (links, hashes, numbering; rows past the head),
the head; with the audit key (KS_AUDIT_KEY or --audit-key-file) every row's and the head's
HMAC; and that each exported anchor is still in the chain unchanged. Without the key a
chain is said to be unanchored: anyone with database access could have rewritten it.
Exit codes: 0 intact, 1 findings (the first, with its row; then the others), 2 usage
(a bad anchor, an audit key that cannot be used), 3 the state store cannot be read.
""")
@click.option("--state", "state_url", required=True, envvar="KS_STATE_URL", help="sqlite://… or postgresql://…")
@auditopts.key_file_option
@auditopts.anchor_option
@auditopts.anchors_from_option
@output_option
def audit_verify(state_url: str, audit_key_file, anchor_texts, anchors_file, output: str) -> None:
    """Verify the audit chain: exit 0 intact, 1 with the first row that is not proven."""
    key = auditopts.audit_key(audit_key_file)
    anchor_list = auditopts.anchors(anchor_texts, anchors_file)
    store = auditopts.open_for_audit(state_url, key, "audit verify")
    try:
        v = auditopts.verify(store, anchor_list, "audit verify")
    finally:
        store.close()
    if output == "json":
        click.echo(json.dumps({"format_version": 1, **v.to_json()}, indent=1))
    else:
        click.echo(v.describe())
        if not v.ok:
            for f in sorted(v.findings, key=lambda f: (f.seq is None, f.seq or 0))[1:]:
                click.echo(f"  row {f.seq if f.seq is not None else '-'}: {f}")
            if v.more_findings:
                click.echo(f"  … and {v.more_findings} more")
            click.echo(f"  checked: {v.covered()}; {v.anchoring()}")
    raise SystemExit(EXIT_OK if v.ok else EXIT_FINDINGS)
