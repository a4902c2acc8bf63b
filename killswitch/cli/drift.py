"""``ksctl drift --against REV:PATH | DIR``: does each runner run what git holds?

Thin: the expected documents and the history are :mod:`killswitch.drift.revisions`, the runners
read and posted :mod:`killswitch.drift.runners`, the comparison :mod:`killswitch.drift.compare`,
the output :mod:`killswitch.render.drift`. This module picks the runners, wires the pieces and
decides the exit code.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Optional

import click

from .apiopts import context_tls, tls_options, token_option
from .common import EXIT_FINDINGS, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, duration_s, output_formats

if TYPE_CHECKING:
    from ..drift.compare import Reading, Report
    from ..drift.revisions import Expected

DEFAULT_API = "http://127.0.0.1:8080"


def expected_of(against: str) -> "Expected":
    """The documents ``--against`` names: ``REV:PATH`` (git), else a directory or file; a usage
    error (exit 2) saying what cannot be read."""
    from ..drift.revisions import SourceError, from_directory, from_git

    try:
        if os.path.exists(against):
            return from_directory(against, against)
        if ":" not in against:
            raise SourceError(f"{against} does not exist (a directory, a policy file, or REV:PATH as git holds it)")
        rev, _, path = against.partition(":")
        return from_git(rev, path, os.getcwd(), against)
    except SourceError as e:
        click.echo(f"ksctl drift: --against {against}: {e}", err=True)
        raise SystemExit(EXIT_USAGE)


def exit_code(report: "Report", firm_unread: Optional["Reading"]) -> int:
    """2 a runner answered 401 (the token); 5 a runner, or the firm board, did not answer at all
    (the verdict is incomplete: 5 wins over drift); 1 any drift, disagreement or problem; else 0."""
    from ..drift.compare import NOT_HEARD

    unheard = [v for v in report.verdicts if v.state == NOT_HEARD]
    if any(v.http == 401 for v in unheard) or (firm_unread is not None and firm_unread.http == 401):
        return EXIT_USAGE
    if any(v.code == "UNREACHABLE" for v in unheard) or (firm_unread is not None and not firm_unread.answered):
        return EXIT_UNREACHABLE
    return EXIT_FINDINGS if report.drift else EXIT_OK


@click.command(epilog="""\b
Examples:
  ksctl drift --against origin/main:policies/ --api http://ks-0:8080 --api http://ks-1:8080
  ksctl drift --against origin/main:policies/ --firm --post -o markdown
  ksctl drift --against ./policies-checkout/ -o json
\b
--against: REV:PATH, PATH (relative to this directory) as git holds it at revision REV;
or a directory (a checkout), whose git history is searched when it is in a work tree.
Each runner (--api, repeatable; with --firm every shard of the first runner's firm
board too) is IN SYNC, BEHIND (which revision, since when), DIVERGED (which documents),
RELOAD FAILING (the error, since when), NOT HEARD (why) or OLD API (no policy_sync in
its status: counted as drift). Replicas of a shard on different graphs, and shards on
different revisions, are said too. --post sends each runner its verdict
(POST /v1/policy-drift, a token with the drift or operator role); a refusal is said,
and does not change the exit code.
\b
Exit codes: 0 every runner in sync, 1 drift (or a disagreement, or a runner that
answered with an error), 2 usage (a revision git does not know, a path with no policy
files, a token the runner does not know), 5 a runner (or the firm board) did not
answer: the verdict is incomplete, and 5 wins over 1.
""")
@click.option("--against", required=True, metavar="REV:PATH|DIR",
              help="What the runners should run: PATH as git holds it at REV, or a directory.")
@click.option("--api", "api", multiple=True, envvar="KS_API_URL", metavar="URL",
              help=f"A runner's API, repeatable (env KS_API_URL; default {DEFAULT_API}).")
@click.option("--firm", is_flag=True, help="Every shard of the first runner's firm board (GET /v1/firm/shards) too.")
@click.option("--post", is_flag=True, help="Send each runner its verdict (POST /v1/policy-drift).")
@click.option("--timeout", "timeout", default="5s", show_default=True, help="How long each runner is waited on.")
@tls_options
@token_option
@output_formats("text", "json", "markdown")
def drift(against: str, api: tuple[str, ...], firm: bool, post: bool, timeout: str, token_env: str,
          output: str) -> None:
    """Compare what each runner runs with a git revision or a checkout."""
    from ..drift.compare import posted, report as make_report
    from ..drift.runners import distinct, firm_targets, post_verdicts, read_runners, targets_of
    from ..render.drift import drift_json, drift_markdown, drift_text
    from ..render.ops import auth_hint

    timeout_s = duration_s(timeout, "--timeout")
    token = os.environ.get(token_env) or None
    apis = list(api) or [DEFAULT_API]
    tls, certified = context_tls(apis)  # an https runner's CA, a client certificate
    if post and not token and not certified:
        raise click.UsageError(f"{token_env} is not set: --post needs the API token (the drift or operator role), "
                               "or a client certificate (--cert-file)")
    expected = expected_of(against)
    try:
        firm_unread = None
        shards: list = []
        if firm:
            shards, firm_unread = firm_targets(apis[0], token, timeout_s, tls)
        readings = distinct(read_runners(targets_of(apis, shards), token, timeout_s, tls))
        problems = [f"the firm board of {firm_unread.url} was not read: {firm_unread.reason}"] if firm_unread else []
        report = make_report(readings, expected.documents, against, expected.revision, expected.history,
                             int(time.time() * 1000), problems)
    finally:
        expected.close()
    posts = None
    if post:
        bodies = [(v.url, body) for v in report.verdicts if (body := posted(v, report)) is not None]
        posts = post_verdicts(bodies, token, timeout_s, tls)
    render = {"json": drift_json, "markdown": drift_markdown}.get(output, drift_text)
    click.echo(render(report, posts))
    code = exit_code(report, firm_unread)
    if code == EXIT_USAGE:
        click.echo(auth_hint("drift", token_env, token is not None), err=True)
    raise SystemExit(code)
