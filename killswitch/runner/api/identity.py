"""Who is calling the runner's API: identities with roles, from a tokens document.

Every caller of a mutating endpoint is an identity. The tokens document (a file, in production a
mounted Kubernetes Secret) maps the SHA-256 of each token to an identity and its roles; the
tokens themselves are never stored, logged or shown::

    apiVersion: killswitch/v1
    kind: ApiTokens
    tokens:
      - identity: alice
        roles: [operator, approver]
        sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8

``ksctl token new --identity alice --roles operator,approver`` makes a token and prints the
entry. Roles:

- ``viewer``: reads (the read endpoints need no token today; the role is there for the console);
- ``bot``: heartbeats;
- ``operator``: heartbeats, locks, unlocks, manual closes, the dead man's switch;
- ``approver``: reset approvals. The approver of a reset is the caller's identity, never a
  name in the body, so two approvals need two identities (and two tokens);
- ``drift``: a policy drift checker (``ksctl drift --post``): posts its verdict about the runner
  and reads the status, nothing else.

Identity names are normalised (Unicode NFKC, case-folded) and must then be
``[a-z0-9][a-z0-9._@+-]{0,63}``: ASCII only, so no look-alike letters. Two entries that normalise
to one name, or share a token, are refused when the document is read.

The single token of ``--api-token-env`` (``KS_API_TOKEN``), if set, is one more identity,
``shared-token``: alone, it has every role and keeps working, but as one person (a reset that
needs two approvers cannot pass on it); beside a tokens document it has every role but
``approver``, so that nobody holding it and a personal token counts as two approvers.

What it must not do: keep or print a token in the clear, compare digests other than with
:func:`hmac.compare_digest`, or accept a document it cannot read completely.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

ROLES = ("viewer", "bot", "operator", "approver", "drift")
SHARED_IDENTITY = "shared-token"
TOKENS_KIND = "ApiTokens"
IDENTITY_RE = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")
DIGEST_RE = re.compile(r"[0-9a-f]{64}")
MAX_TOKENS_BYTES = 1_000_000


class TokensError(ValueError):
    """The tokens document cannot be used; the message says where and why (never a token)."""


def normalise_identity(name: str) -> str:
    """``Alice`` and ``ａｌｉｃｅ`` are ``alice``."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of a token, as the tokens document keeps it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Identity:
    name: str
    roles: frozenset[str]

    def may(self, role: str) -> bool:
        return role in self.roles


class Tokens:
    """Token digests → identities. Looking up takes the same time whichever entry matches."""

    def __init__(self, entries: Iterable[tuple[bytes, Identity]] = ()):
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Tokens({', '.join(e[1].name for e in self._entries)})"

    @property
    def identities(self) -> tuple[Identity, ...]:
        return tuple(e[1] for e in self._entries)

    def digests(self) -> tuple[str, ...]:
        """The hex digests this holds (for the log's scrubber: they are the tokens document's)."""
        return tuple(d.hex() for d, _ in self._entries)

    def identify(self, presented: bytes) -> Optional[Identity]:
        digest = hashlib.sha256(presented).digest()
        found: Optional[Identity] = None
        for d, ident in self._entries:  # no early exit: the time does not tell which entry matched
            if hmac.compare_digest(d, digest):
                found = ident
        return found

    def with_shared(self, token: Optional[str]) -> "Tokens":
        """These tokens and the single shared one (as :data:`SHARED_IDENTITY`, every role)."""
        if not token:
            return self
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        if any(hmac.compare_digest(d, digest) for d, _ in self._entries):
            raise TokensError("the shared API token is also listed in the tokens document; give each person "
                              "their own token")
        if any(i.name == SHARED_IDENTITY for _, i in self._entries):
            raise TokensError(f"the identity {SHARED_IDENTITY!r} is reserved for the shared API token")
        # Beside personal tokens the shared one approves nothing: otherwise one person holding
        # both would be two approvers.
        roles = frozenset(ROLES) if not self._entries else frozenset(ROLES) - {"approver"}
        return Tokens(self._entries + ((digest, Identity(SHARED_IDENTITY, roles)),))


