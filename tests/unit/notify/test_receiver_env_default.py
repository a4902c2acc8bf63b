"""A receiver's ``{env: VAR, default: URL}`` target: the default is a plain local URL checked as a
written one is; a set variable wins; a set but empty one is an error naming the reference."""

import textwrap
from pathlib import Path

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.notify.message import verification_message
from killswitch.notify.receivers import ReceiverError, resolve_receiver
from killswitch.notify.sink import NotifySink
from killswitch.policy.load import load_text
from killswitch.policy.routes_doc import NotificationRoutes
from killswitch.render.diagnostics import validate_json, validate_text
from tests.procs import Receiver

SECRET = "xoxb-5be1f00dTOKEN"
ROUTES = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: NotificationRoutes
    metadata: {{name: desk}}
    spec:
      route: {{receiver: hook}}
      receivers:
        - name: hook
          apprise: [{{env: KS_TEST_HOOK, default: "{default}"}}]
    """
)
EXAMPLE = Path(__file__).resolve().parents[3] / "policies" / "routes.yaml"


def compiled(text: str, file: str = "routes.yaml"):
    return compile_documents(load_text(text, file))


def the_receiver(text: str):
    res = compiled(text)
    assert not res.errors, [d.message for d in res.errors]
    doc = next(d.model for d in res.docs if isinstance(d.model, NotificationRoutes))
    return doc.spec.receivers[0]


def test_a_plain_local_default_is_accepted():
    [target] = the_receiver(ROUTES.format(default="json://127.0.0.1:9099/killswitch")).apprise
    assert (target.env, target.default) == ("KS_TEST_HOOK", "json://127.0.0.1:9099/killswitch")


@pytest.mark.parametrize("default", [f"slack://{SECRET}/B/C", f"json://user:{SECRET}@127.0.0.1/hook"])
def test_a_default_that_can_carry_a_token_is_ks209_at_its_position(default):
    res = compiled(ROUTES.format(default=default))
    [err] = res.errors
    assert (err.code, err.file, err.pos.line, err.pos.col) == ("KS209", "routes.yaml", 8, 46)  # the default's value
    shown = validate_text(res, 1, False) + validate_json(res, 1, False)
    assert SECRET not in shown


def test_a_default_without_env_is_refused():
    res = compiled(ROUTES.format(default="json://127.0.0.1:9/x").replace("env: KS_TEST_HOOK, ", ""))
    [err] = res.errors
    assert (err.code, err.pos.line, err.hint) == ("KS103", 8, "write it beside env")
    assert "default is the URL of an {env: VAR} target while VAR is unset" in err.message


def test_the_default_is_used_while_the_variable_is_unset_and_a_set_one_wins():
    spec = the_receiver(ROUTES.format(default="json://127.0.0.1:9099/killswitch"))
    unset = resolve_receiver(spec, environ={})
    assert [(p.host, p.port) for p in unset.apprise] == [("127.0.0.1", 9099)]
    assert unset.targets == ("json://127.0.0.1:9099/… (default of {env: KS_TEST_HOOK})",)
    set_ = resolve_receiver(spec, environ={"KS_TEST_HOOK": "json://127.0.0.1:39399/killswitch"})
    assert [(p.host, p.port) for p in set_.apprise] == [("127.0.0.1", 39399)]
    assert set_.targets == ("{env: KS_TEST_HOOK, default: json://127.0.0.1:9099/…}",)


@pytest.mark.parametrize("value", ["", "  \n", "# only a comment\n"])
def test_a_variable_set_but_empty_is_an_error_naming_the_reference(value):
    spec = the_receiver(ROUTES.format(default="json://127.0.0.1:9099/killswitch"))
    with pytest.raises(ReceiverError) as e:
        resolve_receiver(spec, environ={"KS_TEST_HOOK": value})
    assert str(e.value) == 'receiver "hook": {env: KS_TEST_HOOK} is set but empty'


def test_the_example_fallback_moves_with_ks_audit_webhook_url(monkeypatch):
    """The runner's own resolution (``NotifySink.from_documents`` from the process environment, as
    :mod:`killswitch.process.bootstrap` builds it) sends the example routes' fallback to the
    port the variable names; unset, to 9099."""
    res = compiled(EXAMPLE.read_text(), "routes.yaml")
    assert not res.errors, [d.message for d in res.errors]
    routes = [d.model for d in res.docs if isinstance(d.model, NotificationRoutes)]
    assert routes[0].spec.fallback_receiver == "audit-webhook"
    monkeypatch.delenv("KS_AUDIT_WEBHOOK_URL", raising=False)
    unset = NotifySink.from_documents(routes, strict=False).receivers[("desk", "audit-webhook")]
    assert [(p.host, p.port) for p in unset.apprise] == [("127.0.0.1", 9099)]
    listener = Receiver()
    try:
        monkeypatch.setenv("KS_AUDIT_WEBHOOK_URL", f"json://127.0.0.1:{listener.port}/killswitch")
        sink = NotifySink.from_documents(routes, strict=False)
        hook = sink.receivers[("desk", "audit-webhook")]
        assert hook.send(verification_message("audit-webhook", 0), 5.0).ok
        assert len(listener.bodies) == 1 and b"test notification to audit-webhook" in listener.bodies[0]
    finally:
        listener.close()
