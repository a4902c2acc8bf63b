"""The console in a real browser: Debian's chromium, driven through its chromium-driver by selenium.

A :class:`LiveRunner` is a runner on the simulated exchange (the calm scenario: long BTC and ETH,
short SOL) on a manual clock, with its API served on a free 127.0.0.1 port from an event loop
on a thread of its own; the test ticks it when it wants the book to move, so what the page shows
is known. Nothing here downloads anything: the browser and its driver are the ones apt installed
(``chromium`` and ``chromedriver`` on PATH), named explicitly so that selenium's own manager
never looks for another, and ``SE_OFFLINE`` tells it not to try. Without them (or without
selenium) the tests skip, and fail under ``KS_REQUIRE_ALL=1`` as in CI (``.ci/run`` installs them).

Screenshots are test artifacts: PNG files under ``$KS_ARTIFACTS/console/`` when ``KS_ARTIFACTS``
is set, else under pytest's base temporary directory (``console-screenshots/``; a passing run
whose base is on tmpfs moves them to the system's temp directory at its end, tests/conftest.py);
the run's summary names the directory.
"""

from __future__ import annotations

import asyncio
import base64
import os
import textwrap
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runbooks.sink import RunbookSink
from killswitch.state import open_store

from ..conftest import require_module, require_tool
from ..unit.engine_helpers import compile_graph, guard_policy
from ..unit.runner.operator.rig import ACCOUNT, T0, TICK_MS

