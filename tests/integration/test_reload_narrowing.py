"""A reload that narrows a policy to one account the runner runs (``ksctl run --accounts``) is
taken up, though the policy directory's own Accounts document (the firm's accounts) does not
declare it; the account is named as the CLI names it (``venue/name``) or by its name; a typo is
refused, the hint naming the Accounts document checked and the closest name."""

from __future__ import annotations

import asyncio
import shutil

from killswitch.process.daemon import Daemon
from killswitch.process.options import RunOptions
from tests.conftest import POLICIES
from tests.integration.test_policy_reload import _routes, exchange, receiver  # noqa: F401 - fixtures
from tests.procs import accounts_file, paced_by_the_simulator, until

WATCHED = "    accounts: {match_labels: {book: futures}}\n"


def test_a_reload_narrowing_a_policy_to_a_running_account_is_taken_up(tmp_path, exchange, receiver,  # noqa: F811
                                                                      monkeypatch):
    pol = tmp_path / "policies"
    pol.mkdir()
    book = (POLICIES / "futures-book.yaml").read_text().replace("interval: 5s", "interval: 200ms")
    assert WATCHED in book
    (pol / "futures-book.yaml").write_text(book)
    shutil.copy(POLICIES / "accounts.yaml", pol / "accounts.yaml")
    assert "sim-main" not in (pol / "accounts.yaml").read_text()  # the firm's accounts, not this runner's
    _routes(pol, receiver)
    paced_by_the_simulator(monkeypatch)
    monkeypatch.setenv("KS_T_KEY", "sim-main-key")
    monkeypatch.setenv("KS_T_SECRET", "sim-main-secret")
    monkeypatch.delenv("KS_API_TOKEN", raising=False)
    runner_accounts = tmp_path / "runner"
    runner_accounts.mkdir()
    opts = RunOptions((str(pol),), str(accounts_file(runner_accounts, exchange)), f"sqlite://{tmp_path / 'state.db'}",
                      str(tmp_path / "lock.json"), api_port=None)
    said: list[str] = []
    daemon = Daemon(opts, said.append, said.append)

    async def reload(names: str) -> None:
        parts = daemon.parts
        before = parts.book.graph.digest
        (pol / "futures-book.yaml").write_text(book.replace(WATCHED, f"    accounts: {{names: [{names}]}}\n"))
        daemon.reload.set()  # what SIGHUP does
        await until(lambda: parts.reloads.error is not None or parts.book.graph.digest != before, f"reload {names}")

    async def scenario() -> int:
        run = asyncio.create_task(daemon.run())
        await until(lambda: daemon.runner is not None and daemon.parts.counters["ticks"] >= 1, "a first tick")
        parts = daemon.parts
        for names in ("sim-main", "binanceusdm/sim-main"):
            await reload(names)
            assert parts.reloads.error is None, parts.reloads.error
            assert parts.book.graph.policies[0].scope["accounts"]["names"] == [names]
        kept = parts.book.graph.digest
        await reload("sim-mian")
        error = parts.reloads.error
        assert error is not None and parts.book.graph.digest == kept
        assert 'error[KS104]: scope names unknown account "sim-mian"' in error, error
        # the hint rides with the error into the status's RELOAD FAILED line and the page (its event's error)
        assert '\n  hint: did you mean "sim-main"?' in error, error
        daemon.stop.set()
        return await run

    assert asyncio.run(scenario()) == 0
    hint = next(line for line in "\n".join(said).splitlines()
                if line.startswith("  hint: ") and "sim-mian" not in line)
    assert hint.startswith('  hint: did you mean "sim-main"? checked against the Accounts document '), hint
    assert "accounts.yaml and the accounts this runs with (--accounts)" in hint, hint
    assert "binanceusdm/sim-main" in hint and "binance-futures-main" in hint, hint
