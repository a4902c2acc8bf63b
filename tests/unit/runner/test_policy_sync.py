"""The runner's policy sync as values (runner/sync/): documents named under their root with the
SHA-256 ``sha256sum`` gives of the file, the tracker's states (in sync, handed and compiling, a
failed reload keeping the last good graph) and a drift verdict read strictly, naming its field."""

from __future__ import annotations

import hashlib

import pytest

from killswitch.runner.sync.tracker import PolicySync, StartSources
from killswitch.sources import read_sources
from killswitch.view.policy_sync import VerdictError, document_path, stored_verdict, verdict_doc, verdict_of

GOOD = {"state": "behind", "against": "origin/main:policies/", "expected_revision": "b" * 40,
        "detail": "runs a1b2c3d, origin/main is at bbbbbbb (2 commits behind)", "documents": ["futures-book.yaml"],
        "checked_ms": 1_700_000_000_000}


def test_a_document_is_named_under_its_root_and_hashed_as_sha256sum_hashes_the_file(tmp_path):
    root = tmp_path / "policies"
    (root / "desk").mkdir(parents=True)
    (root / "desk" / "book.yaml").write_bytes("# café\nkind: Policy\n".encode())
    single = tmp_path / "routes.yaml"
    single.write_bytes(b"kind: NotificationRoutes\r\n")  # CRLF kept as read
    src = read_sources([str(root), str(single)])
    sync = PolicySync((str(root), str(single)), "d1", "r1", 0, src.files)
    docs = {d.path: d.sha256 for d in sync.documents}
    assert docs == {"desk/book.yaml": hashlib.sha256((root / "desk" / "book.yaml").read_bytes()).hexdigest(),
                    "routes.yaml": hashlib.sha256(single.read_bytes()).hexdigest()}
    assert [d.path for d in sync.documents] == sorted(docs)


@pytest.mark.parametrize("file, roots, expected", [
    ("policies/a/b.yaml", ("policies",), "a/b.yaml"),
    ("policies/a/b.yaml", ("policies/",), "a/b.yaml"),
    ("/x/accounts.yaml", ("/x/accounts.yaml",), "accounts.yaml"),
    ("/elsewhere/old.yaml", ("policies",), "old.yaml"),  # a bundle read from another checkout
])
def test_document_paths(file, roots, expected):
    assert document_path(file, roots) == expected


def test_a_reload_compiling_then_taken_up_is_handed_then_in_sync():
    sync = PolicySync(("p",), "d1", "rev1", 1_000, [("p/a.yaml", "a: 1\n")])
    assert sync.status().in_sync_with_files and sync.status().handed is None
    sync.handed([("p/a.yaml", "a: 2\n")], "rev1-dirty", 2_000)  # read, still compiling
    st = sync.status()
    assert not st.in_sync_with_files and st.since_ms == 2_000 and st.reload_error is None
    assert st.handed is not None and st.handed.revision == "rev1-dirty" and st.handed.seen_ms == 2_000
    assert st.handed.documents[0].sha256 == hashlib.sha256(b"a: 2\n").hexdigest()
    sync.took("d2", "rev1-dirty", [("p/a.yaml", "a: 2\n")], 3_000)
    st = sync.status()
    assert st.in_sync_with_files and st.handed is None and st.since_ms is None
    assert (st.running.digest, st.running.revision, st.running.loaded_ms) == ("d2", "rev1-dirty", 3_000)


def test_a_failed_reload_keeps_the_last_good_graph_and_is_not_in_sync_with_its_error():
    sync = PolicySync(("p",), "d1", "rev1", 1_000, [("p/a.yaml", "a: 1\n")])
    sync.handed([("p/a.yaml", "a: [\n")], "rev2", 2_000)
    sync.refused("p/a.yaml:1:4: error[KS002]: bad YAML (1 error(s))", 2_100, [("p/a.yaml", "a: [\n")], "rev2")
    sync.refused("p/a.yaml:1:4: error[KS002]: bad YAML (1 error(s))", 9_000, [("p/a.yaml", "a: [\n")], "rev2")
    st = sync.status()
    assert not st.in_sync_with_files and st.since_ms == 2_000  # since the first time, not the latest failure
    assert st.reload_error.startswith("p/a.yaml:1:4: error[KS002]")
    assert st.running.digest == "d1" and st.handed.revision == "rev2" and st.handed.seen_ms == 2_000
    # the same files failing again (a SIGHUP): no handed documents, still not in sync
    same = PolicySync(("p",), "d1", "rev1", 1_000, [("p/a.yaml", "a: 1\n")])
    same.refused("internal error", 5_000, [("p/a.yaml", "a: 1\n")], "rev1")
    assert same.status().handed is None and not same.status().in_sync_with_files
    assert same.status().since_ms == 5_000


def test_a_start_on_the_last_good_bundle_is_not_in_sync_with_the_files_it_read():
    sources = StartSources(("p",), (("p/a.yaml", "a: 1\n"),), (("p/a.yaml", "a: [\n"),), "rev2")
    st = PolicySync.at_start("d1", "rev1", sources, 1_000, "p/a.yaml:1:4: error[KS002]: bad").status()
    assert not st.in_sync_with_files and st.handed.revision == "rev2" and st.since_ms == 1_000
    assert PolicySync.at_start("d1", "rev1", None, 1_000, None).status().in_sync_with_files


