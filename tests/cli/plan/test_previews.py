"""`ksctl plan`: Terraform-style previews over a recording and live against the simulated exchange;
accounts that cannot be read (refused, timed out, unavailable, failed in a recording) make the plan
incomplete, named in every format, and its exit code non-zero unless allowed."""

import asyncio
import contextlib
import json
import threading
import time

import pytest
from click.testing import CliRunner

from adapters.simulated.engine import ManualClock
from adapters.simulated.faults import FaultPlan
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from killswitch.cli.main import cli
from killswitch.cli.plan import EXIT_CHANGES, EXIT_ERROR, EXIT_INCOMPLETE, EXIT_NO_CHANGES, exit_code
from tests.conftest import POLICIES, ROOT
from tests.recordings import failing_recording

RECORDING = POLICIES / "recordings" / "futures-crash.jsonl"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plan_over_a_crash_lists_every_change_and_exits_2_with_detailed_exitcode():
    r = run("plan", "--policies", str(POLICIES), "--against", str(RECORDING), "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert "# futures-book binanceusdm/binance-futures-main: stage 2 → 3 flatten" in r.output
    assert "~ #1 cancel binanceusdm/binance-futures-main entries: 1 order(s)" in r.output  # sent first
    assert "? suggest buy SOL" in r.output
    assert r.output.rstrip().endswith("Nothing was sent.")
    assert "Plan: 5 stage change(s), 36 order(s)" in r.output


def test_plan_without_detailed_exitcode_exits_0_even_with_changes():
    assert run("plan", "--policies", str(POLICIES), "--against", str(RECORDING)).exit_code == 0


def test_a_calm_recording_plans_nothing(tmp_path):
    # an hour of calm: futures-book's windows fill after 48 minutes (its warm-up, said), then calm
    calm = tmp_path / "calm.jsonl"
    calm.write_text("".join(RECORDING.read_text().splitlines(keepends=True)[:60]))
    r = run("plan", "--policies", str(POLICIES), "--against", str(calm), "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output
    assert ("~ futures-book binanceusdm/binance-futures-main: warm-up: triggers hard, harder, soft could not be "
            "evaluated for the first 48 min of the recording (INSUFFICIENT_HISTORY)") in r.output


def test_a_recording_too_short_to_fill_the_windows_is_incomplete_never_no_changes(tmp_path):
    short = tmp_path / "short.jsonl"
    short.write_text("".join(RECORDING.read_text().splitlines(keepends=True)[:40]))
    for extra in ((), ("--detailed-exitcode",)):
        r = run("plan", "--policies", str(POLICIES), "--against", str(short), *extra)
        assert r.exit_code == EXIT_ERROR, r.output
        assert "No changes" not in r.output and "would do nothing" not in r.output
        assert ("! futures-book binanceusdm/binance-futures-main: INSUFFICIENT_HISTORY: triggers hard, harder, soft "
                "cannot be evaluated (40 ticks") in r.output
        assert "Incomplete plan: 1 policy scope could not be evaluated" in r.output
    r = run("plan", "--policies", str(POLICIES), "--against", str(short), "--allow-incomplete", "--detailed-exitcode")
    assert r.exit_code == EXIT_INCOMPLETE, r.output


def test_plan_json_is_versioned_and_summarised():
    r = run("plan", "--policies", str(POLICIES), "--against", str(RECORDING), "-o", "json")
    body = json.loads(r.output)
    assert body["format_version"] == 1 and body["source"]["kind"] == "file" and body["source"]["ticks"] == 100
    assert body["summary"]["changes"] == 5 and body["summary"]["orders"] == 36
    assert all(o["reduce_only"] for c in body["changes"] for o in c["orders"])


AT_THE_BOUNDS = {  # futures-book's conditions rewritten to the same meaning at the parser's bounds
    "dd_15m >= 4.5% || dd_1h >= 7%": "(" * 32 + "dd_15m >= 4.5% || dd_1h >= 7%" + ")" * 32,  # 32 levels
    "dd_15m >= 7% || dd_1h >= 10%": "!" * 30 + "(dd_15m >= 7% || dd_1h >= 10%)",  # 31 levels, an even run of !
    "dd_15m >= 10% || dd_1h >= 14%": " || ".join(["dd_15m >= 10% || dd_1h >= 14%"] * 64),  # 256 operands
}


def test_conditions_at_the_bounds_plan_what_the_plain_ones_plan(tmp_path):
    """Compiled, evaluated on every tick of a recording, digested and rendered: no part of the
    way from a condition to a plan breaks on the deepest and longest conditions a policy may have."""
    import shutil

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    book = policies / "futures-book.yaml"
    text = book.read_text()
    for plain, grown in AT_THE_BOUNDS.items():
        assert f"when: {plain}\n" in text
        text = text.replace(f"when: {plain}\n", f"when: '{grown}'\n")
    book.write_text(text)
    assert run("validate", "--strict", "--runbooks", str(ROOT / "runbooks"), str(policies)).exit_code == 0
    plain = run("plan", "--policies", str(POLICIES), "--against", str(RECORDING))
    grown = run("plan", "--policies", str(policies), "--against", str(RECORDING))
    assert grown.exit_code == plain.exit_code == 0, grown.output
    assert "Plan: 5 stage change(s), 36 order(s)" in grown.output
    assert grown.output.splitlines()[1:] == plain.output.splitlines()[1:]  # all but the digest and revision
    assert json.loads(run("plan", "--policies", str(policies), "--against", str(RECORDING), "-o", "json").output)[
        "summary"]["changes"] == 5
    assert run("graph", str(policies)).exit_code == 0


def test_plan_needs_accounts_or_a_recording():
    assert CliRunner().invoke(cli, ["plan", "--policies", str(POLICIES)]).exit_code == 2


def test_a_bad_recording_line_is_an_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = CliRunner().invoke(cli, ["plan", "--policies", str(POLICIES), "--against", str(bad)])
    assert r.exit_code == 1 and "bad.jsonl:1:" in r.output


# --- live plans against the simulated exchange: accounts that cannot be read ---------------------------
#
# The simulated exchange's Binance USD-M face runs on 127.0.0.1 in a thread of its own (the plan runs
# its own event loop); a wrong secret is refused by the venue (AUTH), a fault plan makes one account
# time out or the venue answer 503. futures-book alone plans nothing on the calm scenario, so a plan
# that did not see an account would once have read "No changes." and exited 0.

FUTURES_BOOK = POLICIES / "futures-book.yaml"
GOOD = {"KS_M_KEY": "sim-main-key", "KS_M_SECRET": "sim-main-secret",
        "KS_H_KEY": "sim-hedge-key", "KS_H_SECRET": "sim-hedge-secret"}
WRONG_SECRET = "not-the-secret-7f3a9c"
# --timeout of the plans that meet a hanging venue: the other account is read within it on a loaded machine
TIMEOUT = 3.0
BUDGET_S = 60.0  # a plan that takes longer than this hangs


@contextlib.contextmanager
def sim_exchange(faults=None, depth=None):
    """The simulated exchange's HTTP face on a free loopback port; yields its base URL.
    ``depth``: every market's order book (adapters/simulated/depth.py)."""
    engine = build("calm", ManualClock(wall_clock()), faults=faults)
    engine.set_depth(depth)
    server = SimServer(engine, faults=faults, auth_clock=wall_clock, hang_s=TIMEOUT * 5)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="sim-exchange", daemon=True)
    thread.start()
    assert started.wait(20), "the simulated exchange did not start"
    try:
        yield server.base_url
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)
        loop.close()


