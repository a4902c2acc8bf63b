"""``ksctl runbook``: an incident's runbook, rendered again from the incident data stored with it
(``--state``), or as the runner serves it (``--api``, or ``KS_API_URL`` when no ``--state`` is
given: ``GET /v1/runbooks/{incident}``).

``render`` uses the templates of today (the ``runbooks/`` directory), so a fixed or improved
template applies to past incidents; ``--as-stored`` prints what the on-call engineer was shown.
Run where no ``runbooks/`` directory is found (outside the policy repository) and without
``--runbooks``, an incident rendered with the built-in runbook is rendered again with it; one
rendered with a repository's template is printed as stored, with a warning that says so, rather
than with the built-in one, which lacks what that template added.
``list`` names the incidents the store holds runbooks for (or, with ``--api``, the runner's
store: ``GET /v1/runbooks``).
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any, NoReturn, Optional

import click

from .apiopts import read, runner_client, tls_options, token_option
from .common import (
    DEFAULT_STATE_URL,
    EXIT_FINDINGS,
    EXIT_OK,
    StateUrl,
    SuggestingGroup,
    file_format,
    file_output,
    open_reading,
    output_option,
    state_option as common_state_option,
    write_out,
)

state_option = common_state_option()


def no_templates_line(template: str, created_ms: int) -> str:
    """Why ``render`` printed the stored runbook: no templates directory to render it again with."""
    from ..runbooks.incident import iso

    return (f"no runbooks/ directory here or above it (the incident was rendered with {template!r}): printing the "
            f"runbook as stored at {iso(created_ms)}; run from the policy repository, or give --runbooks DIR, to "
            "render it again with today's templates")


class _StoreUnlessApi(StateUrl):
    """``--state`` of ``render``: checked as every command's, except its default when ``--api``
    (eager) is given: the runner's runbook is read then, and no store is needed here."""

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Any:
        if ctx is not None and param is not None and ctx.params.get("api") is not None \
                and ctx.get_parameter_source(param.name or "") == click.core.ParameterSource.DEFAULT:
            return str(value)
        return super().convert(value, param, ctx)


@click.group(cls=SuggestingGroup)
def runbook() -> None:
    """Incident runbooks stored by the runner."""


@runbook.command("render", epilog="""\b
Examples:
  ksctl runbook render --incident futures-book/binanceusdm/main/L3/e1
  ksctl runbook render --incident futures-book/binanceusdm/main/L3/e1 --api http://127.0.0.1:8080
  ksctl runbook render --incident futures-book/binanceusdm/main/L3/e1 -o html --out flatten.html
  ksctl runbook render --incident futures-book/binanceusdm/main/L3/e1 --as-stored
  ksctl runbook render --incident futures-book/binanceusdm/main/L3/e1 -o json | jq -r .problems[]
Exit codes: 0 rendered with the template the incident names, 1 unknown incident or a template
that failed (the runbook is still written, with the fallback that rendered it, and says why);
with --api: 0 printed, 1 refused (UNKNOWN_INCIDENT), 2 a 401, 5 the runner not reachable.
KS_API_URL set (as for every verb that talks to the runner) and no --state: the runner's runbook.
""")
@click.option("--incident", required=True, help="The incident: its decision id (policy/scope/L<level>/e<entry>).")
@click.option("--state", "state_url", type=_StoreUnlessApi(), default=DEFAULT_STATE_URL, show_default=True,
              envvar="KS_STATE_URL", show_envvar=True,
              help="The state store to render it again from: sqlite:///path/to/state.db or postgresql://user@host/db "
                   "(its password is never printed); not read with --api.")
@click.option("--api", "api", default=None, metavar="URL", is_eager=True, envvar="KS_API_URL", show_envvar=True,
              help="Print the runbook the runner at this API serves (GET /v1/runbooks/{incident}: as it stored "
                   "it, kept up to date) instead of rendering it again from --state. From KS_API_URL, it "
                   "yields to a --state (or KS_STATE_URL) given: the store is read then.")
@token_option
@tls_options
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@click.option("--runbooks", "runbooks", type=click.Path(exists=True, file_okay=False), default=None,
              help="Directory of the templates (default: runbooks/ found walking up from here).")
@click.option("--as-stored", is_flag=True, help="Print the runbook as rendered at the time, not again.")
@file_output("md", "html")
def render(incident: str, state_url: str, api: Optional[str], token_env: str, fmt: Optional[str], out: Optional[str],
           runbooks: Optional[str], as_stored: bool, output: str) -> None:
    """Render an incident's runbook again with the current templates (or, with --api, print the runner's)."""
    from pathlib import Path

    from ..runbooks.render import BUILTIN, render_runbook
    from ..runbooks.story import with_story
    from ..runbooks.templates import Templates, find_runbooks_dir

    output = file_format(output, fmt, ("md", "html"), "runbook render")
    ctx = click.get_current_context()
    if api is not None and ctx.get_parameter_source("api") == click.core.ParameterSource.ENVIRONMENT \
            and ctx.get_parameter_source("state_url") != click.core.ParameterSource.DEFAULT:
        api = None  # KS_API_URL, set for every verb: a store named here is the offline render asked for
    if api is not None:
        _from_runner(incident, api, token_env, out, runbooks, output)
    with open_reading(state_url, "runbook render") as store:
        record = store.runbook(incident)
        known = [r.incident for r in store.runbooks(limit=1000)] if record is None else []
        # what became of it since (how it ended, its pages, its violations): read now, from the store
        data = with_story(record.data, store, int(time.time() * 1000)) if record is not None and not as_stored else None
    if record is None:
        from ..face.runbooks import unknown_incident_hint

        hint = unknown_incident_hint(incident, known)
        click.echo(f"ksctl runbook render: UNKNOWN_INCIDENT: no runbook for {incident!r} in {store.url}{hint}",
                   err=True)
        raise SystemExit(EXIT_FINDINGS)
    problems: tuple[str, ...] = ()
    root = Path(runbooks) if runbooks is not None else None if as_stored else find_runbooks_dir(["."])
    fallback = None
    if not as_stored and root is None and record.template != BUILTIN:
        # the built-in runbook lacks what the template the incident was rendered with added: what
        # the on-call engineer was shown is the better answer, said so
        fallback = no_templates_line(record.template, record.created_ms)
        as_stored = True
    if as_stored:
        markdown, html = record.markdown, record.html
    else:
        rb = render_runbook(data or record.data, Templates.load(root) if root is not None else None)
        markdown, html, problems = rb.markdown, rb.html, tuple(rb.problems)
    if fallback is not None:
        click.echo(f"ksctl runbook render: WARNING: {fallback}", err=True)
    _write(incident, output, out, markdown, html, as_stored=as_stored, template=record.template, problems=problems,
           fallback=fallback)
    for p in problems:
        click.echo(f"ksctl runbook render: template problem: {p}", err=True)
    raise SystemExit(EXIT_FINDINGS if problems else EXIT_OK)