def test_a_verdict_is_read_with_its_poster_and_round_trips_through_the_store_form():
    v = verdict_of(GOOD, "drift-bot")
    assert (v.state, v.by, v.documents, v.checked_ms) == \
        ("behind", "drift-bot", ("futures-book.yaml",), GOOD["checked_ms"])
    assert stored_verdict(verdict_doc(v)) == v
    assert verdict_of({**GOOD, "expected_revision": None, "detail": ""}, "x").expected_revision is None


@pytest.mark.parametrize("body, field", [
    ({k: v for k, v in GOOD.items() if k != "state"}, "state"),
    ({k: v for k, v in GOOD.items() if k != "checked_ms"}, "checked_ms"),
    ({**GOOD, "state": "synced"}, "state"),
    ({**GOOD, "state": None}, "state"),
    ({**GOOD, "by": "someone-else"}, "by"),  # the poster is the caller, never a field
    ({**GOOD, "documents": "futures-book.yaml"}, "documents"),
    ({**GOOD, "documents": ["ok.yaml", 3]}, "documents[1]"),
    ({**GOOD, "checked_ms": -1}, "checked_ms"),
    ({**GOOD, "checked_ms": 1.5}, "checked_ms"),
    ({**GOOD, "checked_ms": True}, "checked_ms"),
    ({**GOOD, "against": ""}, "against"),
    ({**GOOD, "detail": "two\nlines"}, "detail"),
    ({**GOOD, "expected_revision": 7}, "expected_revision"),
])
def test_a_bad_verdict_names_its_field(body, field):
    with pytest.raises(VerdictError) as e:
        verdict_of(body, "drift-bot")
    assert e.value.field == field and f'"{field}"' in str(e.value)


def test_a_reload_started_and_not_read_yet_is_not_in_sync_until_its_sources_are_read():
    sync = PolicySync(("p",), "d1", "rev1", 1_000, [("p/a.yaml", "a: 1\n")])
    sync.pending(1_500)  # a file's modification time changed: a reload started
    st = sync.status()
    assert not st.in_sync_with_files and st.handed is None and st.since_ms == 1_500
    sync.handed([("p/a.yaml", "a: 1\n")], "rev1", 1_600)  # read: what runs after all (touched, not changed)
    assert sync.status().in_sync_with_files and sync.status().since_ms is None


def test_ksctl_status_says_in_sync_or_what_was_not_taken_up_and_the_verdict():
    from killswitch.render.policy_sync import policy_sync_lines

    sync = PolicySync(("p",), "d1", "0123456789abcdef" * 2 + "01234567", 1_000, [("p/a.yaml", "a: 1\n")])
    assert policy_sync_lines(sync.status(), 2_000) == ["policies: rev 0123456789ab in sync with its files"]
    sync.refused("p/a.yaml:1:4: error[KS002]: bad YAML (1 error(s))", 1_772_456_400_000, [("p/a.yaml", "a: [")])
    sync.record(verdict_of(GOOD, "drift-bot"))
    lines = policy_sync_lines(sync.status(), GOOD["checked_ms"] + 240_000)
    assert lines[0] == ("policies: rev 0123456789ab: files changed at 2026-03-02T13:00:00Z, not taken up: "
                        "p/a.yaml:1:4: error[KS002]: bad YAML (1 error(s))")
    assert lines[1].startswith("drift: BEHIND against origin/main:policies/ (expects bbbbbbbbbbbb) "
                               "[futures-book.yaml]: runs a1b2c3d") and lines[1].endswith("by drift-bot")
    assert policy_sync_lines(None, 0) == []  # an older runner says nothing of it


def test_the_firm_strip_badges_each_shard_and_warns_when_their_revisions_differ():
    from killswitch.face.console.firm_strip import firm_strip

    def row(shard: str, policy):
        return {"shard": shard, "state": "SHARD_LIVE", "reachable": True, "policy": policy}

    sync = PolicySync(("p",), "d1", "a" * 40, 0, [("p/a.yaml", "a: 1\n")])
    doc = {"shards": [row("desk-a", sync.summary()),
                      row("desk-b", {**sync.summary(), "revision": "b" * 40, "verdict": "behind"}),
                      row("desk-c", None)],  # an older runner publishes none: no badge
           "firm": {"state": "FIRM_EVALUATING"}, "summary": {"line": ""}}
    strip = firm_strip(doc, lambda ms: None)
    a, b, c = strip["shards"]
    assert a["policy"] == {"tone": "ok", "words": "files in sync", "revision": "a" * 12}
    assert b["policy"] == {"tone": "warn", "words": "BEHIND", "revision": "b" * 12}
    assert c["policy"] is None
    assert strip["revisions"] == ("the shards run different policy revisions: aaaaaaaaaaaa on desk-a; "
                                  "bbbbbbbbbbbb on desk-b")
    sync.refused("broken", 5, [("p/a.yaml", "a: [")])
    doc["shards"] = [row("desk-a", sync.summary()), row("desk-b", sync.summary())]
    strip = firm_strip(doc, lambda ms: None)
    assert strip["shards"][0]["policy"]["words"] == "FILES NOT TAKEN UP" and strip["revisions"] is None