def accounts_doc(tmp_path, url, hedge_url=None):
    f = tmp_path / "accounts.yaml"
    f.write_text(f"""\
apiVersion: killswitch/v1
kind: Accounts
metadata: {{name: plan-test}}
spec:
  dry_run: true
  accounts:
    - name: sim-main
      venue: binanceusdm
      market_type: futures
      labels: {{book: futures}}
      api_url: {url}
      credentials: {{api_key: {{env: KS_M_KEY}}, secret: {{env: KS_M_SECRET}}}}
    - name: sim-hedge
      venue: binanceusdm
      market_type: futures
      hedge_mode: true
      labels: {{book: futures}}
      api_url: {hedge_url or url}
      credentials: {{api_key: {{env: KS_H_KEY}}, secret: {{env: KS_H_SECRET}}}}
""")
    return f


def live(tmp_path, *args, env=None, faults=None, policies=FUTURES_BOOK, hedge_url=None, depth=None):
    """Run ``ksctl plan --accounts`` against the simulated exchange; the CliRunner result."""
    with sim_exchange(faults, depth) as url:
        acc = accounts_doc(tmp_path, url, hedge_url)
        started = time.monotonic()
        r = CliRunner().invoke(cli, ["plan", "--policies", str(policies), "--accounts", str(acc), *args],
                               env={**GOOD, **(env or {})}, catch_exceptions=False)
        assert time.monotonic() - started < BUDGET_S, "the plan outlived every account's timeout"
    return r


