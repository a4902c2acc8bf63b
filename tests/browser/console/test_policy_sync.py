"""The console's policy sync badges in a real browser (headless chromium, selenium) against a
runner on the simulated exchange: beside the graph's digest and revision, "in sync with its
files"; a reload that failed and kept the last good graph, FILES NOT TAKEN UP with its error;
the drift checker's verdict (BEHIND rev X, DIVERGED: documents, a standing problem naming
``ksctl drift``; in sync with origin/main:policies/ checked N ago). Screenshots at 1366 px."""

from __future__ import annotations

from killswitch.runner.tick.reload import GraphReload
from killswitch.view.policy_sync import verdict_of

from ..conftest import VERA
from ..views import open_console, sign_in, text_of, wait
from .test_health import open_problems

BROKEN = "console.yaml:3:1: error[KS002]: bad YAML: could not find expected ':' (1 error(s))"


def _verdict(state: str, **more):
    return verdict_of({"state": state, "against": "origin/main:policies/", "expected_revision": "f00dfeed" * 5,
                       "detail": f"{state} as the checker saw it", "documents": [], "checked_ms": 0, **more},
                      "drift-bot")


def test_the_badges_say_in_sync_files_not_taken_up_and_the_checkers_verdict(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")
    wait(browser, lambda b: "in sync with its files" in text_of(b, "#policy-sync"), "the files badge")
    assert "no drift verdict posted" in text_of(browser, "#policy-sync")

    # a hand edit that does not compile: the last good graph runs on, the badge says so with the error
    outcome = r.call(r.runner.apply_graph(GraphReload(None, BROKEN, 1, files=(("console.yaml", "broken: ["),),
                                                      revision="0123456789abcdef0123-dirty")))
    assert not outcome.applied
    wait(browser, lambda b: "FILES NOT TAKEN UP" in text_of(b, "#sync-files"), "the reload failure's badge")
    text = text_of(browser, "#policy-sync")
    assert BROKEN in text and "handed rev 0123456789ab-dirty" in text, text
    assert "sync-bad" in browser.find_element("id", "sync-files").get_attribute("class")

    checked = r.clock() - 240_000  # four minutes before the runner's time
    r.call(r.desk.record_drift(_verdict("behind", checked_ms=checked)))
    wait(browser, lambda b: "BEHIND rev f00dfeedf00d" in text_of(b, "#sync-verdict"), "the verdict's badge")
    assert "checked 4m" in text_of(browser, "#policy-sync") and "by drift-bot" in text_of(browser, "#policy-sync")
    shot("console-policy-files-not-taken-up-behind")
    browser.execute_script("document.getElementById('runner').scrollIntoView()")
    shot("console-policy-badges-window", full=False)  # the badges as the window shows them

    r.call(r.desk.record_drift(_verdict("diverged", checked_ms=checked, documents=["console.yaml"])))
    wait(browser, lambda b: "DIVERGED: console.yaml" in text_of(b, "#sync-verdict"), "diverged")
    wait(browser, lambda b: b.find_elements("id", "problem-drift"), "the standing problem")
    open_problems(browser)
    problem = text_of(browser, "#problem-drift")
    assert "POLICY DRIFT" in problem and "ksctl drift --against origin/main:policies/" in problem, problem
    shot("console-policy-diverged")

    # the files fixed and taken up, the checker satisfied: calm badges, no standing problem
    graph = r.parts.book.graph
    assert r.call(r.runner.apply_graph(GraphReload(graph, files=(("console.yaml", "fixed"),),
                                                   revision="fedcba9876543210fedc"))).applied
    r.call(r.desk.record_drift(_verdict("in_sync", checked_ms=checked)))
    wait(browser, lambda b: "in sync with origin/main:policies/" in text_of(b, "#sync-verdict"), "in sync")
    assert "in sync with its files" in text_of(browser, "#sync-files")
    assert not browser.find_elements("id", "problem-drift")
    shot("console-policy-in-sync")
