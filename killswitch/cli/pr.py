"""``ksctl pr overlaps``: the other open pull requests that change the same policy documents."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import EXIT_FINDINGS, EXIT_OK, EXIT_UNREACHABLE, ExistingPath, SuggestingGroup, output_formats

if TYPE_CHECKING:
    from ..forge.overlaps import Concurrent

REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")


@click.group(cls=SuggestingGroup)
def pr() -> None:
    """What a policy pull request's comment says of the forge (GitHub)."""


def repository_paths(paths: tuple[str, ...]) -> tuple[str, ...]:
    """``paths`` (relative to the current directory) as the repository names them: relative to
    the root of the git checkout that holds the current directory (the current directory when
    none does), ``/`` between the parts, ``""`` for the root itself. One outside it: usage error."""
    cwd = Path(os.getcwd())
    root = next((d for d in (cwd, *cwd.parents) if (d / ".git").exists()), cwd)
    out = []
    for p in paths:
        full = os.path.abspath(p)
        if os.path.commonpath([full, str(root)]) != str(root):
            raise click.BadParameter(f"{p!r} is outside the repository at {root}", param_hint="PATHS")
        rel = os.path.relpath(full, root).replace(os.sep, "/")
        out.append("" if rel == "." else rel)
    return tuple(out)


@pr.command(epilog="""\b
Examples:
  ksctl pr overlaps --repo acme/risk-policies --pr 42 policies/
  ksctl pr overlaps --pr "$PR_NUMBER" -o markdown . >> review.md   (in a workflow: --repo from GITHUB_REPOSITORY)
It reads, through GitHub's REST API, the policy documents (YAML files under PATHS) pull request
--pr changes, then every other open pull request's files, and lists those that change one of the
same documents: number, title, author, the documents in common. A renamed document counts under
both its names.
Without a token (the variable --token-env names, GITHUB_TOKEN by default, unset or empty) it
says "no token: other pull requests not checked" and exits 0. A token needs read access to the
repository's pull requests (a workflow's GITHUB_TOKEN with pull-requests: read).
Exit codes: 0 looked (overlaps or none) or no token, 1 GitHub answered with an error (its
message: Not Found, API rate limit exceeded, ...), 2 usage, 5 GitHub could not be reached.
""")
@click.argument("paths", nargs=-1, required=True, type=ExistingPath())
@click.option("--repo", required=True, envvar="GITHUB_REPOSITORY", show_envvar=True,
              help="The repository, OWNER/NAME.")
@click.option("--pr", "number", required=True, type=click.IntRange(min=1), help="The pull request's number.")
@click.option("--api-url", default="https://api.github.com", show_default=True, envvar="GITHUB_API_URL",
              show_envvar=True, help="GitHub's REST API (a GitHub Enterprise Server's: https://HOST/api/v3).")
@click.option("--token-env", default="GITHUB_TOKEN", show_default=True,
              help="Environment variable holding the GitHub token (never printed).")
@output_formats("text", "json", "markdown")
def overlaps(paths: tuple[str, ...], repo: str, number: int, api_url: str, token_env: str, output: str) -> None:
    """Other open pull requests that change the same policy documents."""
    from ..forge.overlaps import Concurrent
    from ..render.concurrent import concurrent_json, concurrent_markdown, concurrent_text

    if not REPO.match(repo):
        raise click.BadParameter(f"{repo!r} is not OWNER/NAME", param_hint="'--repo'")
    if _scheme(api_url) not in ("http", "https"):
        raise click.BadParameter(f"{api_url!r} is not an http(s) URL", param_hint="'--api-url'")
    found = Concurrent(repo, number, repository_paths(paths), token_env)
    token = os.environ.get(token_env, "")
    if not token:
        found.reason = "NO_TOKEN"
    else:
        _look(found, api_url, token)
    render = {"json": concurrent_json, "markdown": concurrent_markdown}.get(output, concurrent_text)
    click.echo(render(found))
    if found.reason in ("GITHUB_ERROR", "UNREACHABLE"):
        click.echo(f"ksctl pr overlaps: {found.reason}: {found.message}", err=True)
        raise SystemExit(EXIT_UNREACHABLE if found.reason == "UNREACHABLE" else EXIT_FINDINGS)
    raise SystemExit(EXIT_OK)


def _scheme(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).scheme


def _look(found: "Concurrent", api_url: str, token: str) -> None:
    """Fill ``found`` from GitHub: this pull request's policy documents, then each other open
    pull request's, when it has any; an error or no answer is its reason and message."""
    from ..forge.github import GitHub, GitHubError, Unreachable
    from ..forge.overlaps import PullRequest, overlaps, policy_files

    gh = GitHub(found.repo, token, api_url)
    try:
        found.files = tuple(sorted(policy_files(gh.pull_files(found.pr), found.paths)))
        if not found.files:
            return
        others = []
        for item in gh.open_pulls():
            pull = PullRequest.from_api(item)
            if pull.number == found.pr:
                found.base = pull.base
                continue
            others.append(pull)
        compared = [(pull, policy_files(gh.pull_files(pull.number), found.paths)) for pull in others]
        found.open_checked = len(compared)
        found.overlaps = overlaps(set(found.files), compared)
    except GitHubError as e:
        found.reason, found.message, found.status = "GITHUB_ERROR", f"HTTP {e.status} to GET {e.url}: {e.message}", \
            e.status
    except Unreachable as e:
        found.reason, found.message = "UNREACHABLE", str(e)