def stdout_of(r) -> str:
    return r.stdout if hasattr(r, "stdout") else r.output


def assert_never_says_no_changes(out: str) -> None:
    assert "No changes" not in out and "would do nothing" not in out, out


def armed_from_the_start(tmp_path):
    """futures-book with windows that need no history: armed at its first tick."""
    f = tmp_path / "futures-book-no-warmup.yaml"
    f.write_text(FUTURES_BOOK.read_text().replace("min_coverage: 80%", "min_coverage: 0%"))
    return f


def test_a_live_plan_without_history_lists_the_triggers_it_cannot_evaluate_and_is_incomplete(tmp_path):
    for extra in ((), ("--detailed-exitcode",)):
        r = live(tmp_path, *extra)
        assert r.exit_code == EXIT_ERROR, r.output
        out = stdout_of(r)
        assert_never_says_no_changes(out)
        assert "Policy scopes NOT evaluated" in out
        for acct in ("binanceusdm/sim-hedge", "binanceusdm/sim-main"):
            assert f"! futures-book {acct}: INSUFFICIENT_HISTORY: triggers hard, harder, soft cannot be" in out
        assert "dd_1h: INSUFFICIENT_HISTORY: coverage=0% min=80%" in out
        assert out.rstrip().endswith("what they would do where they could not is unknown. Nothing was sent."), out
    doc = json.loads(stdout_of(live(tmp_path, "-o", "json")))
    assert doc["complete"] is False and doc["summary"]["complete"] is False
    assert {b["scope"] for b in doc["blind"] if b["gap"]} == {"binanceusdm/sim-hedge", "binanceusdm/sim-main"}
    (scope,) = [s for s in doc["scopes"] if s["scope"] == "binanceusdm/sim-main"]
    assert scope["coverage"] == "blind" and scope["signals"]["dd_15m"]["value"] is None
    assert scope["signals"]["dd_15m"]["reason"].startswith("INSUFFICIENT_HISTORY")
    assert scope["triggers"]["soft"]["condition"] is None


def test_a_plan_that_read_every_account_is_complete_and_exits_0(tmp_path):
    r = live(tmp_path, "--detailed-exitcode", policies=armed_from_the_start(tmp_path))
    assert r.exit_code == EXIT_NO_CHANGES, r.output
    assert "Accounts evaluated: binanceusdm/sim-hedge, binanceusdm/sim-main" in r.output
    assert "NOT read" not in r.output and r.output.rstrip().endswith("No changes. The policies would do nothing.")


def test_a_live_plan_loads_the_accounts_file_and_each_policy_file_once(tmp_path, monkeypatch):
    # the accounts file serves three purposes (the scopes' KS218, the weight budget, the adapters):
    # one read, one load
    from collections import Counter

    import killswitch.policy.load as load

    loaded: Counter = Counter()
    load_text = load.load_text

    def counted(text, file):
        loaded[file] += 1
        return load_text(text, file)

    monkeypatch.setattr(load, "load_text", counted)
    r = live(tmp_path, policies=armed_from_the_start(tmp_path))
    assert r.exit_code == EXIT_NO_CHANGES, r.output
    assert sorted(loaded.values()) == [1, 1] and len(loaded) == 2, loaded
    assert any(f.endswith("accounts.yaml") for f in loaded), loaded


def test_an_account_refused_by_the_venue_is_named_and_the_plan_exits_1(tmp_path):
    r = live(tmp_path, env={"KS_M_SECRET": WRONG_SECRET})
    assert r.exit_code == EXIT_ERROR, r.output
    out = stdout_of(r)
    assert "Accounts evaluated: binanceusdm/sim-hedge\n" in out
    assert "  ! binanceusdm/sim-main  AUTH: " in out
    assert "Incomplete plan: 1 of 2 accounts not read: binanceusdm/sim-main (AUTH)." in out
    assert "what the policies would do on binanceusdm/sim-main is unknown" in out
    assert_never_says_no_changes(out)
    assert WRONG_SECRET not in r.output