class LiveTokens:
    """The identities the API authenticates against now: a tokens document with the shared token
    added (:meth:`Tokens.with_shared`), replaced whole when the document is read again (a reload:
    SIGHUP, or the file changed). One reference swapped: a request is checked against the old set
    or the new one, never a mix. A document that cannot be used is refused by :meth:`replace` and
    the identities in force stay."""

    def __init__(self, document: Optional[Tokens] = None, shared: Optional[str] = None):
        self.shared = shared
        self.document = document or Tokens()
        self.current = self.document.with_shared(shared)  # raises TokensError

    def replace(self, document: Tokens) -> "Tokens":
        """Put ``document`` in force (with the shared token); raises :class:`TokensError`, and
        changes nothing, when the two cannot stand together. Returns the document it replaced."""
        current = document.with_shared(self.shared)
        old, self.document, self.current = self.document, document, current
        return old


def parse_tokens(doc: Any, where: str = "tokens") -> Tokens:
    """A tokens document (parsed YAML or JSON) → :class:`Tokens`; raises :class:`TokensError`
    naming the first problem (every problem of one entry at once)."""
    if not isinstance(doc, dict):
        raise TokensError(f"{where}: expected a mapping with apiVersion, kind and tokens")
    unknown = sorted(set(doc) - {"apiVersion", "kind", "tokens"})
    if unknown:
        raise TokensError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: apiVersion, kind, tokens")
    if doc.get("apiVersion") != "killswitch/v1" or doc.get("kind") != TOKENS_KIND:
        raise TokensError(f"{where}: expected apiVersion killswitch/v1 and kind {TOKENS_KIND}")
    items = doc.get("tokens")
    if not isinstance(items, list):
        raise TokensError(f"{where}: tokens must be a list of {{identity, roles, sha256}}")
    entries: list[tuple[bytes, Identity]] = []
    names: dict[str, int] = {}
    digests: dict[str, int] = {}
    for i, item in enumerate(items):
        at = f"{where}: tokens[{i}]"
        if not isinstance(item, dict):
            raise TokensError(f"{at}: expected a mapping with identity, roles and sha256")
        unknown = sorted(set(map(str, item)) - {"identity", "roles", "sha256"})
        if unknown:
            raise TokensError(f"{at}: unknown key(s) {', '.join(unknown)}; known: identity, roles, sha256")
        raw = item.get("identity")
        if not isinstance(raw, str):
            raise TokensError(f"{at}: identity must be a string")
        name = normalise_identity(raw)
        if not IDENTITY_RE.fullmatch(name):
            raise TokensError(f"{at}: identity {raw!r} must be 1 to 64 of a-z 0-9 . _ @ + - (ASCII, "
                              "starting with a letter or digit)")
        if name in names:
            raise TokensError(f"{at}: identity {name!r} is already tokens[{names[name]}] (names are compared "
                              "case-insensitively)")
        roles = item.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise TokensError(f"{at}: roles must be a non-empty list of {', '.join(ROLES)}")
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise TokensError(f"{at}: unknown role(s) {', '.join(map(repr, bad))}; roles are {', '.join(ROLES)}")
        digest = item.get("sha256")
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest.lower()):
            raise TokensError(f"{at}: sha256 must be the 64 hex digits of the token's SHA-256 "
                              "(ksctl token new prints it)")
        digest = digest.lower()
        if digest in digests:
            raise TokensError(f"{at}: the same token as tokens[{digests[digest]}]; give each identity its own token")
        names[name] = i
        digests[digest] = i
        entries.append((bytes.fromhex(digest), Identity(name, frozenset(roles))))
    return Tokens(entries)


def load_tokens(path: str | Path) -> Tokens:
    """Read a tokens document (YAML or JSON). Raises :class:`TokensError`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise TokensError(f"{p}: cannot read the tokens document ({e.strerror or type(e).__name__})") from None
    if len(data) > MAX_TOKENS_BYTES:
        raise TokensError(f"{p}: larger than {MAX_TOKENS_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TokensError(f"{p}: not UTF-8") from None
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else _yaml(text)
    except TokensError:
        raise
    except Exception as e:  # noqa: BLE001 - a parse error of any kind is a bad document
        raise TokensError(f"{p}: not valid YAML or JSON ({type(e).__name__})") from None
    return parse_tokens(doc, str(p))


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe", pure=True).load(text)
    return doc


__all__ = ["Identity", "LiveTokens", "ROLES", "SHARED_IDENTITY", "Tokens", "TokensError", "load_tokens",
           "normalise_identity", "parse_tokens", "token_digest"]
