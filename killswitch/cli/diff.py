"""``ksctl diff OLD NEW --against FILE.jsonl``: replay two policy revisions over the same recording
and show where their decisions differ — "what would this change have done last week?".

OLD and NEW are each a policy path (file or directory) or ``REV:PATH``, a path as git holds it at a
revision. The comparison is :func:`killswitch.preview.diff.compare`; the output is
:mod:`killswitch.render.diff`. This module reads the sources (files, or git objects through a
temporary directory), compiles both sides and wires the pieces together.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tarfile
import tempfile
from pathlib import Path

import click

from ..sources import MAX_FILE_BYTES, git
from .common import EXIT_FINDINGS, EXIT_OK, max_file_size_option, output_option, reading_recording, scores_option

EXIT_DIFFERENCES = 2  # with --detailed-exitcode only, as ksctl plan does
EXIT_INCOMPLETE = 4  # with --detailed-exitcode --allow-incomplete: a snapshot not read (| EXIT_DIFFERENCES)


class RevisionError(Exception):
    """A ``REV:PATH`` git cannot give; the message is git's, or says what is wrong."""


def _git(args: list[str], cwd: str, binary: bool = False):
    return git(args, cwd, RevisionError, binary)


def split_revision(spec: str) -> tuple[str, str] | None:
    """``(REV, PATH)`` when ``spec`` names a git revision of a path rather than an existing path."""
    if os.path.exists(spec) or ":" not in spec:
        return None
    rev, _, path = spec.partition(":")
    return rev, path


