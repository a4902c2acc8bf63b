"""``ksctl pr overlaps`` against a fake GitHub REST API on 127.0.0.1 (aiohttp, in a thread of its
own): its answers are shaped as GitHub's documented examples (List pull requests, List pull
requests files), paginated by the ``Link`` header as GitHub paginates, and its errors carry
GitHub's messages (a 403 rate limit, a 404)."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.forge.github import next_link
from tests.conftest import ROOT

REPO = "octocat/risk-policies"
TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"  # the shape of a workflow's token, not a real one
SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"


def pull(number: int, title: str, login: str, base: str = "main", draft: bool = False) -> dict[str, Any]:
    """An item of ``GET /repos/{owner}/{repo}/pulls``, as GitHub's example has it (trimmed of the
    fields nothing reads: the links, the repositories under head and base, labels...)."""
    return {
        "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
        "id": 1000 + number, "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
        "html_url": f"https://github.com/{REPO}/pull/{number}",
        "diff_url": f"https://github.com/{REPO}/pull/{number}.diff",
        "number": number, "state": "open", "locked": False, "title": title,
        "user": {"login": login, "id": 1, "type": "User", "site_admin": False},
        "body": "Please pull these awesome changes in!", "labels": [], "milestone": None,
        "created_at": "2011-01-26T19:01:12Z", "updated_at": "2011-01-26T19:01:12Z",
        "closed_at": None, "merged_at": None, "merge_commit_sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6",
        "draft": draft, "author_association": "OWNER",
        "head": {"label": f"{login}:topic-{number}", "ref": f"topic-{number}", "sha": SHA, "user": {"login": login}},
        "base": {"label": f"octocat:{base}", "ref": base, "sha": SHA, "user": {"login": "octocat"}},
    }


def changed(filename: str, status: str = "modified", previous: str | None = None) -> dict[str, Any]:
    """An item of ``GET /repos/{owner}/{repo}/pulls/{n}/files``, as GitHub's example has it."""
    entry = {
        "sha": "bbcd538c8e72b8c175046e27cc8f907076331401", "filename": filename, "status": status,
        "additions": 103, "deletions": 21, "changes": 124,
        "blob_url": f"https://github.com/{REPO}/blob/{SHA}/{filename}",
        "raw_url": f"https://github.com/{REPO}/raw/{SHA}/{filename}",
        "contents_url": f"https://api.github.com/repos/{REPO}/contents/{filename}?ref={SHA}",
        "patch": "@@ -132,7 +132,7 @@ module Test @@ -1000,7 +1000,7 @@ module Test",
    }
    if previous is not None:
        entry["previous_filename"] = previous
    return entry


