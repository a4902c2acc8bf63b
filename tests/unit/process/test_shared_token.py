"""Where ``ksctl run`` takes its shared API token from (:mod:`killswitch.process.shared`): beside
a tokens document, the variable of ``--api-token-env`` only when that option is given (it is the
client verbs' ``KS_API_TOKEN`` too), said in a WARNING that names whose token it is, never the
token; without a document, the variable as before; the file of ``--api-token-file`` always."""

from __future__ import annotations

from killswitch.face.api.identity import SHARED_IDENTITY, Tokens, parse_tokens, token_digest
from killswitch.process.options import RunOptions
from killswitch.process.shared import beside_warning, shared_token_of

ALICE, STALE = "tok-alice-0123456789", "tok-stale-0123456789"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["operator", "approver"], "sha256": token_digest(ALICE)}]})


def opts(**kw) -> RunOptions:
    return RunOptions(("p",), "a.yaml", "sqlite://x", "lock.json", **kw)


def test_beside_a_tokens_document_the_exported_token_is_not_taken_and_whose_it_is_is_said():
    got = shared_token_of(opts(), PEOPLE, {"KS_API_TOKEN": ALICE})
    assert got.token is None and got.problem is None
    assert got.ignored.startswith("ksctl run: WARNING: KS_API_TOKEN is set but not taken as the shared API token")
    assert "it is alice's personal token, which works as alice" in got.ignored and ALICE not in got.ignored
    assert got.ignored.endswith("pass --api-token-env KS_API_TOKEN to also use it as a shared token")
    stale = shared_token_of(opts(), PEOPLE, {"KS_API_TOKEN": STALE})
    assert stale.token is None and "the tokens document does not list it" in stale.ignored
    assert STALE not in stale.ignored and "personal" not in stale.ignored
    assert shared_token_of(opts(), PEOPLE, {"KS_API_TOKEN": ""}) == shared_token_of(opts(), PEOPLE, {})
    assert shared_token_of(opts(), PEOPLE, {}).ignored is None
    # a document with groups only is a tokens document too
    groups = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens",
                           "groups": [{"group": "risk", "roles": ["operator"]}]})
    assert shared_token_of(opts(), groups, {"KS_API_TOKEN": STALE}).token is None


def test_asked_for_or_alone_the_variable_is_the_shared_token_named_by_its_source():
    asked = shared_token_of(opts(api_token_env="KS_API_TOKEN", api_token_env_given=True), PEOPLE,
                            {"KS_API_TOKEN": STALE})
    assert (asked.token, asked.source, asked.ignored) == (STALE, "KS_API_TOKEN", None)
    alone = shared_token_of(opts(), None, {"KS_API_TOKEN": STALE})  # the quick start, the chart's simple mode
    assert (alone.token, alone.source, alone.ignored) == (STALE, "KS_API_TOKEN", None)
    other = shared_token_of(opts(api_token_env="DESK_TOKEN", api_token_env_given=True), PEOPLE,
                            {"DESK_TOKEN": STALE, "KS_API_TOKEN": ALICE})
    assert (other.token, other.source) == (STALE, "DESK_TOKEN")


def test_the_file_is_taken_beside_a_document_and_named_by_its_path(tmp_path):
    f = tmp_path / "api-token"
    f.write_text(STALE + "\n")
    got = shared_token_of(opts(api_token_file=str(f)), PEOPLE, {"KS_API_TOKEN": ALICE})
    assert (got.token, got.source, got.ignored) == (STALE, f"--api-token-file {f}", None)
    missing = shared_token_of(opts(api_token_file=str(tmp_path / "none")), PEOPLE, {})
    assert missing.token is None and "SECRET_FILE_MISSING: --api-token-file" in missing.problem


def test_a_shared_token_beside_personal_ones_is_said_with_the_roles_it_carries():
    shared = PEOPLE.with_shared(STALE).identify(STALE.encode())
    assert shared.name == SHARED_IDENTITY
    said = beside_warning("KS_API_TOKEN", shared)
    assert said == ("ksctl run: WARNING: the shared API token from KS_API_TOKEN is taken beside the tokens document: "
                    "every request with it acts as shared-token with roles bot, drift, operator, viewer, whoever "
                    "sends it")
    assert "approver" in beside_warning("KS_API_TOKEN", Tokens().with_shared(STALE).identify(STALE.encode()))