def test_with_detailed_exitcode_an_incomplete_plan_without_changes_is_not_0(tmp_path):
    r = live(tmp_path, "--detailed-exitcode", env={"KS_M_SECRET": WRONG_SECRET})
    assert r.exit_code == EXIT_ERROR, r.output
    assert_never_says_no_changes(stdout_of(r))


def test_every_account_refused_reads_as_nothing_evaluated(tmp_path):
    r = live(tmp_path, "--detailed-exitcode", env={"KS_M_SECRET": WRONG_SECRET, "KS_H_KEY": "no-such-key"})
    assert r.exit_code == EXIT_ERROR, r.output
    out = stdout_of(r)
    assert "Accounts evaluated: none" in out
    assert ("Incomplete plan: none of the 2 accounts could be read: binanceusdm/sim-hedge (AUTH), "
            "binanceusdm/sim-main (AUTH).") in out
    assert "Nothing was evaluated against an account" in out
    assert_never_says_no_changes(out)


def test_a_credential_that_cannot_be_read_is_an_account_not_read_not_an_internal_error(tmp_path):
    with sim_exchange() as url:
        acc = accounts_doc(tmp_path, url)
        env = {k: v for k, v in GOOD.items() if k != "KS_H_SECRET"}
        r = CliRunner().invoke(cli, ["plan", "--policies", str(FUTURES_BOOK), "--accounts", str(acc)],
                               env={**env, "KS_H_SECRET": None})
    assert r.exit_code == EXIT_ERROR, r.output
    assert "  ! binanceusdm/sim-hedge  AUTH: environment variable KS_H_SECRET is not set" in stdout_of(r)
    assert "internal error" not in r.output


def test_a_venue_that_does_not_answer_in_time_is_a_timeout(tmp_path):
    faults = FaultPlan().timeout("*", account="sim-main")
    r = live(tmp_path, "--timeout", f"{TIMEOUT:g}s", faults=faults)
    assert r.exit_code == EXIT_ERROR, r.output
    assert "  ! binanceusdm/sim-main  TIMEOUT: " in stdout_of(r)
    assert "Accounts evaluated: binanceusdm/sim-hedge\n" in stdout_of(r)
    assert_never_says_no_changes(stdout_of(r))


def test_an_unavailable_venue_is_named_with_its_reason(tmp_path):
    faults = FaultPlan().http_error("*", 503, account="sim-hedge")
    r = live(tmp_path, "-o", "json", faults=faults)
    assert r.exit_code == EXIT_ERROR, r.output
    body = json.loads(stdout_of(r))
    hedge = {a["account"]: a for a in body["accounts"]}["binanceusdm/sim-hedge"]
    assert hedge["status"] == "not_read" and hedge["reason"] == "EXCHANGE_UNAVAILABLE"


def test_a_venue_nobody_listens_on_is_unavailable(tmp_path):
    from tests.procs import free_port

    r = live(tmp_path, hedge_url=f"http://127.0.0.1:{free_port()}")
    assert r.exit_code == EXIT_ERROR, r.output
    assert "  ! binanceusdm/sim-hedge  EXCHANGE_UNAVAILABLE" in stdout_of(r)


def test_the_json_of_an_incomplete_plan_lists_what_was_and_was_not_read(tmp_path):
    r = live(tmp_path, "-o", "json", env={"KS_M_SECRET": WRONG_SECRET})
    assert r.exit_code == EXIT_ERROR
    body = json.loads(stdout_of(r))
    assert body["format_version"] == 1 and body["complete"] is False
    by = {a["account"]: a for a in body["accounts"]}
    assert set(by) == {"binanceusdm/sim-main", "binanceusdm/sim-hedge"}
    main, hedge = by["binanceusdm/sim-main"], by["binanceusdm/sim-hedge"]
    assert (main["status"], main["reason"], main["reasons"], main["snapshots"], main["read"], main["failed"]) == \
        ("not_read", "AUTH", ["AUTH"], 1, 0, 1)
    assert main["venue"] == "binanceusdm" and main["name"] == "sim-main" and main["message"]
    assert main["first_failed"].endswith("Z") and main["last_failed"] == main["first_failed"]
    assert (hedge["status"], hedge["reason"], hedge["message"], hedge["read"]) == ("evaluated", None, None, 1)
    s = body["summary"]
    assert s["complete"] is False and s["evaluated"] == ["binanceusdm/sim-hedge"]
    assert s["unread"] == ["binanceusdm/sim-main"] and s["changes"] == 0
    assert s["text"].startswith("Incomplete plan: 1 of 2 accounts not read")
    assert WRONG_SECRET not in r.output


