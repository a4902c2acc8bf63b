"""Accounts whose polling cannot fit their venue's per-IP REST weight budget at the interval the
policies tick at are refused by ``ksctl validate`` (with the policies, or ``--accounts``) and by
``ksctl plan --accounts`` before it reads anything: KS230 at the accounts list, with the
arithmetic and what streams save; KS231 (a warning) above 80 % of the budget."""

from __future__ import annotations

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import POLICIES

FUTURES = POLICIES / "futures-book.yaml"  # interval 5s


def accounts(tmp_path, rows: list[str], name: str = "accounts.yaml"):
    path = tmp_path / name
    path.write_text("apiVersion: killswitch/v1\nkind: Accounts\nmetadata: {name: desk}\nspec:\n  accounts:\n"
                    + "".join(f"    - {r}\n" for r in rows))
    return path


def binance(n: int, extra: str = "") -> list[str]:
    return [f"{{name: b{i}, venue: binanceusdm, market_type: futures, labels: {{book: futures}}{extra}}}"
            for i in range(n)]


def validate(*args):
    return CliRunner().invoke(cli, ["validate", *map(str, args)], catch_exceptions=False)


def test_sixty_binance_accounts_at_5s_are_refused_with_the_arithmetic(tmp_path):
    path = accounts(tmp_path, binance(60))
    r = validate("--accounts", path, FUTURES)
    assert r.exit_code == 1, r.output
    assert (f"{path}:5:3: error[KS230]: binanceusdm: the accounts' polling needs 1500% of the venue's per-IP "
            "REST limit") in r.output, r.output
    assert ("binanceusdm: 60 account(s) × 600/min (10 request weight a snapshot × 12 snapshots/min + 80 for the "
            "open orders × 6 lists/min) = 36,000 request weight/min > 2,400 limit (per IP, 2,400 per 60s); "
            "at most 4 account(s) polled at 5s; streaming with reconcile every 30s: 10,803/min, at most 13 "
            "account(s)") in r.output, r.output


def test_four_binance_accounts_fit_and_pass(tmp_path):
    r = validate("--accounts", accounts(tmp_path, binance(3)), FUTURES)
    assert r.exit_code == 0, r.output
    assert "KS23" not in r.output


def test_four_accounts_fill_the_budget_and_are_a_warning_that_strict_refuses(tmp_path):
    path = accounts(tmp_path, binance(4))
    r = validate("--accounts", path, FUTURES)
    assert r.exit_code == 0, r.output
    assert f"{path}:5:3: warning[KS231]: binanceusdm: the accounts' polling takes 100%" in r.output, r.output
    assert validate("--strict", "--accounts", path, FUTURES).exit_code == 1


def test_streaming_accounts_fit_where_polled_ones_do_not(tmp_path):
    r = validate("--accounts", accounts(tmp_path, binance(10, ", stream: {reconcile_every: 30s}")), FUTURES)
    assert r.exit_code == 0, r.output
    assert "KS23" not in r.output


def test_a_slower_policy_interval_fits_more_accounts(tmp_path):
    slow = tmp_path / "slow.yaml"
    slow.write_text(FUTURES.read_text().replace("interval: 5s", "interval: 60s"))
    # 12 accounts at 60 s: 90 weight each a minute, 1,080 of 2,400
    r = validate("--accounts", accounts(tmp_path, binance(12)), slow)
    assert r.exit_code == 0, r.output
    r = validate("--accounts", accounts(tmp_path, binance(12)), FUTURES)
    assert r.exit_code == 1 and "KS230" in r.output, r.output


def test_an_accounts_file_among_the_paths_is_checked_once(tmp_path):
    path = accounts(tmp_path, binance(60))
    r = validate("--accounts", path, FUTURES, path)
    assert r.output.count("error[KS230]") == 1, r.output
    assert "KS105" not in r.output  # not read twice


def test_the_example_policies_fit_their_budget():
    r = validate(POLICIES)
    assert r.exit_code == 0, r.output
    assert "KS23" not in r.output


def test_plan_refuses_before_reading_any_account(tmp_path):
    # the accounts point at a port nothing listens on: a plan that read them would say so
    rows = [f"{{name: b{i}, venue: binanceusdm, market_type: futures, labels: {{book: futures}}, "
            f"api_url: 'http://127.0.0.1:9'}}" for i in range(60)]
    path = accounts(tmp_path, rows)
    r = CliRunner().invoke(cli, ["plan", "--policies", str(FUTURES), "--accounts", str(path)],
                           catch_exceptions=False)
    assert r.exit_code == 1, r.output
    assert f"{path}:5:3: error[KS230]" in r.stderr, r.stderr
    assert "does not fit the venues' REST weight budget; nothing was read" in r.stderr
    assert "snapshot failed" not in r.stderr