def _from_runner(incident: str, api: str, token_env: str, out: Optional[str], runbooks: Optional[str],
                 output: str) -> NoReturn:
    """``render --api``: the runbook the runner serves for ``incident``, as it stored it (it keeps
    it up to date: orders, lock, how it ended); exit 1 when the runner has none (UNKNOWN_INCIDENT)."""
    ctx = click.get_current_context()
    if ctx.get_parameter_source("state_url") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("give --api (the runner's runbook) or --state (rendered again from the store), "
                               "not both")
    if runbooks is not None:
        raise click.UsageError("--runbooks renders again from --state; with --api the runner's runbook is printed")
    client = runner_client(api, token_env, required=False)
    kinds = ("md", "html") if output == "json" else (output,)
    got: dict[str, str] = {}
    for kind in kinds:
        got[kind] = read(functools.partial(client.runbook, incident, kind), "runbook render", output, token_env)
    _write(incident, output, out, got.get("md", ""), got.get("html", ""))
    raise SystemExit(EXIT_OK)


def _write(incident: str, output: str, out: Optional[str], markdown: str, html: str, *, as_stored: bool = True,
           template: Optional[str] = None, problems: tuple[str, ...] = (), fallback: Optional[str] = None) -> None:
    """The runbook to ``out`` (else stdout) as ``output`` asks: its markdown, its html, or (json)
    both, with what rendered it (``as_stored`` and no template: the runner's, as it stored it)."""
    if output == "json":
        text = json.dumps({"format_version": 2, "incident": incident, "as_stored": as_stored, "template": template,
                           "problems": list(problems), "fallback": fallback, "markdown": markdown, "html": html},
                          indent=1) + "\n"
    else:
        text = html if output == "html" else markdown
    if out is not None:
        write_out(out, text, "runbook render")
    else:
        click.echo(text, nl=not text.endswith("\n"))


listing_state_option = common_state_option(url_type=_StoreUnlessApi())


@runbook.command("list", epilog="""\b
Examples:
  ksctl runbook list --since 1d
  ksctl runbook list --api http://127.0.0.1:8080 -o json
Exit codes: 0 listed; with --api: 1 refused, 2 a 401, 5 the runner not reachable.
KS_API_URL set (as for every verb that talks to the runner) and no --state: the runner's list.
""")
@listing_state_option
@click.option("--api", "api", default=None, metavar="URL", is_eager=True, envvar="KS_API_URL", show_envvar=True,
              help="List the runbooks the runner at this API stores (GET /v1/runbooks) instead of reading --state. "
                   "From KS_API_URL, it yields to a --state (or KS_STATE_URL) given: the store is read then.")
@token_option
@tls_options
@click.option("--since", default=None, help="Only incidents from this date or time on (UTC), or e.g. 7d ago.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@output_option
def list_(state_url: str, api: Optional[str], token_env: str, since: Optional[str], limit: int, output: str) -> None:
    """The incidents with a stored runbook, newest last (from --state, or with --api the runner's)."""
    from ..face.runbooks import runbook_row
    from .report import parse_when

    ctx = click.get_current_context()
    state_given = ctx.get_parameter_source("state_url") != click.core.ParameterSource.DEFAULT \
        or ctx.params.get("state_url_file") is not None
    if api is not None and state_given:
        if ctx.get_parameter_source("api") == click.core.ParameterSource.ENVIRONMENT:
            api = None  # KS_API_URL, set for every verb: a store named here is the listing asked for
        elif ctx.get_parameter_source("state_url") == click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError("give --api (the runner's runbooks) or --state (the store's), not both")
    since_ms = parse_when(since, "--since") if since else None
    if api is not None:
        client = runner_client(api, token_env, required=False)
        rows = read(lambda: client.runbooks(since_ms, limit), "runbook list", output, token_env)["runbooks"]
    else:
        with open_reading(state_url, "runbook list") as store:
            rows = [runbook_row(r) for r in store.runbooks(since_ms=since_ms, limit=limit)]
    if output == "json":
        click.echo(json.dumps({"format_version": 1, "runbooks": rows}, indent=1))
        return
    for r in rows:
        ended = r.get("ended")
        click.echo(f"{r['created_ts']}  {r['incident']}  stage {r['level']}  template {r['template']}  "
                   + (f"ENDED: {ended}" if ended else "open"))
    if not rows:
        click.echo("no runbook stored")