def read_revision(rev: str, path: str, label: str, tmp: Path, max_file_bytes: int = MAX_FILE_BYTES):
    """The policy sources of ``path`` at git revision ``rev``, named ``label/…`` in diagnostics.

    ``path`` is relative to the current directory, like a plain path argument (git's
    ``REV:./PATH``); an empty path or ``.`` is the current directory.
    """
    from ..sources import read_sources

    if not rev:
        raise RevisionError("give a revision before the colon (REV:PATH)")
    if os.path.isabs(path):
        raise RevisionError("the path after the colon is inside the repository, relative to this directory")
    if rev.startswith("-"):
        raise RevisionError(f"{rev!r} is not a revision")
    cwd = os.getcwd()
    try:
        _git(["rev-parse", "--is-inside-work-tree"], cwd)
    except RevisionError as e:
        raise RevisionError(str(e)) from None
    try:
        commit = _git(["rev-parse", "--verify", f"{rev}^{{commit}}"], cwd)
    except RevisionError:
        raise RevisionError(f"unknown revision {rev!r}") from None
    rel = path if path.startswith(("./", "../")) else "./" + (path if path not in ("", ".") else "")
    try:
        kind = _git(["cat-file", "-t", f"{commit}:{rel}"], cwd)
        sha = _git(["rev-parse", "--verify", f"{commit}:{rel}"], cwd)
    except RevisionError:
        raise RevisionError(f"{path or '.'} does not exist at {rev}") from None
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    dest = tmp / "tree"
    if kind == "tree":
        data = _git(["archive", "--format=tar", sha], top, binary=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                # "data": nothing outside dest, no links out of it, no devices
                tar.extractall(dest, filter="data")
        except tarfile.TarError as e:
            raise RevisionError(f"{path or '.'} at {rev} cannot be read: {e}") from None
        dest.mkdir(exist_ok=True)  # an empty tree archives to nothing
        prefix = label if label.endswith((":", "/")) else label + "/"
    elif kind == "blob":
        dest.mkdir()
        dest = dest / (Path(path).name or "policy.yaml")
        dest.write_bytes(_git(["cat-file", "blob", sha], top, binary=True))
        prefix = None
    else:
        raise RevisionError(f"{path} at {rev} is a {kind}, not a file or a directory")
    src = read_sources([str(dest)], max_file_bytes)

    def name(f: str) -> str:
        return label if prefix is None else prefix + Path(os.path.relpath(f, dest)).as_posix()

    src.files = [(name(f), text) for f, text in src.files]
    src.diagnostics = [dataclasses.replace(x, file=name(x.file) if x.file.startswith(str(dest)) else x.file)
                       for x in src.diagnostics]
    src.revision = commit
    return src


def compile_side(spec: str, max_file_bytes: int = MAX_FILE_BYTES):
    """The compile result of one side; RevisionError when git cannot give its sources."""
    from ..sources import compile_read, read_sources

    with tempfile.TemporaryDirectory(prefix="ksctl-diff-") as tmp:
        split = split_revision(spec)
        src = read_sources([spec], max_file_bytes) if split is None else read_revision(*split, spec, Path(tmp),
                                                                                         max_file_bytes)
    return compile_read(src)


@click.command(epilog="""\b
Examples:
  ksctl diff policies/futures-book.yaml new/futures-book.yaml --against policies/recordings/futures-crash.jsonl
  ksctl diff HEAD~1:policies/ policies/ --against policies/recordings/futures-crash.jsonl
  ksctl diff origin/main:policies/ HEAD:policies/ --against week.jsonl --policy futures-book -o json
\b
OLD and NEW: a policy file or directory, or REV:PATH for PATH as git holds it at
revision REV (PATH relative to the current directory; REV:. is this directory).
\b
Exit codes: 0 no difference, 1 the decisions differ, or an error (policy errors,
an unreadable recording or revision), 2 usage (OLD or NEW a path that does not
exist), 3 internal error.
With --detailed-exitcode (as ksctl plan): 0 no difference, 2 the decisions differ, 1 an error.
\b
A snapshot recorded as failed (fetch.ok false) makes the comparison
incomplete: neither revision saw that account then. The accounts not read are
named with their reason code and the diff exits 1, unless --allow-incomplete:
then as a complete diff would, or with --detailed-exitcode 4 (no difference)
or 6 (the decisions differ) — never 0.
""")
@click.argument("old")
@click.argument("new")
@click.option("--against", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A JSONL recording (snapshots or ticks) both revisions are replayed over.")
@click.option("--policy", "policy", default=None, metavar="NAME", help="Compare the decisions of this policy only.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the decisions differ, 0 when not, 1 on errors.")
@click.option("--allow-incomplete", is_flag=True,
              help="Do not fail on snapshots recorded as failed (they are still reported).")
@scores_option
@max_file_size_option
@output_option
def diff(old: str, new: str, against: str, policy: str | None, detailed_exitcode: bool, allow_incomplete: bool,
         scores: str, max_file_bytes: int, output: str) -> None:
    """Replay two policy revisions over a recording and show where their decisions differ.

    Compared tick by tick and scope by scope: stage transitions (which, when), planned orders
    per position leg (symbol, side, amount, notional), cancels, directives, hedge suggestions
    and refusals. Nothing is sent.
    """
    from ..preview.coverage import CoverageTally
    from ..preview.diff import PolicyRevision, diff_replays, policy_names
    from ..preview.replay import read_ticks
    from ..render.diagnostics import diagnostic_text
    from ..render.diff import diff_json, diff_text

    for what, spec in (("OLD", old), ("NEW", new)):
        if split_revision(spec) is None and not os.path.exists(spec):
            raise click.BadParameter(f"{spec!r} does not exist (a policy file or directory, or REV:PATH)",
                                     param_hint=what)
    results = {}
    failed = False
    for what, spec in (("OLD", old), ("NEW", new)):
        try:
            result = compile_side(spec, max_file_bytes)
        except RevisionError as e:
            click.echo(f"ksctl diff: {what} {spec}: {e}", err=True)
            raise SystemExit(EXIT_FINDINGS)
        if result.graph is None:
            for x in result.errors:
                click.echo(diagnostic_text(x), err=True)
            click.echo(f"ksctl diff: {what} ({spec}) has errors; run ksctl validate", err=True)
            failed = True
        results[what] = result
    if failed:
        raise SystemExit(EXIT_FINDINGS)
    og, ng = results["OLD"].graph, results["NEW"].graph
    if policy is not None and policy not in policy_names([og, ng]):
        raise click.BadParameter(f"no policy {policy!r} in OLD or NEW; they have: "
                                 f"{', '.join(policy_names([og, ng])) or 'none'}", param_hint="--policy")
    with reading_recording("diff", against):
        with open(against, encoding="utf-8") as fh:
            ticks = list(read_ticks(fh))
        # the text shows no scores: list them for the JSON only
        result = diff_replays(og, ng, ticks, policy, scores if output == "json" else "none")
    tally = CoverageTally()
    for tick in ticks:
        for snap in tick.snapshots:
            tally.saw(snap, tick.now_ms)
    accounts = tally.accounts()
    complete = all(a.failed == 0 for a in accounts)
    sides = (PolicyRevision(old, og.digest, og.revision), PolicyRevision(new, ng.digest, ng.revision))
    click.echo(diff_json(result, *sides, against, policy, accounts) if output == "json"
               else diff_text(result, *sides, against, accounts))
    if not complete and not allow_incomplete:
        click.echo("ksctl diff: incomplete: some snapshots of the recording were not read; "
                   "--allow-incomplete accepts them", err=True)
        raise SystemExit(EXIT_FINDINGS)
    if not detailed_exitcode:
        raise SystemExit(EXIT_FINDINGS if result.differs else EXIT_OK)
    raise SystemExit((EXIT_DIFFERENCES if result.differs else EXIT_OK) | (EXIT_OK if complete else EXIT_INCOMPLETE))