def test_the_markdown_of_an_incomplete_plan_has_a_row_per_account(tmp_path):
    r = live(tmp_path, "-o", "markdown", env={"KS_M_SECRET": WRONG_SECRET})
    assert r.exit_code == EXIT_ERROR
    out = stdout_of(r)
    assert out.startswith("### ksctl plan (INCOMPLETE, 1 of 2 accounts not read)")
    assert "| binanceusdm/sim-hedge | evaluated | 1 of 1 |  |  |" in out
    assert "| binanceusdm/sim-main | **not read** | 0 of 1 | AUTH | " in out
    assert "**Incomplete plan: 1 of 2 accounts not read: binanceusdm/sim-main (AUTH).**" in out
    assert_never_says_no_changes(out)


@pytest.mark.parametrize("args, code", [
    ((), EXIT_ERROR),
    (("--detailed-exitcode",), EXIT_ERROR),
    (("--allow-incomplete",), EXIT_NO_CHANGES),
    (("--allow-incomplete", "--detailed-exitcode"), EXIT_INCOMPLETE),
])
def test_exit_codes_of_an_incomplete_plan_without_changes(tmp_path, args, code):
    r = live(tmp_path, *args, env={"KS_M_SECRET": WRONG_SECRET})
    assert r.exit_code == code, r.output
    assert "Incomplete plan: 1 of 2 accounts not read" in stdout_of(r)


def test_an_allowed_incomplete_plan_with_changes_exits_6_with_detailed_exitcode(tmp_path):
    # exchange-faults reacts to the account it cannot read: a change, planned on missing data
    r = live(tmp_path, "--allow-incomplete", "--detailed-exitcode", env={"KS_M_SECRET": WRONG_SECRET},
             policies=POLICIES / "exchange-faults.yaml")
    assert r.exit_code == EXIT_INCOMPLETE | EXIT_CHANGES == 6, r.output
    out = stdout_of(r)
    assert "# exchange-faults binanceusdm/sim-main: stage 0 → 1" in out
    assert "Plan, with what was not read as missing data: 1 stage change(s)" in out


@pytest.mark.parametrize("complete, changes, detailed, allow, code", [
    (True, False, False, False, 0), (True, True, False, False, 0),
    (True, False, True, False, 0), (True, True, True, False, 2),
    (False, False, False, False, 1), (False, True, False, False, 1),
    (False, False, True, False, 1), (False, True, True, False, 1),
    (False, False, False, True, 0), (False, True, False, True, 0),
    (False, False, True, True, 4), (False, True, True, True, 6),
    (True, True, True, True, 2), (True, False, True, True, 0),
])
def test_exit_code_table(complete, changes, detailed, allow, code):
    assert exit_code(complete, changes, detailed, allow) == code


def test_the_help_documents_the_exit_codes():
    r = run("plan", "--help")
    assert "--allow-incomplete" in r.output
    assert "With --detailed-exitcode: 0 no changes, 2 actions planned, 1 an error or an" in r.output
    assert "6 (actions planned) — never 0." in r.output


# --- recordings with failed snapshots ------------------------------------------------------------------


def test_a_recording_with_failed_snapshots_is_an_incomplete_plan(tmp_path):
    rec = failing_recording(tmp_path / "failing.jsonl")
    r = run("plan", "--policies", str(FUTURES_BOOK), "--against", str(rec), "--detailed-exitcode")
    assert r.exit_code == EXIT_ERROR, r.output
    out = stdout_of(r)
    assert "Accounts evaluated: binanceusdm/binance-futures-main (37 of 40 snapshots)\n" in out
    assert "Snapshots NOT read (the plan does not cover them):" in out
    assert ("  ! binanceusdm/binance-futures-main  TIMEOUT on 3 of 40 snapshots, 2026-03-02T13:10:00Z to "
            "2026-03-02T13:12:00Z: snapshot: no answer within 10s") in out
    assert "  ! bybit/bybit-futures  AUTH on 40 of 40 snapshots" in out
    assert "Incomplete plan: 2 of 2 accounts not read on every snapshot" in out
    assert_never_says_no_changes(out)


