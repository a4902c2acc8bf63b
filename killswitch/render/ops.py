"""Render what a running runner answers a change or a refused call (``ksctl lock``, ``unlock``,
``reset``, ``heartbeat``, ``silence``...): the answer as the API wrote it, a refusal in the
runner's own words, what to do about a missing token, a runner that cannot be reached.

The values are the typed answers of :class:`killswitch.client.RunnerClient`; a refusal is its
:class:`~killswitch.client.RunnerError`, shown with the runner's own words. The other operator
commands have their own renderers: :mod:`.status`, :mod:`.locks`, :mod:`.dms`, :mod:`.closes`
and :mod:`.history`.

Formats values only: it must not call the runner, print, or pick exit codes.
"""

from __future__ import annotations

import dataclasses
import json

from ..client import RunnerError, RunnerUnreachable
from ..holds import lock_change_text
from ..view import ActionPreview, ChangeResult


def api_json(value: object) -> str:
    """A value as the API wrote it (a list of them too)."""
    # the API writes a value field by field in declaration order, as asdict does: the same document
    return json.dumps(value, default=dataclasses.asdict, indent=1)


def refusal_text(e: RunnerError) -> str:
    """A refused change as the runner put it: its ``reason`` (the whole body when it is not an
    object; nothing when it has none)."""
    said = e.body.get("reason") if isinstance(e.body, dict) else e.body
    return "" if said is None else str(said)


def failure_line(command: str, e: RunnerError) -> str:
    """``ksctl status: refused (HTTP 401): AUTH_REQUIRED: ...``: the command, the status and the
    runner's reason in its own words (``-o json`` shows the answer as it came)."""
    return f"ksctl {command}: refused (HTTP {e.status}): {e.reason}"


def auth_hint(command: str, token_env: str, token_set: bool, role: str = "viewer") -> str:
    """What to do when a call is refused for want of a valid token (a 401): a read needs the
    ``viewer`` role (or any), a change the ``operator`` role, a reset the ``approver`` role."""
    what = f"the token in {token_env} is not one this runner knows" if token_set else f"{token_env} is not set"
    if role == "viewer":
        return (f"ksctl {command}: {what}: this runner shows its status, runbooks and closes only to a token with "
                f"the viewer, operator or approver role (or to anyone with ksctl run --console-public); set "
                f"{token_env} to a token with the viewer role (ksctl token new --identity NAME --roles viewer)")
    return (f"ksctl {command}: {what}: set {token_env} to a token with the {role} role "
            f"(ksctl token new --identity NAME --roles {role})")


change_json = api_json  # a change's answer (a ``ChangeResult``, ``ResetResult``...) as the API wrote it


def heartbeat_done(source: str) -> ChangeResult:
    """What ``ksctl heartbeat`` did, said as every change says it (the API answers a beat with
    no body: 204)."""
    return ChangeResult(True, f"HEARTBEAT_RECORDED: source={source}")


def answer_json(e: RunnerError) -> str:
    """The answer of a refused read, as it came (``-o json``)."""
    return json.dumps(e.body, indent=1)


def unreachable_line(e: RunnerUnreachable, ca_file: "str | None" = None) -> str:
    """Why the runner could not be reached; for a certificate not trusted, what to pass (the CA
    that signed it: ``--ca-file``, or the one given is not it)."""
    if not e.untrusted:
        return f"ksctl: {e.reason}"
    hint = (f"the runner's certificate is not signed by the CA in --ca-file {ca_file}: pass the CA that signed it"
            if ca_file else "the runner's certificate is not trusted: pass --ca-file FILE (or KS_API_CA_FILE=FILE), "
                            "FILE the CA that signed it")
    return f"ksctl: {e.reason}\nksctl: {hint}"


def follow_failure_line(close_id: str, e: RunnerError) -> str:
    return f"ksctl close: cannot follow {close_id}: HTTP {e.status}: {e.reason}"


def reset_preview_text(policy: str, p: ActionPreview) -> str:
    """A reset's preview as the console shows it (``POST /v1/preview/reset``): the answer it would
    get, the lock binding the scope now and after (and again at the next tick while a trigger
    still fires), then the runner's own lines: the stage released, the instance ended, the
    silences that outlive the incident, the trigger that still fires."""
    lines = [f"PREVIEW reset {policy} {p.scope}: {p.reason.removeprefix('PREVIEW: ')}"]
    if p.mode == "dry-run":
        lines.append("  This runner is a DRY RUN.")
    lock = lock_change_text(p.scope, p.lock_before, p.lock_after, bool(p.relatch))
    if lock:
        lines.append(f"  {lock}")
    lines += [f"  {e}" for e in p.effects]
    return "\n".join(lines)
