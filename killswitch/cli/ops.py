"""Operator commands: ``ksctl status / reset / close / heartbeat`` talk to a running runner's API;
``ksctl history`` reads the state store. Thin: they parse options, call, and print.

A reset must go through the runner (it holds the live state and the lock): writing it into the
store behind the runner's back would be overwritten by its next tick.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import click

from .common import EXIT_FINDINGS, EXIT_OK, output_option

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


@click.command()
@api_option
@token_option
@click.option("--policy", required=True)
@click.option("--scope", required=True, help="The scope instance, e.g. binanceusdm/main.")
@click.option("--approver", required=True)
@click.option("--reason", required=True)
def reset(api, token_env, policy, scope, approver, reason) -> None:
    """Approve the reset of a latched stage (distinct approvers, as many as the stage asks)."""
    code, body = _call(api, "POST", "/v1/reset",
                       {"policy": policy, "scope": scope, "approver": approver, "reason": reason}, token_env)
    click.echo(body.get("reason") if isinstance(body, dict) else body)
    raise SystemExit(EXIT_OK if code == 200 else EXIT_FINDINGS)


@click.command()
@api_option
@token_option
@click.option("--scope", required=True)
@click.option("--reason", required=True)
@click.option("--dry-run", is_flag=True, help="Only say how many orders the close would send.")
def close(api, token_env, scope, reason, dry_run) -> None:
    """Emergency close of a scope through the runner's planner and journal."""
    code, body = _call(api, "POST", "/v1/close", {"scope": scope, "reason": reason, "dry_run": dry_run}, token_env)
    click.echo(body.get("reason") if isinstance(body, dict) else body)
    raise SystemExit(EXIT_OK if code == 202 else EXIT_FINDINGS)


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


@click.command()
@click.option("--state", "state_url", required=True, help="sqlite://… or postgresql://…")
@click.option("--limit", default=50, show_default=True)
@output_option
def history(state_url, limit, output) -> None:
    """The order journal from the state store, newest last, and whether the audit chain is intact."""
    from ..state import open_store

    store = open_store(state_url, migrate=False)
    try:
        rows = store.journal(limit=limit)
        ok, bad = store.verify_audit()
    finally:
        store.close()
    if output == "json":
        click.echo(json.dumps({"format_version": 1, "audit_ok": ok, "audit_first_bad_row": bad,
                               "journal": [r.__dict__ for r in rows]}, indent=1, default=str))
    else:
        for r in rows:
            click.echo(f"{r.created_ms}  {r.client_order_id}  {r.venue}/{r.account} {r.symbol} {r.side} {r.amount:g}  "
                       f"{r.status or 'pending'}{'  ' + r.reason_code if r.reason_code else ''}")
        click.echo(f"audit chain: {'intact' if ok else f'TAMPERED at row {bad}'}")
    raise SystemExit(EXIT_OK if ok else EXIT_FINDINGS)


@click.group()
def audit() -> None:
    """The append-only audit trail."""


@audit.command("verify")
@click.option("--state", "state_url", required=True, help="sqlite://… or postgresql://…")
def audit_verify(state_url: str) -> None:
    """Check the audit chain: exit 0 intact, 1 with the first tampered row."""
    from ..state import open_store

    store = open_store(state_url, migrate=False)
    try:
        ok, bad = store.verify_audit()
    finally:
        store.close()
    click.echo("audit chain intact" if ok else f"audit chain TAMPERED: first bad row {bad}")
    raise SystemExit(EXIT_OK if ok else EXIT_FINDINGS)