def test_a_recording_with_failed_snapshots_passes_when_allowed(tmp_path):
    rec = failing_recording(tmp_path / "failing.jsonl")
    r = run("plan", "--policies", str(FUTURES_BOOK), "--against", str(rec), "--allow-incomplete", "-o", "json")
    assert r.exit_code == EXIT_NO_CHANGES, r.output
    body = json.loads(stdout_of(r))
    by = {a["account"]: a for a in body["accounts"]}
    main = by["binanceusdm/binance-futures-main"]
    assert (main["status"], main["snapshots"], main["failed"], main["reasons"]) == ("partly_read", 40, 3, ["TIMEOUT"])
    assert by["bybit/bybit-futures"]["status"] == "not_read" and body["complete"] is False


def test_an_empty_recording_is_an_error_not_a_plan_without_changes(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("# nothing recorded\n")
    r = run("plan", "--policies", str(FUTURES_BOOK), "--against", str(empty), "--detailed-exitcode")
    assert r.exit_code == EXIT_ERROR and "nothing to evaluate" in r.output
    assert_never_says_no_changes(r.output)


def test_a_recording_and_live_accounts_together_are_a_usage_error(tmp_path):
    acc = accounts_doc(tmp_path, "http://127.0.0.1:9")
    r = CliRunner().invoke(cli, ["plan", "--policies", str(FUTURES_BOOK), "--against", str(RECORDING),
                                 "--accounts", str(acc)])
    assert r.exit_code == 2 and "not both" in r.output


def test_a_venue_message_cannot_break_the_markdown_table_or_inject_markup():
    from killswitch.preview.plan import AccountCoverage, PlanResult
    from killswitch.render.plan import plan_markdown

    class Graph:
        digest = short_digest = "sha256:0"
        revision = None

    hostile = 'bad | key <img src=x onerror=alert(1)> [click](http://example.com) *now*\nsecond line'
    result = PlanResult((), (AccountCoverage("binanceusdm", "sim-main", 1, 1, ("AUTH",), hostile, 0, 0),), 1)
    out = plan_markdown(result, Graph(), {"kind": "live"}, "dry-run")
    row = next(line for line in out.splitlines() if line.startswith("| binanceusdm/sim-main"))
    assert row.count(" | ") == 4 and row.endswith(" |"), row  # five cells, no more
    assert r"bad \| key \<img src=x onerror=alert(1)\> \[click\](http://example.com) \*now\* second line" in row


def test_the_pull_request_action_fails_its_verdict_when_the_plan_fails():
    # the policy workflow uses the Action (action.yml): its review step keeps the plan's exit code
    # (`|| rc=$?`, never lost in a pipe) and a failed plan makes the verdict fail
    from ruamel.yaml import YAML

    from tests.conftest import ROOT

    doc = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    steps = [s for s in doc["runs"]["steps"] if "ksctl plan" in (s.get("run") or "")]
    assert steps and all(s.get("shell") == "bash" for s in steps), steps
    for s in steps:
        run = s["run"]
        plan = next(line for line in run.splitlines() if line.strip().startswith("ksctl plan"))
        assert plan.rstrip().endswith("|| rc=$?"), plan
        assert 'if [ "$rc" -ne 0 ]; then verdict=fail; fi' in run


BOOK_POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: by-the-book}
spec:
  scope: {level: account, accounts: {match_labels: {book: futures}}}
  signals:
    n: {position_count: {side: any}}
  triggers:
    open: {when: "n >= 1", on_missing_data: hold}
  stages:
    - {level: 1, name: flatten, on: [open], reset: manual, actions: [close_all]}
  unwind: {max_impact: 0.05%, max_slippage: 0.5%, book_depth: 20}