def binance_spot(n: int) -> list[str]:
    return [f"{{name: s{i}, venue: binance, market_type: spot, labels: {{book: futures}}}}" for i in range(n)]


def test_binance_spot_accounts_count_against_the_spot_apis_own_limit(tmp_path):
    """A spot account is counted too, on Binance's spot API (its own 6,000 a minute per IP):
    its balances (20), the held assets' prices (80 at most) and every open order (80) at each
    5 s snapshot — 2,160 a minute; two fit, three do not. Never counted against the futures
    API's 2,400, and never left out as if it cost nothing."""
    r = validate("--accounts", accounts(tmp_path, binance_spot(2) + binance(3)), FUTURES)
    assert r.exit_code == 0 and "KS23" not in r.output, r.output
    path = accounts(tmp_path, binance_spot(3) + binance(3))
    r = validate("--accounts", path, FUTURES)
    assert r.exit_code == 1, r.output
    assert (f"{path}:5:3: error[KS230]: binance: the accounts' polling needs 108% of the venue's per-IP REST "
            "limit") in r.output, r.output
    assert "binance: 3 account(s) × 2,160/min" in r.output and "> 6,000 limit" in r.output, r.output
    assert "binanceusdm" not in r.output  # the futures accounts fit their own API's limit


def test_an_account_whose_venue_declares_no_costs_is_said_to_be_uncounted_not_taken_as_free(tmp_path):
    path = accounts(tmp_path, binance(1) + ["{name: coin, venue: binancecoinm, market_type: futures, "
                                           "labels: {book: futures}}"])
    r = validate("--accounts", path, FUTURES)
    assert r.exit_code == 0, r.output
    assert (f'{path}:7:7: warning[KS232]: account "coin": binancecoinm (futures) declares no REST weight for a '
            "snapshot; its polling is not counted against the venue's limit") in r.output, r.output
    assert r.output.count("KS232") == 1  # the binanceusdm account is counted
    assert validate("--strict", "--accounts", path, FUTURES).exit_code == 1


def test_more_streamed_accounts_than_one_runner_holds_is_a_warning_that_names_the_shards(tmp_path):
    from killswitch.compile.ceiling_check import RUNNER_CEILING

    rows = [f"{{name: y{i}, venue: bybit, market_type: futures, labels: {{book: futures}}, stream: {{}}}}"
            for i in range(RUNNER_CEILING + 1)]
    path = accounts(tmp_path, rows)
    r = validate("--accounts", path, FUTURES)
    assert f"{path}:5:3: warning[KS233]: {RUNNER_CEILING + 1} streamed accounts for one runner" in r.output, r.output
    assert "split them over at least 2 shards" in r.output
    assert validate("--strict", "--accounts", path, FUTURES).exit_code == 1
    ok = validate("--accounts", accounts(tmp_path, rows[:RUNNER_CEILING], "fits.yaml"), FUTURES)
    assert "KS233" not in ok.output, ok.output


def test_each_shard_is_judged_as_the_runner_it_is(tmp_path):
    from killswitch.compile.ceiling_check import RUNNER_CEILING

    n = RUNNER_CEILING + 1
    desk = ["a" if i < n else "b" for i in range(2 * n - 5)]
    rows = [f"{{name: y{i}, venue: bybit, market_type: futures, labels: {{book: futures, desk: {d}}}, stream: {{}}}}"
            for i, d in enumerate(desk)]
    path = tmp_path / "sharded.yaml"
    path.write_text("apiVersion: killswitch/v1\nkind: Accounts\nmetadata: {name: desk}\nspec:\n  shards:\n"
                    "    - {name: desk-a, accounts: {match_labels: {desk: a}}}\n"
                    "    - {name: desk-b, accounts: {match_labels: {desk: b}}}\n  accounts:\n"
                    + "".join(f"    - {r}\n" for r in rows))
    r = validate("--accounts", path, FUTURES)
    assert f'warning[KS233]: {n} streamed accounts for shard "desk-a"' in r.output, r.output
    assert 'shard "desk-b"' not in r.output  # its share fits one runner
