"""A threshold computed from signals, drawn by the console's chart as a line that moves.

The runner on the simulated exchange runs a policy whose drawdown threshold is
``max(2%, 4 * vol)`` (``vol`` the volatility of 10-second equity returns): the book wiggles, then
falls; the chart of the instance draws the threshold through its value at every tick, as the
engine recorded it, and the drawdown crossing it. A screenshot at 1366 px wide (see conftest.py
for where)."""

from __future__ import annotations

import re
import textwrap

from ..conftest import ACCOUNT, VERA
from ..views import laid_out, open_console, sign_in, wait
from .test_charts import svg_of
from .test_health import csp_refusals

POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: adaptive-drawdown}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 10m, min_coverage: 5%}}
        vol: {realized_volatility: {window: 10m, sample: 10s, min_coverage: 5%}}
      triggers:
        deep: {when: "dd >= max(2%, 4 * vol)", on_missing_data: hold}
      stages:
        - {level: 2, name: trim, on: [deep], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 1, fraction: 50%}}]}
    """
)
CHART = f'details[data-chart-key="adaptive-drawdown|{ACCOUNT}"]'


def test_the_chart_draws_a_computed_threshold_as_a_moving_line(live, browser, shot):
    r = live(policies=POLICY)
    for i in range(12):  # the book wiggles, each swing wider: the volatility, and the line, climb
        swing = 1 + (0.0008 * (i + 1) if i % 2 else -0.0008 * (i + 1))
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}.items():
            r.engine.set_mark(symbol, price * swing)
        r.tick(2)
    for step in range(1, 5):  # then it falls
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}.items():
            r.engine.set_mark(symbol, price * (1 - 0.05 * step))
        r.tick(1)
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")

    wait(browser, lambda b: svg_of(b, CHART) is not None, "the drawdown chart is drawn")
    svg = svg_of(browser, CHART)
    moving = svg.find_elements("css selector", 'g.panel[data-series="dd"] g.threshold.moving')
    assert [g.get_attribute("data-trigger") for g in moving] == ["deep"]
    ys = set()
    for path in moving[0].find_elements("css selector", "path"):
        ys |= {round(float(y), 1) for y in re.findall(r"[ML][\d.]+,([\d.]+)", path.get_attribute("d"))}
    assert len(ys) >= 3, ys  # not a flat line: it moved with the volatility
    label = browser.execute_script(
        "return arguments[0].querySelector('g.panel[data-series=\"dd\"] text.threshold-label').textContent", svg)
    assert label.startswith("deep: dd ≥ max(2%, 4 * vol) (now ") and label.endswith("→ stage 2 trim")
    desc = browser.execute_script("return arguments[0].querySelector('desc').textContent", svg)
    assert "beyond deep: dd ≥ max(2%, 4 * vol)" in desc and "stage 2 trim entered" in desc
    # the triggers' table shows the number it was at the last tick, then what it is computed from
    text = browser.find_element("css selector", "#view").text
    assert re.search(r"dd = [\d.]+% >= [\d.]+% = max\(2%, 4 \* vol\)", text), text
    assert csp_refusals(browser) == []

    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element("css selector", CHART))
    laid_out(browser)
    shot("charts-moving-threshold-1366", full=False)
