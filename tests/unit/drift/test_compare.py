"""The drift comparison (killswitch/drift/compare.py) over a history handed in: what the CLI's
tests against a real repository do not reach (a commit off the expected history, a match beyond
the bound, an answer that is not the contract's, a pending reload)."""

from __future__ import annotations

import hashlib
from typing import Iterator, Optional

import pytest

from killswitch.drift.compare import (
    BEHIND,
    DIVERGED,
    IN_SYNC,
    NOT_HEARD,
    OLD_API,
    RELOAD_FAILING,
    Reading,
    Revision,
    disagreements,
    posted,
    report,
    verdict,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


V1 = {"a.yaml": sha("one"), "b.yaml": sha("b")}
V2 = {"a.yaml": sha("two"), "b.yaml": sha("b")}
V3 = {"a.yaml": sha("three"), "b.yaml": sha("b")}  # expected: the newest
SIDE = {"a.yaml": sha("side"), "b.yaml": sha("b")}  # a branch's commit, off the expected history
T = 1_772_000_000_000


class History:
    def __init__(self, revisions: list[Revision], known: Optional[dict[str, Revision]] = None, bound: int = 500):
        self.revisions, self.known, self.bound = revisions, known or {}, bound
        self.read = 0

    def newest_first(self) -> Iterator[Revision]:
        for r in self.revisions[:self.bound]:
            self.read += 1
            yield r

    def at(self, commit: str) -> Optional[Revision]:
        return self.known.get(commit) or next((r for r in self.revisions if r.commit == commit), None)


HISTORY = [Revision("c3" * 20, T + 2000, V3), Revision("c2" * 20, T + 1000, V2), Revision("c1" * 20, T, V1)]


def sync(documents: dict, revision: Optional[str] = None, **extra) -> dict:
    doc = {"running": {"revision": revision, "digest": "sha256:" + "ab" * 32, "loaded_ms": T,
                       "documents": [{"path": p, "sha256": s} for p, s in documents.items()]},
           "handed": None, "in_sync_with_files": True, "since_ms": None, "reload_error": None, "verdict": None}
    doc.update(extra)
    return doc


def read(policy_sync: Optional[dict], shard: Optional[str] = None, digest: str = "sha256:" + "ab" * 32,
         url: str = "http://r") -> Reading:
    status = {"graph_digest": digest, "shard": shard, "holder": url}
    if policy_sync is not None:
        status["policy_sync"] = policy_sync
    return Reading(url, status)


def test_behind_is_found_in_the_history_and_dated_by_the_next_commit():
    v = verdict(read(sync(V1)), V3, "main:p/", History(HISTORY))
    assert (v.state, v.behind_revision, v.behind_commits, v.since_ms) == (BEHIND, "c1" * 20, 2, T + 1000)
    assert [(c.path, c.change) for c in v.documents] == [("a.yaml", "changed")]


def test_a_runner_on_a_commit_off_the_expected_history_is_diverged_not_behind():
    history = History(HISTORY, known={"d" * 40: Revision("d" * 40, T + 500, SIDE, ancestor=False)})
    v = verdict(read(sync(SIDE, "d" * 40)), V3, "main:p/", history)
    assert v.state == DIVERGED and "a commit not in the history of main:p/" in v.detail


def test_a_known_ancestor_beyond_the_bound_is_behind_without_a_time():
    history = History(HISTORY, bound=1)  # only the newest is searched
    v = verdict(read(sync(V1, "c1" * 20)), V3, "main:p/", history)
    assert (v.state, v.behind_revision, v.since_ms) == (BEHIND, "c1" * 20, None)
    assert "more than 1 commits" in v.detail and history.read == 1


def test_nothing_matching_within_the_bound_is_diverged_and_the_search_stops_there():
    history = History(HISTORY, bound=2)
    v = verdict(read(sync(V1)), V3, "main:p/", history)
    assert v.state == DIVERGED and "no revision of the last 2 matches" in v.detail and history.read == 2


def test_files_equal_to_the_expected_ones_are_in_sync_whatever_the_revision_says():
    v = verdict(read(sync(V3, "e" * 40 + "-dirty")), V3, "main:p/", History(HISTORY))
    assert v.state == IN_SYNC and "files outside the policies changed" in v.detail


def test_a_pending_reload_is_reload_failing_and_says_what_runs_meanwhile():
    v = verdict(read(sync(V2, since_ms=T + 3000, in_sync_with_files=False)), V3, "main:p/", History(HISTORY))
    assert v.state == RELOAD_FAILING and v.runs == BEHIND and v.since_ms == T + 3000
    assert "a reload is pending" in v.detail and "meanwhile it runs c2c2c2c2c2c2" in v.detail


@pytest.mark.parametrize("bad, said", [
    ({"running": []}, "policy_sync.running is not an object"),
    ({"running": {"documents": [{"path": "a.yaml", "sha256": "short"}]}, "in_sync_with_files": True},
     "running.documents[0].sha256 is not a sha256"),
    ({"running": {"documents": []}, "in_sync_with_files": "yes"}, "in_sync_with_files is not true or false"),
    ({"running": {"documents": [], "loaded_ms": True}, "in_sync_with_files": True},
     "running.loaded_ms is not an integer"),
])
def test_an_answer_that_is_not_the_contracts_is_not_heard_naming_the_field(bad, said):
    v = verdict(read(bad), V3, "main:p/", None)
    assert v.state == NOT_HEARD and v.code == "BAD_ANSWER" and said in v.detail


def test_without_a_history_a_difference_is_diverged():
    v = verdict(read(sync(V1)), V3, "dir/", None)
    assert v.state == DIVERGED and v.detail == "differs from dir/: a.yaml changed"


def test_only_a_verdict_a_runner_can_take_is_posted():
    r = report([read(sync(V3)), read(None, url="http://old"), Reading("http://gone", code="UNREACHABLE")], V3,
               "main:p/", "c3" * 20, History(HISTORY), T + 9000)
    assert [v.state for v in r.verdicts] == [IN_SYNC, OLD_API, NOT_HEARD]
    assert posted(r.verdicts[0], r) == {"state": IN_SYNC, "against": "main:p/", "expected_revision": "c3" * 20,
                                        "detail": "runs the documents of main:p/", "documents": [],
                                        "checked_ms": T + 9000}
    assert posted(r.verdicts[1], r) is None and posted(r.verdicts[2], r) is None


def test_unsharded_runners_on_different_graphs_disagree_and_runners_not_heard_say_nothing():
    vs = [verdict(read(sync(V3), digest="sha256:" + "11" * 32, url="http://a"), V3, "m", None),
          verdict(read(sync(V3), digest="sha256:" + "22" * 32, url="http://b"), V3, "m", None),
          verdict(Reading("http://c", code="UNREACHABLE"), V3, "m", None)]
    [d] = disagreements(vs)
    assert d.kind == "replicas" and d.shard is None and [u for u, _ in d.values] == ["http://a", "http://b"]
    assert d.detail.startswith("unsharded runners run different graphs")


def test_a_posted_verdict_is_one_line_a_runner_takes():
    error = "policies/a.yaml:3:1: error[KS002] bad\n  hint: " + "x" * 3000
    r = report([read(sync(V3, in_sync_with_files=False, reload_error=error, since_ms=T))], V3, "main:p/", None, None, T)
    body = posted(r.verdicts[0], r)
    assert body is not None and body["state"] == RELOAD_FAILING
    assert "\n" not in body["detail"] and len(body["detail"]) == 2000 and body["detail"].endswith("…")
