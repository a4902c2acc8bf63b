"""Secrets are references; a literal secret is refused and never repeated in any output."""

import json
import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text
from killswitch.render.diagnostics import validate_json, validate_text

SECRET = "sk_live_9f8e7d6c5b4a3210FEDCBA"

ACCOUNTS = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Accounts
    metadata: {{name: prod}}
    spec:
      dry_run: false
      accounts:
        - name: main
          venue: binanceusdm
          market_type: futures
          credentials:
            api_key: {value}
            secret: {{env: {env}}}
    """
)


def outputs(text):
    result = compile_documents(load_text(text, "a.yaml"))
    return result, validate_text(result, 1, False) + validate_json(result, 1, False)


@pytest.mark.parametrize(
    "api_key,env",
    [
        (SECRET, "OK_VAR"),  # literal key
        (f'"{SECRET}"', "OK_VAR"),  # quoted literal key
        (f"{{env: {SECRET}-x}}", "OK_VAR"),  # a secret pasted where the variable name goes
        (f"{{env: OK, value: {SECRET}}}", "OK_VAR"),  # an unknown key holding the secret
        (f"[{SECRET}]", "OK_VAR"),
        ("{env: OK_VAR}", f"{SECRET}-x"),  # an invalid variable name that is really a secret
    ],
)
def test_secret_never_echoed(api_key, env):
    result, text = outputs(ACCOUNTS.format(value=api_key, env=env))
    assert result.errors, "a literal or malformed credential must be an error"
    assert SECRET not in text
    assert SECRET not in json.dumps([x.to_dict() for x in result.diagnostics])


def test_literal_credential_is_ks209_at_its_position():
    result, _ = outputs(ACCOUNTS.format(value=SECRET, env="OK"))
    [err] = result.errors
    assert (err.code, err.pos.line, err.pos.col) == ("KS209", 11, 18)


@pytest.mark.parametrize(
    "url,ok",
    [
        ("json://127.0.0.1:9099/hook", True),
        (f"slack://{SECRET}/B/C", False),
        (f"json://user:{SECRET}@127.0.0.1/hook", False),
        (f"tgram://{SECRET}/chat", False),
    ],
)
def test_notification_urls_with_tokens_must_be_references(url, ok):
    text = textwrap.dedent(
        f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route: {{receiver: r}}
          receivers: [{{name: r, apprise: ["{url}"]}}]
        """
    )
    result, out = outputs(text)
    assert (not result.errors) is ok
    if not ok:
        assert [x.code for x in result.errors] == ["KS209"]
    assert SECRET not in out


@pytest.mark.parametrize("value,dry", [("false", False), ("true", True), ('"false"', True), ("no", True),
                                        ("0", True), ("null", True), ("off", True)])
def test_dry_run_fails_closed(value, dry):
    text = ACCOUNTS.replace("dry_run: false", f"dry_run: {value}").format(value="{env: K}", env="S")
    result = compile_documents(load_text(text, "a.yaml"))
    doc = result.docs[0]
    assert doc.model.spec.dry_run is dry
    warned = [x.code for x in result.warnings]
    assert warned == ([] if value in ("false", "true") else ["KS210"])


def test_dry_run_defaults_to_true():
    text = ACCOUNTS.replace("  dry_run: false\n", "").format(value="{env: K}", env="S")
    assert compile_documents(load_text(text, "a.yaml")).docs[0].model.spec.dry_run is True