"""


@pytest.mark.parametrize("with_depth", [True, False], ids=["book", "no_book"])
def test_a_live_plan_sizes_closes_by_the_books_it_reads(tmp_path, with_depth):
    from adapters.simulated.depth import DepthModel

    policy = tmp_path / "by-the-book.yaml"
    policy.write_text(BOOK_POLICY)
    depth = DepthModel(levels=50, half_spread_bps=1.0, level_bps=2.0, amount=2.0) if with_depth else None
    r = live(tmp_path, "-o", "json", policies=policy, depth=depth)
    body = json.loads(stdout_of(r))
    orders = [o for c in body["changes"] for o in c["orders"]]
    assert orders and all(o["reduce_only"] for o in orders)
    if with_depth:  # every close split by its book (0.05% of the best holds 3 levels: 6)
        assert all("BOOK: " in o["reason"] for o in orders), [o["reason"] for o in orders]
        assert any(o["chunks"] > 1 for o in orders)
    else:  # the venue serves empty books: the closes fall back, and say so
        assert not any("BOOK: " in o["reason"] for o in orders)
        assert "BOOK_EMPTY" in stdout_of(r)


def test_a_live_plan_where_a_policy_selects_none_of_the_accounts_read_is_incomplete(tmp_path):
    """Live, the accounts read are the truth: a policy that selects none of them (its accounts are
    declared, but not those the plan reads) previews nothing, and a runner on these accounts would
    page it UNMATCHED; the plan says so and is incomplete, never "No changes"."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("accounts.yaml", "routes.yaml", "position-watch.yaml"):
        (repo / name).write_text((POLICIES / name).read_text())
    (repo / "futures-book.yaml").write_text(armed_from_the_start(tmp_path).read_text())
    for extra in ((), ("--detailed-exitcode",)):
        r = live(tmp_path, *extra, policies=repo)
        assert r.exit_code == EXIT_ERROR, r.output
        out = stdout_of(r)
        assert_never_says_no_changes(out)
        assert "Policies that select none of the accounts read" in out and "position-watch (" in out
    doc = json.loads(stdout_of(live(tmp_path, "-o", "json", policies=repo)))
    assert doc["complete"] is False
    assert [(b["policy"], b["state"], b["gap"]) for b in doc["blind"]] == [("position-watch", "unmatched", True)]


def test_a_live_plan_where_a_policy_allow_empty_lets_select_nothing_names_it_and_is_not_incomplete_for_it(tmp_path):
    """The same policy prepared ahead of its account (``allow_empty: true``): expected to select
    nothing, so named (never as armed) and no gap: the plan stands on what it could evaluate."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("accounts.yaml", "routes.yaml"):
        (repo / name).write_text((POLICIES / name).read_text())
    watch = (POLICIES / "position-watch.yaml").read_text()
    names = "accounts: {names: [bybit-futures]}"
    ahead = watch.replace(names, names + "\n    allow_empty: true")
    assert ahead != watch
    (repo / "position-watch.yaml").write_text(ahead)
    (repo / "futures-book.yaml").write_text(armed_from_the_start(tmp_path).read_text())
    r = live(tmp_path, policies=repo)
    out = stdout_of(r)
    assert r.exit_code != EXIT_ERROR, out
    assert "Policies that select no account, as allow_empty: true allows (prepared ahead of their accounts): " \
           "position-watch (" in out, out
    assert "Policies that select none of the accounts read" not in out
    doc = json.loads(stdout_of(live(tmp_path, "-o", "json", policies=repo)))
    assert doc["complete"] is True
    assert [(b["policy"], b["state"], b["reason"], b["gap"]) for b in doc["blind"]] == [
        ("position-watch", "unmatched", "UNMATCHED_ALLOWED", False)]


def test_plan_says_each_trading_window_and_its_next_change(tmp_path):
    import shutil

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    book = policies / "futures-book.yaml"
    book.write_text(book.read_text() + (
        "  time_intervals:\n"
        "    - name: weekend\n"
        "      time_intervals: [{weekdays: [\"saturday:sunday\"]}]\n"
        "  lock_trading: {mode: reducing, during: [weekend]}\n"))
    r = run("plan", "--policies", str(policies), "--against", str(RECORDING))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    at = lines.index(next(x for x in lines if x.startswith("Trading windows at 2026-03-02T")))
    assert lines[at + 1] == "  WINDOW futures-book: reducing lock from Sat 00:00 UTC (during weekend)"
    doc = json.loads(run("plan", "--policies", str(policies), "--against", str(RECORDING), "-o", "json").output)
    [w] = doc["windows"]
    assert (w["policy"], w["what"], w["open"], w["next_change_ms"]) == ("futures-book", "lock", False,
                                                                        1772841600000)  # Sat 2026-03-07 00:00Z
    text = run("plan", "--policies", str(policies), "--against", str(RECORDING), "-o", "markdown").output
    assert "- futures-book: reducing lock from Sat 00:00 UTC (during weekend)" in text
