"""``ksctl validate`` checks documents: it never loads the runner, ccxt or any module of the adapters.

Its weight-budget check (KS230/KS231) reads the venues' declared REST weights (the dialects' own,
kept by ``killswitch/dialect_tables.py`` once read from them) and the pace the runner would tick
at; neither needs the runner's parts nor the adapters, whose import (the venue dialects with
asyncio and the snapshot types) costs validate about a third of its CPU. Once the dialects' rows
are kept (the first process that reads them after a change of theirs keeps them: a fixture here),
a module of either, imported by validate, fails here by name; so does a scan for pydantic's
plugins, which ksctl leaves out unless the operator asks for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json, runpy, sys
sys.argv = ["ksctl", "validate", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("killswitch.cli.main", run_name="__main__")
except SystemExit as e:
    code = e.code
loader = sys.modules.get("pydantic.plugin._loader")
print(json.dumps({"code": code, "modules": sorted(sys.modules),
                  "plugins_scanned": loader is not None and loader._plugins is not None}), file=sys.stderr)
"""

FORBIDDEN = ("killswitch.runner", "adapters", "ccxt", "aiohttp", "psycopg")


@pytest.fixture(autouse=True, scope="module")
def _venue_tables_kept():
    """The dialects' rows read and kept once, as any ksctl process since their last change has."""
    subprocess.run([sys.executable, "-c", "from killswitch.dialect_tables import tables; tables()"], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


def _validate(*args: str, env_extra: dict | None = None) -> tuple[object, str, list[str]]:
    """validate's exit code, its output, and the forbidden modules its process imported."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}  # as ksctl finds it
    env.update({"PYTHONPATH": str(ROOT), **(env_extra or {})})
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    bad = [m for m in seen["modules"] if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    if seen["plugins_scanned"]:
        bad.append("pydantic plugins scanned")
    return seen["code"], proc.stdout, bad


def test_validate_imports_neither_the_runner_nor_the_adapters():
    code, out, bad = _validate(str(ROOT / "policies"), "--accounts", str(ROOT / "policies" / "accounts.yaml"))
    assert code in (0, None), out
    assert "ok:" in out  # the check ran, the weight budget with it
    assert bad == []


def test_the_weight_budget_finds_an_overload_without_the_dialects(tmp_path):
    # six Binance USD-M accounts polled every 5 s need 3,600 of the IP's 2,400 weight a minute
    accounts = "".join(f"    - {{name: a{i}, venue: binanceusdm, market_type: futures, initial_capital: 1M,\n"
                       f"       credentials: {{api_key: {{env: K{i}}}, secret: {{env: S{i}}}}}}}\n" for i in range(6))
    (tmp_path / "accounts.yaml").write_text("apiVersion: killswitch/v1\nkind: Accounts\nmetadata: {name: prod}\n"
                                            "spec:\n  accounts:\n" + accounts)
    code, out, bad = _validate("--allow-empty", str(tmp_path))
    assert code == 1 and "KS230" in out and "binanceusdm" in out, out
    assert bad == []


def test_pydantic_plugins_are_not_looked_for_unless_the_operator_asks():
    # finding them reads every installed distribution's entry points: ~20 ms of validate
    code, out, bad = _validate(str(ROOT / "policies"), "--accounts", str(ROOT / "policies" / "accounts.yaml"))
    assert bad == []
    code, out, bad = _validate(str(ROOT / "policies"), "--accounts", str(ROOT / "policies" / "accounts.yaml"),
                               env_extra={"PYDANTIC_DISABLE_PLUGINS": ""})  # the operator lets them in
    assert bad == ["pydantic plugins scanned"]


# What only a finding (a did-you-mean, a template's traceback, a cache warning), a route's
# ``matchers:`` line or a live incident's journal (the order intents) needs: a clean validate of
# the example repository, which writes none and renders sample incidents, pays for none of them.
ON_DEMAND = ("killswitch.policy.matchers", "difflib", "logging", "traceback", "killswitch.orders")


def _imported(*args: str) -> tuple[object, str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    return seen["code"], proc.stdout, [m for m in ON_DEMAND if m in seen["modules"]]


def test_a_clean_validate_imports_what_only_findings_need_not():
    code, out, loaded = _imported(str(ROOT / "policies"))
    assert code in (0, None) and "ok:" in out, out
    assert loaded == []


def test_a_matchers_line_is_still_read_by_the_matchers_parser(tmp_path):
    routes = (ROOT / "policies" / "routes.yaml").read_text().replace(
        "      - match_re: {venue: \"binance.*\"}\n",
        "      - matchers: ['venue=~\"(binance\"']\n        receiver: desk-chat\n"
        "      - matchers: ['severity!=\"critical\"']\n")
    (tmp_path / "routes.yaml").write_text(routes)
    code, out, loaded = _imported(str(tmp_path))
    assert code == 1 and "(binance" in out and "ok:" not in out, out
    assert "killswitch.policy.matchers" in loaded


# Python 3.11's dataclass compiles each method it generates from text as the class is made, and
# gives a class with no docstring one made from ``inspect.signature``: a cost of every ksctl
# process. A dataclass of killswitch that validate imports has its own docstring, asks for no
# ordering it would have compiled, and one that is frozen is a record, whose methods but its
# __init__ are not compiled either (killswitch.records makes those).
DATACLASSES = """
import dataclasses, json, runpy, sys
sys.argv = ["ksctl", "validate", *sys.argv[1:]]
try:
    runpy.run_module("killswitch.cli.main", run_name="__main__")
except SystemExit:
    pass
seen, generated_doc, ordered, compiled = 0, [], [], []
for name, module in list(sys.modules.items()):
    if not name.startswith("killswitch"):
        continue
    for cls in vars(module).values():
        if isinstance(cls, type) and cls.__module__ == name and dataclasses.is_dataclass(cls):
            seen += 1
            params = cls.__dataclass_params__
            if (cls.__doc__ or "").startswith(cls.__name__ + "("):
                generated_doc.append(f"{name}.{cls.__qualname__}")
            if params.order:
                ordered.append(f"{name}.{cls.__qualname__}")
            if params.frozen:  # a frozen value class that is not a record
                compiled.append(f"{name}.{cls.__qualname__}")
print(json.dumps({"seen": seen, "generated_doc": sorted(generated_doc), "ordered": sorted(ordered),
                  "compiled": sorted(compiled)}), file=sys.stderr)
"""


def test_validate_builds_no_dataclass_method_it_can_go_without():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", DATACLASSES, str(ROOT / "policies")], capture_output=True, text=True,
                          env=env, timeout=120)
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    assert seen["seen"] > 50  # the probe found the classes: the compiler's nodes, the units, the kinds' parameters
    assert seen["generated_doc"] == []
    assert seen["ordered"] == []
    assert seen["compiled"] == []
