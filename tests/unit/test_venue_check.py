"""An account's venue is a ccxt exchange id: a typo (``binanceusdn``) is KS221 at the venue, with
the closest id, in ``ksctl validate`` (the runner would refuse it only when it builds the account's
adapter), and the ids the compiler holds as data are the locked ccxt's."""

from __future__ import annotations

from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.compile.venue_check import VENUES
from tests.conftest import POLICIES


def test_the_venue_ids_are_the_locked_ccxts():
    import ccxt

    assert VENUES == frozenset(ccxt.exchanges), (
        "ccxt's exchanges changed: regenerate VENUES in killswitch/compile/venue_check.py "
        f"(added {sorted(set(ccxt.exchanges) - VENUES)}, dropped {sorted(VENUES - set(ccxt.exchanges))})")


def test_a_misspelt_venue_is_refused_at_the_venue_with_the_closest_id(tmp_path):
    text = (POLICIES / "accounts.yaml").read_text()
    assert "      venue: bybit\n" in text
    path = tmp_path / "accounts.yaml"
    path.write_text(text.replace("      venue: bybit\n", "      venue: bybitt\n", 1))
    r = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert r.exit_code == 1, r.output
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t == "      venue: bybit")
    assert f'{path}:{line}:14: error[KS221]: account "bybit-futures": venue "bybitt" is no exchange ccxt knows' \
        in r.output, r.output
    assert 'hint: did you mean "bybit"?' in r.output


def test_the_example_accounts_name_known_venues():
    r = CliRunner().invoke(cli, ["validate", str(POLICIES / "accounts.yaml")], catch_exceptions=False)
    assert r.exit_code == 0 and "KS221" not in r.output, r.output