# bot-guard halts the account (manual reset, two approvers) once bot-x has been silent for a
# minute, so the incident starts exactly when a test stops beating; book-drawdown watches the
# drawdown and does not fire on the calm scenario (its values against thresholds are shown).
POLICIES = guard_policy(approvals=2) + "---\n" + textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: book-drawdown}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 10m, min_coverage: 5%}}
      triggers:
        deep: {when: "dd >= 5%", on_missing_data: hold}
      stages:
        - {level: 2, name: trim, on: [deep], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 1, fraction: 50%}}]}
    """
)

HEDGE = "simulated/sim-hedge"  # LiveRunner(hedge=True): a hedge-mode account beside ACCOUNT
ALICE = "alice-console-t0ken"  # operator and approver
BOB = "bob-console-t0ken"  # approver
VERA = "vera-console-t0ken"  # viewer
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator", "approver"], "sha256": token_digest(ALICE)},
    {"identity": "bob", "roles": ["approver"], "sha256": token_digest(BOB)},
    {"identity": "vera", "roles": ["viewer"], "sha256": token_digest(VERA)}]})


class LiveRunner:
    """A runner on the simulated exchange, served on 127.0.0.1; see the module doc."""

    def __init__(self, tmp_path: Path, *, dry_run: bool = False, console_public: bool = False, hedge: bool = False,
                 policies: str = POLICIES, revoke_keys: tuple[str, ...] = (), tokens: Any = PEOPLE,
                 signin: Any = None, port: int = 0, runbooks: Path | None = None):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-runner", daemon=True)
        self.thread.start()
        self.clock = ManualClock(T0)
        self.engine = build("calm", self.clock)
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
            self.engine.set_mark(symbol, price)
        for key in revoke_keys:  # bots' keys of sim-main the venue's switch revokes (ksctl revoke)
            self.engine.permissions.add_key("sim-main", key, key + "-secret")
        adapter = SimulatedAdapter(self.engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                   timeout_s=2.0, revoke_keys=revoke_keys)
        adapters = {ACCOUNT: adapter}
        if hedge:  # the simulator's hedge-mode account too: BTC and ETH in a long and a short leg each
            adapters[HEDGE] = SimulatedAdapter(self.engine, "sim-hedge", venue="simulated", labels={"book": "futures"},
                                               timeout_s=2.0)
        self.store = open_store(f"sqlite://{tmp_path / 'state.db'}")
        # a lease of three ticks, renewed at every tick before it runs out: with a lease of one
        # tick each tick found it lapsed and led from none while it read the state back, and the
        # console's requests in between were refused NOT_LEADER
        graph = compile_graph(policies, "console.yaml")
        self.runner, self.desk, self.parts = build_runner_and_desk(graph, adapters, self.store,
                                                       sinks=[RunbookSink(runbooks)], lock_path=tmp_path / "lock.json",
                                                       dry_run=dry_run, clock=self.clock, lease_ttl_ms=3 * TICK_MS)
        self.site = None
        self.console_public = console_public
        self.tokens, self.signin = tokens, signin  # signin: single sign-on (tests/signin_provider.py)
        self.call(self.runner.start())
        self.site, self.url = self.call(start_api(self._app(), port=port))

    def _app(self) -> Any:
        return make_app(self.desk, tokens=self.tokens, console_public=self.console_public, signin=self.signin)

    def stop_serving(self) -> None:
        """The API goes away, as when the runner's process dies: its port refuses connections."""
        site, self.site = self.site, None
        self.call(stop_api(site))

    def serve_again(self) -> None:
        """The API on the same port again, as a restarted runner's."""
        port = int(self.url.rsplit(":", 1)[1])
        self.site, url = self.call(start_api(self._app(), port=port))
        assert url == self.url

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run ``coro`` on the runner's loop and wait for its answer."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def tick(self, n: int = 1, *, beat: tuple[str, ...] = ()) -> list:
        async def go() -> list:
            out = []
            for _ in range(n):
                self.clock.advance(TICK_MS)
                for source in beat:
                    await self.desk.heartbeat(source)
                out.append(await self.runner.tick())
            return out
        return self.call(go())

    def positions(self, account: str = "sim-main") -> dict[str, float]:
        return {p.symbol: abs(p.amount) for p in self.engine.positions(account) if abs(p.amount) > 0}

    def legs(self, account: str = "sim-hedge") -> dict[tuple[str, str], float]:
        """A hedge-mode account's legs: (symbol, LONG | SHORT) → contracts."""
        return {(p.symbol, p.position_side): abs(p.amount) for p in self.engine.positions(account) if abs(p.amount) > 0}

    def close(self) -> None:
        try:
            if self.site is not None:
                self.call(stop_api(self.site))
            self.call(self.runner.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
            self.store.close()


@pytest.fixture
def live(tmp_path) -> Any:
    """``live(dry_run=..., console_public=...)``: a :class:`LiveRunner`, stopped after the test."""
    made: list[LiveRunner] = []

    def start(**kw: Any) -> LiveRunner:
        where = tmp_path / f"runner{len(made)}"
        where.mkdir()
        made.append(LiveRunner(where, **kw))
        return made[-1]

    yield start
    for r in made:
        r.close()


class Chromium:
    """One headless chromium for this test process (each worker its own), at 1366x900, English:
    starting and quitting one costs about 0.8 s of CPU, and the suite is CPU-bound. Each test
    gets a fresh tab of it (:meth:`fresh`); a browser that stopped answering is started again."""

    def __init__(self) -> None:
        self.driver: Any = None

    def _launch(self) -> Any:
        require_module("selenium")
        chromium, chromedriver = require_tool("chromium"), require_tool("chromedriver")
        os.environ.setdefault("SE_OFFLINE", "true")  # selenium's manager: never fetch a browser or driver
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console: CSP refusals
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900",
                    "--lang=en-US", "--disable-gpu", "--no-first-run", "--disable-extensions"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        driver.set_page_load_timeout(30)
        return driver

    def fresh(self) -> Any:
        """The browser with nothing of an earlier test left: a new tab (no page, no script added
        to every document, no emulated media or screen, no sessionStorage), every other tab
        closed, cookies and the cache cleared, permissions as at start, the window 1366x900 and
        the console's log read out. Every test's runner listens on a port of its own, so no
        origin's localStorage is seen twice."""
        if self.driver is not None:
            try:
                return self._reset(self.driver)
            except Exception:  # noqa: BLE001 - a browser that died or hangs: start another
                self.quit()
        self.driver = self._launch()
        return self._reset(self.driver)

    @staticmethod
    def _reset(driver: Any) -> Any:
        from selenium.common.exceptions import NoAlertPresentException

        try:
            driver.switch_to.alert.dismiss()
        except NoAlertPresentException:
            pass
        old = list(driver.window_handles)
        driver.switch_to.new_window("tab")
        tab = driver.current_window_handle
        for handle in old:
            driver.switch_to.window(handle)
            driver.close()
        driver.switch_to.window(tab)
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.execute_cdp_cmd("Browser.resetPermissions", {})
        driver.set_window_size(1366, 900)
        driver.get_log("browser")  # read out: a test sees only its own page's console
        return driver

    def idle(self) -> None:
        """The tab left on about:blank once a test is done with it: a console page outlives its
        runner, polling it and drawing its banner and ages on timers (about 0.8 s of CPU every
        30 s), until the next test's :meth:`fresh` closes it, which may come minutes later in
        this process, or never. A browser that does not answer is left to :meth:`fresh`."""
        if self.driver is not None:
            try:
                self.driver.get("about:blank")
            except Exception:  # noqa: BLE001 - dead or hung: the next fresh() starts another
                pass

    def quit(self) -> None:
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # noqa: BLE001 - it is gone already
                pass
            self.driver = None


@pytest.fixture(scope="session")
def chromium() -> Any:
    browser = Chromium()
    yield browser
    browser.quit()


@pytest.fixture
def browser(chromium) -> Iterator[Any]:
    """Headless chromium at 1366x900, English, light colour scheme unless a test says otherwise:
    a fresh tab of the test process's browser (:class:`Chromium`), left idle after the test."""
    yield chromium.fresh()
    chromium.idle()


_SHOTS: list[Path] = []


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory) -> Path:
    env = os.environ.get("KS_ARTIFACTS")
    where = Path(env) / "console" if env else tmp_path_factory.getbasetemp() / "console-screenshots"
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def shot(browser, shots_dir) -> Callable[..., Path]:
    """``shot(name, full=True)``: a PNG of the page (the whole page's height when ``full``)."""

    def take(name: str, full: bool = True) -> Path:
        path = shots_dir / f"{name}.png"
        if full:  # the whole page, beyond the window (chromium's own capture, through the driver)
            size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            data = browser.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})["data"]
            path.write_bytes(base64.b64decode(data))
        else:  # what the window shows (a dialog over the page)
            assert browser.save_screenshot(str(path)), path
        assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        _SHOTS.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter) -> None:
    if _SHOTS:
        terminalreporter.write_line(f"console screenshots ({len(_SHOTS)}): {_SHOTS[0].parent}")
