"""``ksctl report --since DATE``: the closure report for compliance, from the audit trail.

The audit chain is verified first (with the audit key and the exported anchors when given, see
:mod:`.auditopts`), and the report says what that covered; it is written either way.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Optional

import click

from . import auditopts
from .common import file_format, file_output, open_reading, reading_state, state_option, store_read, write_out


def parse_when(text: str, option: str, now_ms: Optional[int] = None) -> int:
    """UTC epoch ms of ``2026-03-02``, ``2026-03-02T13:00[:00][Z|+hh:mm]`` (UTC when no zone is
    given), or a duration before now such as ``7d`` or ``12h``."""
    from ..policy.units import UnitError, parse_duration

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    t = text.strip()
    try:
        when = _dt.datetime.fromisoformat(t[:-1] + "+00:00" if t.endswith(("Z", "z")) else t)
    except ValueError:
        try:
            return now_ms - parse_duration(t).ms
        except UnitError:
            raise click.BadParameter(f"{text!r} is neither a UTC date or time (2026-03-02, 2026-03-02T13:00Z) "
                                     "nor a duration before now (7d, 12h)", param_hint=option) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return int(when.timestamp() * 1000)


@click.command(epilog="""\b
Examples:
  ksctl report --since 2026-03-01 --until 2026-04-01 --state sqlite:///var/lib/ks/state.db
  ksctl report --since 7d -o html --out closure.html
  ksctl report --since 2026-03-02T13:00Z -o json | jq .summary
  KS_AUDIT_KEY=... ksctl report --since 30d --anchors-from audit-heads.log
The first line says what verifying the audit chain found: "intact and anchored" (with the
audit key: every HMAC checked), "consistent, UNANCHORED: truncation and wipes cannot be
detected" (a chain written without a key, checked against exported anchors: only its
structure is proven), "consistent, UNVERIFIED" (neither key nor anchors given: a wiped or
wholly rewritten chain reads the same), "NOT VERIFIABLE without the key" (an anchored chain,
no key given) or "TAMPERED" (the first row that does not check; what is read from rows from
there on is marked unverified).
Exit codes: 0 written over a chain intact and anchored, or consistent and never anchored
below the anchors given, 1 the audit chain does not verify or is not verifiable without its
key, 4 consistent but UNVERIFIED (the report is still written, and says so first), 2 usage,
3 the state store cannot be read.
""")
@click.option("--since", required=True, help="Start (UTC date or time, or a duration before now: 7d).")
@click.option("--until", default=None, help="End, exclusive (default: now).")
@state_option()
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@auditopts.key_file_option
@auditopts.anchor_option
@auditopts.anchors_from_option
@file_output("md", "html")
def report(since: str, until: Optional[str], state_url: str, fmt: Optional[str], out: Optional[str], audit_key_file,
           anchor_texts, anchors_file, output: str) -> None:
    """Write a closure report for compliance from the audit trail."""
    from ..render.report import report_html, report_json, report_markdown
    from ..runbooks.report import closure_report

    output = file_format(output, fmt, ("md", "html"), "report")
    reading_state(state_url)
    now_ms = int(time.time() * 1000)
    since_ms = parse_when(since, "--since", now_ms)
    until_ms = parse_when(until, "--until", now_ms) if until else now_ms
    if until_ms <= since_ms:
        raise click.BadParameter("the period is empty: --until must come after --since", param_hint="--until")
    key = auditopts.audit_key(audit_key_file)
    anchors = auditopts.anchors(anchor_texts, anchors_file)
    with open_reading(state_url, "report", key) as store, store_read("report"):
        doc = closure_report(store, since_ms, until_ms, now_ms, anchors)
    text = report_json(doc) if output == "json" else report_html(doc) if output == "html" else report_markdown(doc)
    if out is not None:
        write_out(out, text if text.endswith("\n") else text + "\n", "report")
    else:
        click.echo(text, nl=not text.endswith("\n"))
    audit = doc["audit"]
    if audit["verdict"] == "tampered":
        click.echo(f"ksctl report: AUDIT CHAIN TAMPERED: first bad row {audit['first_bad_row']}: "
                   f"{audit['first_finding']}", err=True)
    elif audit["verdict"] == "consistent_unverified":
        click.echo("ksctl report: AUDIT CHAIN UNVERIFIED: consistent, but neither the audit key nor an exported "
                   "anchor was given; a wiped or wholly rewritten chain reads the same", err=True)
    elif not audit["passed"]:
        click.echo(f"ksctl report: AUDIT CHAIN NOT VERIFIABLE without the key: {audit['anchoring']}", err=True)
    raise SystemExit(auditopts.exit_code(audit["verdict"]))
