"""``ksctl validate`` on a policy's ``limits:``: each value whose unit does not fit (KS265) or is
out of range (KS266) at its file:line:col with a hint, all in one pass; a good block compiles
into the graph (and its digest)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text
from tests.unit.engine_helpers import compile_graph

HEAD = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: lim}
spec:
  scope: {level: account}
  signals: {dd: {equity_drawdown: {window: 15m, min_coverage: 0%}}}
  triggers: {hard: {when: "dd >= 10%", on_missing_data: hold}}
  stages: [{level: 1, name: flatten, on: [hard], actions: [close_all]}]
  limits:
"""


def validate(tmp_path, body: str):
    f = tmp_path / "lim.yaml"
    f.write_text(HEAD + body)
    return f, CliRunner().invoke(cli, ["validate", str(f)], catch_exceptions=False)


@pytest.mark.parametrize("line,expected,hint", [
    ("    max_order_notional: 5%\n", '10:25: error[KS265]: limits.max_order_notional: "5%" is a percentage; a '
     "notional is an amount in the quote currency", "hint: write an amount such as 50000, 50k or 1.5M"),
    ("    max_gross_notional: -1M\n", "10:25: error[KS266]: limits.max_gross_notional: -1000000 is not above 0",
     "hint: a limit of 0 or less refuses every order"),
    ("    max_position_notional: 0\n", "10:28: error[KS266]: limits.max_position_notional: 0 is not above 0", None),
    ("    price_collar: 100%\n", "10:19: error[KS266]: limits.price_collar: a price collar of 100% lets a limit "
     "price reach 0 or double the mark", "hint: a collar is below 100%"),
    ("    price_collar: 0%\n", "10:19: error[KS266]: limits.price_collar: a price collar of 0% refuses every "
     "priced order", None),
    ("    price_collar: 250\n", "10:19: error[KS265]: limits.price_collar: 250 reads as a price; a collar is a "
     "fraction of the mark", "hint: write it as a percentage of the mark, such as 5%"),
    ("    max_order_quantity: 10%\n", '10:25: error[KS265]: limits.max_order_quantity: "10%" is a percentage; a '
     "quantity is a number of contracts", None),
    ("    max_open_orders: 2.5\n", "10:22: error[KS265]: limits.max_open_orders: 2.5 is not a whole number of "
     "orders", None),
    ("    message_rate: {per_second: 0}\n", "10:32: error[KS266]: limits.message_rate.per_second: 0 messages a "
     "second is out of range", None),
    ("    mark_max_age: 0s\n    price_collar: 5%\n", "10:19: error[KS266]: limits.mark_max_age: mark_max_age 0s "
     "is out of range", "hint: write a duration from 1s to 1h"),
    ("    symbols:\n      BTC/USDT:USDT: {max_order_notional: 2%}\n", '11:43: error[KS265]: '
     'limits.symbols.BTC/USDT:USDT.max_order_notional: "2%" is a percentage', None),
])
def test_a_limit_that_does_not_fit_is_an_error_at_its_value(tmp_path, line, expected, hint):
    f, r = validate(tmp_path, line)
    assert r.exit_code == 1, r.output
    assert f"{f}:{expected}" in r.output, r.output
    if hint:
        assert hint in r.output


def test_every_bad_limit_is_reported_in_one_pass(tmp_path):
    _, r = validate(tmp_path, "    max_order_notional: 5%\n    price_collar: 2\n    max_open_orders: 0\n")
    assert r.output.count("error[KS26") == 3, r.output


def test_a_block_that_names_no_limit_is_an_error(tmp_path):
    f, r = validate(tmp_path, "    mark_max_age: 10s\n")
    assert r.exit_code == 1 and f"{f}:9:3: error[KS102]: limits: limits names no limit" in r.output, r.output


def test_an_unknown_limit_is_an_unknown_key_with_the_closest_one(tmp_path):
    f, r = validate(tmp_path, "    max_order_notionl: 50k\n")
    assert f"{f}:10:5: error[KS101]" in r.output and 'did you mean "max_order_notional"' in r.output, r.output


def test_a_good_block_compiles_into_the_graph_and_its_digest():
    body = ("    max_order_notional: 50k\n    price_collar: 5%\n    max_open_orders_per_symbol: 20\n"
            "    message_rate: {per_second: 2.5}\n"
            "    symbols:\n      BTC/USDT:USDT: {max_order_notional: 250k, max_order_quantity: 5}\n")
    res = compile_documents(load_text(HEAD + body, "lim.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    node = res.graph.policies[0].limits
    assert node.default.max_order_notional == 50_000 and node.default.price_collar == 0.05
    btc = node.for_symbol("BTC/USDT:USDT")  # its own notional and quantity, the default collar
    assert (btc.max_order_notional, btc.max_order_quantity, btc.price_collar, btc.max_open_orders) == \
        (250_000, 5.0, 0.05, 20)
    assert (node.message_rate, node.message_burst, node.mark_max_age_ms) == (2.5, 3, 30_000)
    assert (node.sources["BTC/USDT:USDT"].line, node.sources["BTC/USDT:USDT"].col) == (15, 7)
    other = compile_graph(HEAD + body.replace("5%", "4%"), "lim.yaml")
    assert other is not None and other.digest != res.graph.digest