@dataclass
class FakeGitHub:
    """The two endpoints, paginated by ``per_page`` and ``page`` with a ``Link`` header; every
    request recorded (its path and query, and its Authorization header)."""

    pulls: list[dict[str, Any]] = field(default_factory=list)
    files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    max_per_page: int = 100  # GitHub's maximum: lower, to make pages of a few items
    fail: dict[str, tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=dict)  # path -> answer
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        per_page = min(int(request.query.get("per_page", "30")), self.max_per_page)
        page = int(request.query.get("page", "1"))
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, n in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if 1 <= n <= last and (rel not in ("last", "first") or page != n):
                query = {**request.query, "page": str(n)}
                links.append(f'<{self.url}{request.path}?{"&".join(f"{k}={v}" for k, v in query.items())}>; '
                             f'rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return web.json_response(items[(page - 1) * per_page:page * per_page], headers=headers)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path_qs, request.headers.get("Authorization")))
        if request.path in self.fail:
            status, body, headers = self.fail[request.path]
            return web.json_response(body, status=status, headers=headers)
        parts = request.path.strip("/").split("/")
        if parts[:3] != ["repos", *REPO.split("/")]:
            return web.json_response({"message": "Not Found", "documentation_url":
                                      "https://docs.github.com/rest/pulls/pulls#list-pull-requests",
                                      "status": "404"}, status=404)
        if parts[3:] == ["pulls"]:
            assert request.query.get("state") == "open"
            return self._page(request, self.pulls)
        if len(parts) == 6 and parts[3] == "pulls" and parts[5] == "files" and int(parts[4]) in self.files:
            return self._page(request, self.files[int(parts[4])])
        return web.json_response({"message": "Not Found", "status": "404"}, status=404)


@pytest.fixture
def github():
    fake = FakeGitHub()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start():
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", fake.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield fake
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(fake: FakeGitHub, *args: str, token: str | None = TOKEN, pr: int = 7):
    env = {"GITHUB_TOKEN": token, "GITHUB_REPOSITORY": None, "GITHUB_API_URL": None}
    return CliRunner(env=env).invoke(cli, ["pr", "overlaps", "--repo", REPO, "--pr", str(pr),
                                           "--api-url", fake.url or "http://127.0.0.1:9", *args])


def _busy(fake: FakeGitHub) -> None:
    """Pull request 7 changes two policies and a README; 3 others are open: 8 changes one of the
    same policies (and is a draft into another branch), 9 renames the other, 10 changes other files."""
    fake.pulls = [pull(7, "Raise the soft drawdown", "alice"),
                  pull(8, "Tighten | the ladder", "bob", base="release", draft=True),
                  pull(9, "Rename the spot book", "carol"),
                  pull(10, "Docs", "dave")]
    fake.files = {
        7: [changed("policies/futures-book.yaml"), changed("policies/spot-book.yaml"), changed("README.md")],
        8: [changed("policies/futures-book.yaml"), changed("policies/tests/futures-book.test.yaml", "added")],
        9: [changed("policies/spot.yaml", "renamed", previous="policies/spot-book.yaml")],
        10: [changed("README.md"), changed("policies/routes.yaml")],
    }


def test_it_names_each_other_open_pull_request_on_the_same_policies(github):
    _busy(github)
    r = run(github, "policies/", "-o", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert (body["checked"], body["reason"], body["files"], body["base"], body["open_checked"]) == (
        True, None, ["policies/futures-book.yaml", "policies/spot-book.yaml"], "main", 3)
    assert [(o["number"], o["author"], o["draft"], o["files"]) for o in body["overlaps"]] == [
        (8, "bob", True, ["policies/futures-book.yaml"]),
        (9, "carol", False, ["policies/spot-book.yaml"])]
    assert body["overlaps"][0]["url"] == f"https://github.com/{REPO}/pull/8"
    assert {auth for _, auth in github.seen} == {f"Bearer {TOKEN}"}
    assert TOKEN not in r.output

    r = run(github, "policies/")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == [
        "2 other open pull requests of 3 change the policy documents of #7",
        "  #8 [draft] 'Tighten | the ladder' by bob (into release): policies/futures-book.yaml",
        "  #9 'Rename the spot book' by carol: policies/spot-book.yaml"]

    r = run(github, "policies/", "-o", "markdown")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[:3] == ["### Concurrent changes", "", "2 other open pull requests of 3 change the policy "
                                                        "documents of #7:"]
    assert (f"| [#8](https://github.com/{REPO}/pull/8) Tighten \\| the ladder (draft) (into release) | @bob | "
            "`policies/futures-book.yaml` |") in lines


def test_paths_narrow_the_policy_documents_compared(github):
    _busy(github)
    r = run(github, "policies/futures-book.yaml", "-o", "json")
    body = json.loads(r.stdout)
    assert body["paths"] == ["policies/futures-book.yaml"] and body["files"] == ["policies/futures-book.yaml"]
    assert [o["number"] for o in body["overlaps"]] == [8]


def test_every_page_is_read_through_the_link_header(github):
    github.max_per_page = 2
    github.pulls = [pull(n, f"change {n}", f"user{n}") for n in range(1, 8)]  # 4 pages of 2
    github.files = {n: [changed(f"docs/{n}.md")] for n in range(1, 7)}
    github.files[7] = [changed(f"policies/p{k}.yaml") for k in range(5)]  # 3 pages of 2
    github.files[1] = [changed("docs/a.md"), changed("docs/b.md"), changed("policies/p4.yaml")]  # on page 2
    github.files[6] = [changed("policies/p0.yaml")]
    r = run(github, ".", "-o", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["files"] == [f"policies/p{k}.yaml" for k in range(5)]
    assert body["open_checked"] == 6
    assert [(o["number"], o["files"]) for o in body["overlaps"]] == [(1, ["policies/p4.yaml"]),
                                                                    (6, ["policies/p0.yaml"])]
    pulls_pages = [p for p, _ in github.seen if p.startswith(f"/repos/{REPO}/pulls?")]
    assert len(pulls_pages) == 4 and all("per_page=100" in p for p in pulls_pages)
    assert sum(p.startswith(f"/repos/{REPO}/pulls/7/files") for p, _ in github.seen) == 3


def test_without_a_token_it_says_it_did_not_look_and_exits_0(github):
    _busy(github)
    for token in (None, ""):
        r = run(github, "policies/", token=token)
        assert r.exit_code == 0
        assert r.stdout == "no token: other pull requests not checked (GITHUB_TOKEN is not set)\n"
    r = run(github, "policies/", "-o", "json", token=None)
    body = json.loads(r.stdout)
    assert (body["checked"], body["reason"], body["overlaps"]) == (False, "NO_TOKEN", [])
    r = run(github, "policies/", "-o", "markdown", "--token-env", "POLICY_BOT_TOKEN", token=None)
    assert "_no token: other pull requests not checked (POLICY_BOT_TOKEN is not set)_" in r.stdout
    assert github.seen == [], "nothing is asked without a token"


def test_a_rate_limit_is_said_with_githubs_message_and_exits_1(github):
    _busy(github)
    github.fail[f"/repos/{REPO}/pulls"] = (403, {
        "message": "API rate limit exceeded for installation ID 133.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
        {"x-ratelimit-limit": "1000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1772456400"})
    r = run(github, "policies/", "-o", "markdown")
    assert r.exit_code == 1
    assert ("_other pull requests not checked: GITHUB_ERROR: HTTP 403 to GET /repos/octocat/risk-policies/pulls?"
            "state=open&per_page=100: API rate limit exceeded for installation ID 133. (rate limit; it resets at "
            "2026-03-02T13:00:00Z)_") in r.stdout
    assert "ksctl pr overlaps: GITHUB_ERROR: HTTP 403" in r.stderr
    body = json.loads(run(github, "policies/", "-o", "json").stdout)
    assert (body["checked"], body["reason"], body["status"]) == (False, "GITHUB_ERROR", 403)


def test_a_repository_github_does_not_know_is_its_404(github):
    r = CliRunner(env={"GITHUB_TOKEN": TOKEN}).invoke(cli, ["pr", "overlaps", "--repo", "octocat/nope", "--pr", "7",
                                                            "--api-url", github.url, "policies/"])
    assert r.exit_code == 1
    assert r.stdout.startswith("other pull requests not checked: GITHUB_ERROR: HTTP 404 to GET "
                               "/repos/octocat/nope/pulls/7/files?per_page=100: Not Found")


def test_a_pull_request_without_policy_documents_compares_nothing(github):
    _busy(github)
    github.files[7] = [changed("README.md")]
    r = run(github, "policies/")
    assert r.exit_code == 0
    assert r.stdout == "pull request #7 changes no policy document under policies: no other pull request to compare\n"
    assert [p for p, _ in github.seen] == [f"/repos/{REPO}/pulls/7/files?per_page=100"]


def test_none_overlapping_is_said_with_how_many_were_checked(github):
    _busy(github)
    github.files[7] = [changed("policies/position-watch.yaml")]
    r = run(github, "policies/", "-o", "markdown")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[2] == ("No other open pull request changes the policy documents of #7 "
                                        "(3 other open pull requests checked).")


def test_an_api_that_does_not_answer_is_exit_5():
    r = CliRunner(env={"GITHUB_TOKEN": TOKEN}).invoke(
        cli, ["pr", "overlaps", "--repo", REPO, "--pr", "7", "--api-url", "http://127.0.0.1:9", "policies/"])
    assert r.exit_code == 5
    assert r.stdout.startswith("other pull requests not checked: UNREACHABLE: cannot reach http://127.0.0.1:9")


def test_a_next_page_on_another_host_is_not_followed_with_the_token(github):
    github.pulls = [pull(7, "mine", "alice")]
    github.files = {7: [changed("policies/futures-book.yaml")]}
    github.fail[f"/repos/{REPO}/pulls"] = (200, [], {"Link": '<https://evil.example/steal?page=2>; rel="next"'})
    r = run(github, "policies/")
    assert r.exit_code == 1
    assert "the next page is on another host (evil.example): not followed with the token" in r.stdout


@pytest.mark.parametrize("args, says", [
    (("--repo", "not a repo"), "'not a repo' is not OWNER/NAME"),
    (("--repo", REPO, "--api-url", "ftp://example.com"), "is not an http(s) URL"),
])
def test_bad_options_are_usage_errors(args, says):
    r = CliRunner().invoke(cli, ["pr", "overlaps", "--pr", "7", *args, "policies/"])
    assert r.exit_code == 2 and says in r.output


def test_a_path_outside_the_repository_is_a_usage_error(tmp_path):
    r = CliRunner(env={"GITHUB_TOKEN": None}).invoke(cli, ["pr", "overlaps", "--repo", REPO, "--pr", "7",
                                                           str(tmp_path)])
    assert r.exit_code == 2 and "is outside the repository" in r.output


def test_the_link_header_is_read_as_github_writes_it():
    header = ('<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", '
              '<https://api.github.com/repositories/1300192/issues?page=4>; rel="next", '
              '<https://api.github.com/repositories/1300192/issues?page=515>; rel="last", '
              '<https://api.github.com/repositories/1300192/issues?page=1>; rel="first"')
    assert next_link(header) == "https://api.github.com/repositories/1300192/issues?page=4"
    assert next_link(header.replace('rel="next"', 'rel="other"')) is None
    assert next_link(None) is None
