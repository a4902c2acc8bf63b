"""``ksctl drift`` against a real git repository made here (two commits of a policy folder whose
names hold a space and non-ASCII letters) and fake runners on 127.0.0.1 whose ``policy_sync`` is
computed from real files: in sync, behind, diverged, reload failing, not heard, old API,
replicas that disagree, the firm board, --post, and what it refuses to compare."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.render.times import iso
from tests.cli.drift_fakes import Fake, FakeRunners, documents, policy_sync, status
from tests.procs import free_port

T1, T2 = 1_772_000_000, 1_772_086_400  # the two commits' times (seconds)
POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: {name}}}
spec:
  scope: {{level: account, accounts: {{match_labels: {{book: futures}}}}}}
  signals:
    dd: {{equity_drawdown: {{window: 1h}}}}
  triggers:
    hard: {{when: "dd >= {limit}%"}}
  stages:
    - {{level: 1, name: halt, on: [hard], actions: [{{lock_trading: {{mode: halted}}}}]}}
"""
NAMES = ("futures-book.yaml", "spot book.yaml", "sub/ünïcode-limits.yml")


def _git(repo: Path, *args: str, when: int | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    if when is not None:
        env.update(GIT_AUTHOR_DATE=f"@{when} +0000", GIT_COMMITTER_DATE=f"@{when} +0000")
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _write(folder: Path, limit: int) -> None:
    for i, name in enumerate(NAMES):
        f = folder / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(POLICY.format(name=f"p{i}", limit=limit + i), encoding="utf-8")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A repository whose policies/ changed once: commit one (limits 20), commit two (limits 30),
    and a README change after it that leaves policies/ alone."""
    root = tmp_path_factory.mktemp("drift") / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _write(root / "policies", 20)
    (root / "policies" / ".hidden.yaml").write_text("not a policy: hidden\n")
    (root / "policies" / "notes.txt").write_text("not a policy: not yaml\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "one", when=T1)
    _write(root / "policies", 30)
    _git(root, "commit", "-qam", "two", when=T2)
    (root / "README").write_text("policies live in policies/\n")
    _git(root, "add", "README")
    _git(root, "commit", "-qm", "three", when=T2 + 60)
    return {"root": root, "one": _git(root, "rev-parse", "HEAD~2"), "two": _git(root, "rev-parse", "HEAD~1"),
            "head": _git(root, "rev-parse", "HEAD")}


@pytest.fixture
def fakes():
    f = FakeRunners()
    yield f
    f.close()


def checkout(repo: dict, commit: str, dest: Path) -> Path:
    """The policy folder as git holds it at ``commit``: what a runner on that commit reads."""
    dest.mkdir(parents=True)
    data = subprocess.run(["git", "archive", "--format=tar", f"{commit}:policies"], cwd=repo["root"],
                          check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=data, check=True)
    return dest


def drift(repo: dict, *args: str, env: dict | None = None):
    old = os.getcwd()
    os.chdir(repo["root"])
    try:
        return CliRunner(env=env or {}).invoke(cli, ["drift", *args])
    finally:
        os.chdir(old)


def test_a_runner_on_the_newest_revision_is_in_sync(repo, fakes, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    r = fakes.add(Fake(status(policy_sync(files, repo["head"]), holder="ks-0")))
    out = drift(repo, "--against", "main:policies/", "--api", r.url)
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith(f"IN SYNC        {r.url}  ks-0  runs the documents of main:policies/")
    assert f"in sync: 1 runner (1 in sync); against main:policies/ at {repo['head'][:12]} (3 documents)" in out.stdout


def test_runners_over_mutual_tls_are_read_and_sent_their_verdict_with_a_client_certificate(repo, fakes, tmp_path):
    from tests.tls_certs import Ca

    ca = Ca(tmp_path, "desk")
    server, client = ca.server(), ca.issue("drift", "drift-checker")
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(server.cert, server.key)
    served.load_verify_locations(ca.path)
    served.verify_mode = ssl.CERT_REQUIRED
    files = checkout(repo, repo["one"], tmp_path / "running")
    r = fakes.add(Fake(status(policy_sync(files, repo["one"])), tls=served))
    assert r.url.startswith("https://")
    tls = ["--ca-file", str(ca.path), "--cert-file", str(client.cert), "--key-file", str(client.key)]
    out = drift(repo, "--against", "main:policies/", "--api", r.url, "--post", *tls)  # no token: the certificate
    assert out.exit_code == 1 and out.stdout.startswith(f"BEHIND         {r.url}"), out.output
    assert [p["state"] for p in r.posts] == ["behind"] and r.auth == [None, None]
    out = drift(repo, "--against", "main:policies/", "--api", r.url, "--ca-file", str(ca.path))  # no certificate
    assert out.exit_code == 5 and "NOT HEARD" in out.stdout, out.output
    out = drift(repo, "--against", "main:policies/", "--api", r.url.replace("https", "http"), *tls)
    assert out.exit_code == 2 and "are for an https runner" in out.output


def test_the_expected_documents_are_every_policy_file_by_path_and_sha256(repo, fakes, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    r = fakes.add(Fake(status(policy_sync(files, repo["head"]))))
    out = drift(repo, "--against", "main:policies/", "--api", r.url, "-o", "json")
    doc = json.loads(out.stdout)
    assert doc["format_version"] == 1 and doc["expected"]["revision"] == repo["head"]
    sums = {}
    for name in NAMES:  # sha256sum of the checkout's files: hidden files and non-YAML left out
        line = subprocess.run(["sha256sum", name], cwd=repo["root"] / "policies", capture_output=True,
                              text=True, check=True).stdout
        sums[name] = line.split()[0]
    assert {d["path"]: d["sha256"] for d in doc["expected"]["documents"]} == sums
    assert doc["runners"][0]["state"] == "in_sync" and doc["drift"] is False


def test_a_runner_on_the_older_revision_is_behind_since_the_newer_commit(repo, fakes, tmp_path):
    files = checkout(repo, repo["one"], tmp_path / "running")
    named = fakes.add(Fake(status(policy_sync(files, repo["one"]))))
    unnamed = fakes.add(Fake(status(policy_sync(files, None))))  # its revision not known: the history is searched
    out = drift(repo, "--against", "main:policies/", "--api", named.url, "--api", unnamed.url, "-o", "json")
    assert out.exit_code == 1, out.output
    for runner in json.loads(out.stdout)["runners"]:
        assert runner["state"] == "behind"
        assert runner["behind_revision"] == repo["one"] and runner["behind_commits"] == 1
        assert runner["since_ms"] == T2 * 1000 and runner["since_ts"] == iso(T2 * 1000)
        assert {d["path"] for d in runner["documents"]} == set(NAMES)
    text = drift(repo, "--against", "main:policies/", "--api", named.url).stdout
    assert (f"BEHIND         {named.url}  runs {repo['one'][:12]}, 1 commit that changed the policies behind "
            f"main:policies/, since {iso(T2 * 1000)}") in text


def test_a_hand_edit_is_diverged_and_names_the_document(repo, fakes, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    edited = files / "sub" / "ünïcode-limits.yml"
    edited.write_text(edited.read_text(encoding="utf-8").replace("32%", "90%"), encoding="utf-8")
    (files / "extra one.yaml").write_text(POLICY.format(name="extra", limit=5), encoding="utf-8")
    r = fakes.add(Fake(status(policy_sync(files, repo["head"] + "-dirty"))))
    out = drift(repo, "--against", "main:policies/", "--api", r.url, "-o", "json")
    assert out.exit_code == 1, out.output
    [runner] = json.loads(out.stdout)["runners"]
    assert runner["state"] == "diverged"
    assert runner["documents"] == [{"path": "extra one.yaml", "change": "extra"},
                                   {"path": "sub/ünïcode-limits.yml", "change": "changed"}]
    assert "edited outside git" in runner["detail"] and "-dirty" in runner["detail"]
    md = drift(repo, "--against", "main:policies/", "--api", r.url, "-o", "markdown").stdout
    assert "| **DIVERGED** |" in md and "sub/ünïcode-limits.yml changed" in md and "extra one.yaml extra" in md


def test_a_failed_reload_that_kept_the_last_good_graph_is_drift(repo, fakes, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    handed = checkout(repo, repo["head"], tmp_path / "handed")
    (handed / "futures-book.yaml").write_text("apiVersion: [\n", encoding="utf-8")
    error = "futures-book.yaml:1:14: error[KS002] unexpected end of the flow sequence"
    r = fakes.add(Fake(status(policy_sync(files, repo["head"], reload_error=error, failed_ms=T2 * 1000 + 5000,
                                          handed=handed))))
    out = drift(repo, "--against", "main:policies/", "--api", r.url)
    assert out.exit_code == 1, out.output
    assert out.stdout.startswith(f"RELOAD FAILING {r.url}  reload failing since {iso(T2 * 1000 + 5000)}: the reload "
                                 f"failed: {error}; meanwhile it runs the documents of main:policies/")
    doc = json.loads(drift(repo, "--against", "main:policies/", "--api", r.url, "-o", "json").stdout)
    assert doc["runners"][0]["runs"] == "in_sync" and doc["runners"][0]["reload_error"] == error


def test_a_runner_not_heard_is_exit_5_and_the_others_are_still_said(repo, fakes, tmp_path):
    files = checkout(repo, repo["one"], tmp_path / "running")
    r = fakes.add(Fake(status(policy_sync(files, repo["one"]))))
    port = free_port()
    out = drift(repo, "--against", "main:policies/", "--api", r.url, "--api", f"http://127.0.0.1:{port}")
    assert out.exit_code == 5, out.output
    assert f"NOT HEARD      http://127.0.0.1:{port}  not heard: cannot reach the runner at " in out.stdout
    assert f"BEHIND         {r.url}" in out.stdout
    assert "drift: 2 of 2 runners (1 behind, 1 not heard)" in out.stdout


def test_a_runner_that_does_not_answer_is_not_waited_on_past_the_timeout(repo, fakes, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    quick = fakes.add(Fake(status(policy_sync(files, repo["head"]))))
    slow = fakes.add(Fake(status(policy_sync(files, repo["head"])), delay_s=10))
    start = time.monotonic()
    out = drift(repo, "--against", "main:policies/", "--api", quick.url, "--api", slow.url, "--timeout", "1s")
    assert time.monotonic() - start < 8, "a runner that does not answer holds the command up"
    assert out.exit_code == 5, out.output
    assert f"NOT HEARD      {slow.url}  not heard: cannot reach the runner at {slow.url}: " in out.stdout
    assert f"IN SYNC        {quick.url}" in out.stdout


def test_a_firm_board_that_cannot_be_read_is_a_problem_and_the_runners_given_are_still_read(repo, fakes, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    r = fakes.add(Fake(status(policy_sync(files, repo["head"]))))  # no board: 404 NOT_SHARDED
    out = drift(repo, "--against", "main:policies/", "--api", r.url, "--firm")
    assert out.exit_code == 1, out.output
    assert f"PROBLEM        the firm board of {r.url} was not read: the firm board: HTTP 404 NOT_SHARDED" in out.stdout
    assert f"IN SYNC        {r.url}" in out.stdout


def test_an_error_answer_is_not_heard_with_its_reason_and_exit_1(repo, fakes):
    r = fakes.add(Fake(status_code=503))
    out = drift(repo, "--against", "main:policies/", "--api", r.url)
    assert out.exit_code == 1 and "not heard: HTTP 503 refused" in out.stdout, out.output


def test_a_token_the_runner_does_not_know_is_exit_2(repo, fakes):
    r = fakes.add(Fake(status_code=401))
    out = drift(repo, "--against", "main:policies/", "--api", r.url, env={"KS_API_TOKEN": "wrong"})
    assert out.exit_code == 2 and "the token in KS_API_TOKEN is not one this runner knows" in out.stderr


def test_an_old_api_is_said_plainly_and_counted_as_drift(repo, fakes):
    r = fakes.add(Fake(status(None, revision=repo["head"])))
    out = drift(repo, "--against", "main:policies/", "--api", r.url)
    assert out.exit_code == 1, out.output
    assert f"OLD API        {r.url}  old API: its status has no policy_sync" in out.stdout


def test_replicas_on_different_graphs_disagree(repo, fakes, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    a = fakes.add(Fake(status(policy_sync(files, repo["head"]), shard="desk-a", holder="a-0",
                              digest="sha256:" + "11" * 32)))
    b = fakes.add(Fake(status(policy_sync(files, repo["head"]), shard="desk-a", holder="a-1",
                              digest="sha256:" + "22" * 32)))
    out = drift(repo, "--against", "main:policies/", "--api", a.url, "--api", b.url)
    assert out.exit_code == 1, out.output
    assert (f"DISAGREE       replicas of shard desk-a run different graphs: {a.url} sha256:{'1' * 12}, "
            f"{b.url} sha256:{'2' * 12}") in out.stdout
    assert "drift: 0 of 2 runners (2 in sync); 1 disagreement" in out.stdout


def test_shards_on_different_revisions_disagree(repo, fakes, tmp_path):
    head = checkout(repo, repo["head"], tmp_path / "head")
    a = fakes.add(Fake(status(policy_sync(head, repo["head"]), shard="desk-a", holder="a-0")))
    b = fakes.add(Fake(status(policy_sync(head, repo["two"]), shard="desk-b", holder="b-0")))
    out = drift(repo, "--against", "main:policies/", "--api", a.url, "--api", b.url, "-o", "json")
    [d] = json.loads(out.stdout)["disagreements"]
    assert d["kind"] == "shards" and d["values"] == [["desk-a", repo["head"][:12]], ["desk-b", repo["two"][:12]]]


def test_firm_reads_every_shard_of_the_board(repo, fakes, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    other = fakes.add(Fake(status(policy_sync(files, repo["head"]), shard="desk-b", holder="b-0")))
    first = fakes.add(Fake(status(policy_sync(files, repo["head"]), shard="desk-a", holder="a-0")))
    first.board = {"shards": [
        {"shard": "desk-a", "console_url": first.url + "/", "why": ""},
        {"shard": "desk-b", "console_url": other.url, "why": ""},
        {"shard": "desk-c", "console_url": None, "why": "shard desk-c was last heard 40.0s ago (bound 7.5s)",
         "console_note": "no console URL is known for shard desk-c: set spec.shards[].console"}]}
    out = drift(repo, "--against", "main:policies/", "--api", first.url, "--firm", "-o", "json")
    assert out.exit_code == 1, out.output
    runners = {r["url"]: r for r in json.loads(out.stdout)["runners"]}
    assert set(runners) == {first.url, other.url, "shard desk-c"}  # the first runner's own URL counted once
    assert runners[other.url]["state"] == "in_sync" and runners[other.url]["shard"] == "desk-b"
    c = runners["shard desk-c"]
    assert c["state"] == "not_heard" and c["code"] == "NO_CONSOLE_URL" and "last heard 40.0s ago" in c["detail"]


def test_post_sends_each_runner_its_verdict_and_a_refusal_is_said(repo, fakes, tmp_path):
    files = checkout(repo, repo["one"], tmp_path / "running")
    taker = fakes.add(Fake(status(policy_sync(files, repo["one"]))))
    refuser = fakes.add(Fake(status(policy_sync(files, repo["one"])), post_status=403))
    old = fakes.add(Fake(status(None)))
    env = {"KS_DRIFT_TOKEN": "drift-token"}
    out = drift(repo, "--against", "main:policies/", "--api", taker.url, "--api", refuser.url, "--api", old.url,
                "--post", "--token-env", "KS_DRIFT_TOKEN", env=env)
    assert out.exit_code == 1, out.output  # the refusal changes nothing: the verdict is drift
    [body] = taker.posts
    assert set(body) == {"state", "against", "expected_revision", "detail", "documents", "checked_ms"}
    assert body["state"] == "behind" and body["against"] == "main:policies/"
    assert body["expected_revision"] == repo["head"] and sorted(body["documents"]) == sorted(NAMES)
    assert body["detail"].startswith(f"runs {repo['one'][:12]}, 1 commit that changed the policies behind")
    assert taker.auth == ["Bearer drift-token", "Bearer drift-token"]
    assert f"posted to {taker.url}: DRIFT_RECORDED: behind" in out.stdout
    assert f"post REFUSED by {refuser.url}: ROLE_REQUIRED: 403 ROLE_REQUIRED: drift or operator" in out.stdout
    assert f"not posted to {old.url}: old api" in out.stdout and old.posts == []
    assert "drift-token" not in out.output


def test_post_without_a_token_is_a_usage_error_and_sends_nothing(repo, fakes):
    r = fakes.add(Fake(status(None)))
    out = drift(repo, "--against", "main:policies/", "--api", r.url, "--post")
    assert out.exit_code == 2 and "KS_API_TOKEN is not set" in out.output and r.auth == []


def test_a_checkout_directory_is_compared_and_its_history_searched(repo, fakes, tmp_path):
    files = checkout(repo, repo["one"], tmp_path / "running")
    r = fakes.add(Fake(status(policy_sync(files, None))))
    out = drift(repo, "--against", "policies", "--api", r.url, "-o", "json")
    [runner] = json.loads(out.stdout)["runners"]
    assert runner["state"] == "behind" and runner["behind_revision"] == repo["one"], out.output
    outside = tmp_path / "outside"
    shutil.copytree(repo["root"] / "policies", outside)  # no git: no history, a difference is diverged
    out = drift(repo, "--against", str(outside), "--api", r.url, "-o", "json")
    [runner] = json.loads(out.stdout)["runners"]
    assert runner["state"] == "diverged" and out.exit_code == 1
    same = fakes.add(Fake(status(policy_sync(outside, None))))
    assert drift(repo, "--against", str(outside), "--api", same.url).exit_code == 0


@pytest.mark.parametrize("against, said", [
    ("no-such-branch:policies/", "unknown revision 'no-such-branch'"),
    ("main:nowhere/", "nowhere/ does not exist at main"),
    ("missing-dir", "missing-dir does not exist (a directory, a policy file, or REV:PATH"),
])
def test_what_cannot_be_compared_is_a_usage_error_that_names_it(repo, fakes, against, said):
    r = fakes.add(Fake(status(None)))
    out = drift(repo, "--against", against, "--api", r.url)
    assert out.exit_code == 2 and said in out.stderr, out.output
    assert r.auth == [], "nothing is read of a runner when there is nothing to compare it with"


def test_a_path_with_no_policies_at_a_revision_is_ks007(repo, fakes, tmp_path):
    (repo["root"] / "empty").mkdir(exist_ok=True)
    (repo["root"] / "empty" / "notes.txt").write_text("no policies here\n")
    _git(repo["root"], "add", "empty")
    _git(repo["root"], "commit", "-qm", "empty folder", when=T2 + 120)
    try:
        out = drift(repo, "--against", "HEAD:empty", "--api", "http://127.0.0.1:9")
        assert out.exit_code == 2 and "KS007: no .yaml or .yml files in empty at HEAD" in out.stderr, out.output
    finally:
        _git(repo["root"], "reset", "-q", "--hard", repo["head"])


def test_documents_are_reported_as_a_checkout_hashes_them(repo, tmp_path):
    files = checkout(repo, repo["head"], tmp_path / "running")
    assert [d["path"] for d in documents(files)] == sorted(NAMES)
