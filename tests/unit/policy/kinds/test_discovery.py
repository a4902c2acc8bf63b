"""The kinds package finds its modules (killswitch/policy/kinds/__init__.py): a kind is a module
exposing ``KIND``, found without a line listed anywhere, in the order of the modules' names; a
module that is not a kind fails the import naming it; the catalogue keeps a built-in kind moved
into a module in its place and refuses two kinds of one name."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import textwrap
from dataclasses import replace

import pytest

from killswitch.policy import kinds
from killswitch.policy.actions import ACTIONS
from killswitch.policy.catalogue import build_catalogue
from killswitch.policy.kinds import KindModuleError, discover
from killswitch.policy.signals import SIGNALS

SIGNAL_MODULE = """
from killswitch.policy.registry import SignalKind, SignalParams, no_parameters

class Params(SignalParams):
    \"\"\"A kind of a test package.\"\"\"

KIND = SignalKind({name!r}, Params, build=no_parameters, evaluate=lambda p, inputs, now: (0.0, None))
"""
ACTION_MODULE = """
from killswitch.policy.registry import ActionKind, Strict, no_parameters

class Params(Strict):
    \"\"\"An action of a test package.\"\"\"

KIND = ActionKind({name!r}, Params, build=no_parameters, plan=lambda p, planning: None)
"""
# the package's own __init__ as every kinds package would have it
PACKAGE_INIT = """
from killswitch.policy.kinds import discover

SIGNALS, ACTIONS = discover(__path__, __name__)
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    """Writes a kinds package of ``files`` (name → source) under a fresh name and imports it."""
    made: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(files: dict[str, str]):
        name = f"kinds_{tmp_path.name}_{len(made)}"
        made.append(name)
        root = tmp_path / name
        root.mkdir()
        (root / "__init__.py").write_text(PACKAGE_INIT)
        for module, text in files.items():
            (root / f"{module}.py").write_text(textwrap.dedent(text))
        importlib.invalidate_caches()
        return importlib.import_module(name)

    yield make
    for name in list(sys.modules):
        if any(name == m or name.startswith(m + ".") for m in made):
            del sys.modules[name]


def test_the_project_kinds_are_found_by_their_modules_in_the_order_of_their_names():
    modules = sorted(m.name for m in pkgutil.iter_modules(kinds.__path__) if not m.name.startswith("_"))
    signals, actions = [k.name for k in kinds.SIGNALS], [k.name for k in kinds.ACTIONS]
    assert sorted(signals + actions) == modules  # every module a kind, named as its module: none listed by hand
    assert signals == sorted(signals) and actions == sorted(actions)
    assert {"data_age", "open_orders"} <= set(signals) and "reduce_all_by" in actions


@pytest.mark.parametrize("catalogue, found, last_built_in", [
    (SIGNALS, kinds.SIGNALS, "heartbeat_age"), (ACTIONS, kinds.ACTIONS, "runbook")], ids=["signals", "actions"])
def test_a_found_kind_is_in_the_language_after_the_built_in_kinds(catalogue, found, last_built_in):
    names = list(catalogue)
    tail = names[names.index(last_built_in) + 1:]
    assert tail and tail == [k.name for k in found if k.name in tail]  # in the order of their modules
    placed = [k.name for k in found if k.name not in tail]  # built-in kinds moved into a module: in their place
    assert all(names.index(name) < names.index(last_built_in) or name == last_built_in for name in placed)


def test_a_built_in_kind_moved_into_a_module_keeps_its_place_once():
    names = list(SIGNALS)
    assert names.count("data_age") == 1
    assert names[names.index("consecutive_losses") + 1] == "data_age"


def test_a_new_module_is_a_kind_without_any_listing(package):
    pkg = package({"zeta": SIGNAL_MODULE.format(name="zeta"), "alpha": SIGNAL_MODULE.format(name="alpha"),
                   "middle": ACTION_MODULE.format(name="middle")})
    assert [k.name for k in pkg.SIGNALS] == ["alpha", "zeta"]  # by module name, not by file system order
    assert [k.name for k in pkg.ACTIONS] == ["middle"]


def test_a_module_whose_name_starts_with_an_underscore_is_a_helper_not_a_kind(package):
    pkg = package({"one": SIGNAL_MODULE.format(name="one"), "_shared": "LIMIT = 3\n"})
    assert [k.name for k in pkg.SIGNALS] == ["one"] and pkg.ACTIONS == ()


def test_a_module_without_KIND_fails_the_import_of_the_package_naming_it(package):
    with pytest.raises(KindModuleError, match=r"kinds_\w+\.stray: a kind module exposes its SignalKind or "
                                              r"ActionKind as KIND, and this one has no KIND"):
        package({"one": SIGNAL_MODULE.format(name="one"), "stray": "X = 1\n"})


def test_a_KIND_of_another_type_fails_the_import_naming_its_type(package):
    with pytest.raises(KindModuleError, match=r"\.odd: KIND is a str, not a SignalKind or an ActionKind"):
        package({"odd": "KIND = 'odd'\n"})


def test_discover_reads_only_the_path_it_is_given(tmp_path):
    assert discover([str(tmp_path)], "nothing_here") == ((), ())


def test_two_kinds_of_one_name_are_refused_by_the_catalogue():
    twin = replace(SIGNALS["data_age"], name="open_orders")
    with pytest.raises(ValueError, match="two kinds are named 'open_orders'"):
        build_catalogue(tuple(SIGNALS), (*kinds.SIGNALS, twin))


def test_a_found_kind_the_catalogue_placed_is_not_added_twice():
    placed = ("equity_drawdown", "data_age")
    rest = [k.name for k in kinds.SIGNALS if k.name not in placed]  # in their modules' order
    assert list(build_catalogue(placed, kinds.SIGNALS)) == ["equity_drawdown", "data_age", *rest]
    assert build_catalogue(placed, kinds.SIGNALS)["data_age"] is SIGNALS["data_age"]


def test_a_placed_name_no_kind_has_is_refused_by_the_catalogue():
    with pytest.raises(ValueError, match="no kind module has the kinds equity_drawdon"):
        build_catalogue(("equity_drawdon",), kinds.SIGNALS)
