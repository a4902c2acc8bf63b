"""docs/openapi.yaml against the routes the runner serves: every route of the aiohttp app that
``make_app`` builds over a real runner (the one ``ksctl run`` serves) is documented with its
method and path, and the document names no route the app does not serve. The route table is read
from the app's router, never from a list kept beside it. Each operation of the operations' table
(killswitch/view/operations.py) is documented with the roles it asks and the fields of
its body the table spells out."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from killswitch.face.api.api import make_app
from killswitch.face.api.signin import Signin
from killswitch.face.api.signin.config import parse_oidc_config
from killswitch.face.api.signin.provider import Metadata, Provider, ProviderKeys
from killswitch.view.operations import OPERATIONS, READER, Operation, roles_of
from tests.integration.runner.rig import setup

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def served_routes(tmp_path) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the runner's app serves, its path as the router names it
    (``/v1/close/{id}``: the pattern of a variable dropped). HEAD, which aiohttp adds beside each
    GET, is checked apart."""
    runner, *_, store, _, desk = setup(tmp_path)
    try:  # with single sign-on, whose routes are served only then (a provider it never calls)
        key = tmp_path / "cookie.key"
        key.write_text("k" * 48)
        config = parse_oidc_config({"apiVersion": "killswitch/v1", "kind": "OidcSignin",
                                    "issuer": "https://login.desk.example", "client_id": "killswitch",
                                    "external_url": "https://killswitch.desk.example", "cookie_key_file": str(key)})
        provider = Provider(config, Metadata(config.issuer, "https://a", "https://t", "https://j", ("RS256",)),
                            ProviderKeys(lambda: {"keys": []}))
        app = make_app(desk, token="t0ken-for-tests-only", signin=Signin(config, provider))
        routes = {(route.method, route.resource.canonical) for route in app.router.routes()}
    finally:
        store.close()
    heads = {(m, p) for m, p in routes if m == "HEAD"}
    assert heads == {("HEAD", p) for m, p in routes if m == "GET"}, "HEAD is served beside every GET, and only there"
    return routes - heads


def documented_routes() -> set[tuple[str, str]]:
    doc = YAML(typ="safe").load(OPENAPI.read_text())
    assert str(doc["openapi"]).startswith("3."), doc["openapi"]
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in METHODS}


def test_every_served_route_is_documented_and_every_documented_route_is_served(tmp_path):
    served, documented = served_routes(tmp_path), documented_routes()
    assert len(served) > 30, "the route table was not read"
    assert served - documented == set(), "served but not in docs/openapi.yaml"
    assert documented - served == set(), "in docs/openapi.yaml but not served"


def test_every_operation_says_who_may_call_it_and_names_its_path_parameters():
    doc = YAML(typ="safe").load(OPENAPI.read_text())
    ids = []
    for path, item in doc["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            ids.append(op["operationId"])
            assert op["summary"] and op["responses"], (method, path)
            public = op.get("security") == []
            assert public != bool(op.get("x-roles")), f"{method} {path}: public, or the roles it needs"
            given = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert given == names, f"{method} {path}: path parameters {given} for {names}"
    assert len(ids) == len(set(ids)), "operationIds are unique"


def undocumented(doc: dict, ops) -> list[str]:
    """What ``doc`` says otherwise than the table of ``ops``: who may call each (``security: []``
    for anyone, ``x-roles``, ``x-console-public`` for the console's readers) and, where the table
    spells out the fields, those its body holds and those it requires."""
    wrong = []
    for op in ops:
        entry = doc["paths"][re.sub(r"\{(\w+):[^}]*\}", r"{\1}", op.path)][op.method.lower()]
        said = (entry.get("security") == [], set(entry.get("x-roles", [])), bool(entry.get("x-console-public")))
        meant = (op.roles is None, set(roles_of(op.roles) or ()), READER in (op.roles or ()))
        if said != meant:
            wrong.append(f"{op.method} {op.path}: (public, roles, console-public) {said}, the table {meant}")
        if op.args:
            schema = entry.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            fields = (set(schema.get("properties", {})), set(schema.get("required", [])))
            if fields != ({a.name for a in op.args}, {a.name for a in op.args if a.required}):
                wrong.append(f"{op.method} {op.path}: fields (all, required) {fields}, the table {op.args}")
    return wrong


def test_every_operation_is_documented_as_the_table_says():
    doc = YAML(typ="safe").load(OPENAPI.read_text())
    assert undocumented(doc, OPERATIONS) == []


def test_an_operation_documented_otherwise_is_found():
    doc = YAML(typ="safe").load(OPENAPI.read_text())
    arm = next(op for op in OPERATIONS if op.name == "dms_arm")
    assert undocumented(doc, [Operation(**{**arm.__dict__, "roles": ("approver",)})]) != []
    assert undocumented(doc, [Operation(**{**arm.__dict__, "args": arm.args[:1]})]) != []
