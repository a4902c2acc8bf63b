"""Who is calling the runner's API: identities with roles, from a tokens document.

Every caller of a mutating endpoint is an identity. The tokens document (a file, in production a
mounted Kubernetes Secret) maps the SHA-256 of each token to an identity and its roles (the
tokens themselves are never stored, logged or shown), a client certificate to one over mutual
TLS, and a person's groups (single sign-on, a trusted proxy) to roles, worked out again on each
request from the document in force. The document, the roles, the certificate matches, the
normalisation of names (two entries that normalise to one name, or share a token, are refused)
and the shared token's identity ``shared-token`` are docs/api.md's (*Who may do what*, *A client
certificate is an identity*).

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

from .documents import near, read_text

ROLES = ("viewer", "bot", "operator", "approver", "drift")
SHARED_IDENTITY = "shared-token"
TOKENS_KIND = "ApiTokens"
IDENTITY_RE = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")
DIGEST_RE = re.compile(r"[0-9a-f]{64}")
# client_cert's keys → the certificate's field they match (ssl.getpeercert()'s names)
CERT_FIELDS = {"subject_cn": "commonName", "san_dns": "DNS", "san_email": "email", "san_uri": "URI"}
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


CertMatch = tuple[str, str]  # (a key of CERT_FIELDS, the value it must be)


def cert_names(peercert: Any) -> set[CertMatch]:
    """What a verified client certificate (:meth:`ssl.SSLSocket.getpeercert`'s dict) may be
    matched by: its subject's common names and its subject alternative names."""
    out: set[CertMatch] = set()
    if not isinstance(peercert, dict):
        return out
    by_field = {v: k for k, v in CERT_FIELDS.items()}
    for rdn in peercert.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                out.add(("subject_cn", value))
    for kind, value in peercert.get("subjectAltName", ()):
        if kind in by_field and kind != "commonName":
            out.add((by_field[kind], value))
    return out


class Tokens:
    """Token digests and client certificates → identities. Looking a token up takes the same
    time whichever entry matches. ``certs``: (what a certificate must carry, identity)."""

    def __init__(self, entries: Iterable[tuple[bytes, Identity]] = (),
                 certs: Iterable[tuple[CertMatch, Identity]] = (),
                 groups: Optional[dict[str, frozenset[str]]] = None):
        self._entries = tuple(entries)
        self._certs = tuple(certs)
        self._groups = dict(groups or {})

    def __len__(self) -> int:
        return len(self._entries) + len(self._certs) + len(self._groups)

    @property
    def groups(self) -> dict[str, frozenset[str]]:
        """Group → roles (the document's ``groups``), for people signed in by group."""
        return dict(self._groups)

    def person(self, name: str, groups: Iterable[str]) -> Optional[Identity]:
        """The identity of a person an identity provider or a trusted proxy named, with the roles
        their groups map to now; None when the name is not a valid identity or no group maps."""
        normal = normalise_identity(name) if isinstance(name, str) else ""
        if not IDENTITY_RE.fullmatch(normal) or normal == SHARED_IDENTITY:
            return None
        roles: set[str] = set()
        for group in groups:
            roles |= self._groups.get(group, frozenset())
        return Identity(normal, frozenset(roles)) if roles else None

    def __repr__(self) -> str:
        return f"Tokens({', '.join(i.name for i in self.identities)})"

    @property
    def identities(self) -> tuple[Identity, ...]:
        """Each identity once: those with a token first, then those with a certificate only."""
        return tuple(dict.fromkeys(i for _, i in (*self._entries, *self._certs)))

    def digests(self) -> tuple[str, ...]:
        """The hex digests this holds (for the log's scrubber: they are the tokens document's)."""
        return tuple(d.hex() for d, _ in self._entries)

    def credentials(self) -> dict[str, str]:
        """Identity name → what it authenticates with, said without a token (a digest's hex or a
        certificate's match): a reload compares them to say whose credential changed."""
        out: dict[str, str] = {}
        for d, i in self._entries:
            out[i.name] = d.hex()
        for (key, value), i in self._certs:
            out[i.name] = out.get(i.name, "") + f" {key}={value}"
        return out

    def identify_cert(self, peercert: Any) -> Optional[Identity]:
        """The identity a verified client certificate is, when exactly one entry matches it."""
        names = cert_names(peercert)
        found = {i for match, i in self._certs if match in names}
        return found.pop() if len(found) == 1 else None

    def identify(self, presented: bytes) -> Optional[Identity]:
        digest = hashlib.sha256(presented).digest()
        found: Optional[Identity] = None
        for d, ident in self._entries:  # no early exit: the time does not tell which entry matched
            if hmac.compare_digest(d, digest):
                found = ident
        return found

    def with_shared(self, token: Optional[str], source: str = "") -> "Tokens":
        """These tokens and the single shared one (as :data:`SHARED_IDENTITY`, every role);
        ``source``: where it came from (``KS_API_TOKEN``, ``--api-token-file PATH``), named with
        the person it belongs to when it is one of the listed tokens (refused)."""
        if not token:
            return self
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        holder = self.identify(token.encode("utf-8"))  # every digest compared, in constant time
        if holder is not None:
            came = f" from {source}" if source else ""
            raise TokensError(f"the shared API token{came} is {holder.name}'s personal token in the tokens "
                              "document: give each person their own token, and the shared one a token of its own")
        if any(i.name == SHARED_IDENTITY for i in self.identities):
            raise TokensError(f"the identity {SHARED_IDENTITY!r} is reserved for the shared API token")
        # Beside personal tokens (or certificates) the shared one approves nothing: otherwise one
        # person holding both would be two approvers.
        roles = frozenset(ROLES) if not len(self) else frozenset(ROLES) - {"approver"}
        return Tokens(self._entries + ((digest, Identity(SHARED_IDENTITY, roles)),), self._certs, self._groups)


class LiveTokens:
    """The identities the API authenticates against now: a tokens document with the shared token
    added (:meth:`Tokens.with_shared`), replaced whole when the document is read again (a reload:
    SIGHUP, or the file changed). One reference swapped: a request is checked against the old set
    or the new one, never a mix. A document that cannot be used is refused by :meth:`replace` and
    the identities in force stay."""

    def __init__(self, document: Optional[Tokens] = None, shared: Optional[str] = None, source: str = ""):
        self.shared = shared
        self.source = source  # where the shared token came from, named in a refusal
        self.document = document or Tokens()
        self.current = self.document.with_shared(shared, source)  # raises TokensError

    def replace(self, document: Tokens) -> "Tokens":
        """Put ``document`` in force (with the shared token); raises :class:`TokensError`, and
        changes nothing, when the two cannot stand together. Returns the document it replaced."""
        current = document.with_shared(self.shared, self.source)
        old, self.document, self.current = self.document, document, current
        return old


def parse_tokens(doc: Any, where: str = "tokens") -> Tokens:
    """A tokens document (parsed YAML or JSON) → :class:`Tokens`; raises :class:`TokensError`
    naming the first problem (every problem of one entry at once)."""
    if not isinstance(doc, dict):
        raise TokensError(f"{where}: expected a mapping with apiVersion, kind and tokens")
    _known_keys(doc, ("apiVersion", "kind", "tokens", "groups"), where)
    if doc.get("apiVersion") != "killswitch/v1" or doc.get("kind") != TOKENS_KIND:
        raise TokensError(f"{where}: expected apiVersion killswitch/v1 and kind {TOKENS_KIND}")
    groups = _groups(doc.get("groups", []), where)
    items = doc.get("tokens", [] if groups else None)
    if not isinstance(items, list):
        raise TokensError(f"{where}: tokens must be a list of {{identity, roles, sha256}}")
    entries: list[tuple[bytes, Identity]] = []
    certs: list[tuple[CertMatch, Identity]] = []
    names: dict[str, int] = {}
    digests: dict[str, int] = {}
    matches: dict[CertMatch, int] = {}
    for i, item in enumerate(items):
        at = f"{where}: tokens[{i}]"
        if not isinstance(item, dict):
            raise TokensError(f"{at}: expected a mapping with identity, roles and sha256 or client_cert")
        _known_keys(item, ("identity", "roles", "sha256", "client_cert"), at)
        name, roles = _named(item, at, names)
        identity = Identity(name, frozenset(roles))
        if "sha256" not in item and "client_cert" not in item:
            raise TokensError(f"{at}: needs sha256 (a token's digest: ksctl token new prints it) or client_cert "
                              "(a client certificate's name)")
        if "sha256" in item:
            digest = item.get("sha256")
            if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest.lower()):
                raise TokensError(f"{at}: sha256 must be the 64 hex digits of the token's SHA-256 "
                                  "(ksctl token new prints it)")
            digest = digest.lower()
            if digest in digests:
                raise TokensError(f"{at}: the same token as tokens[{digests[digest]}]; give each identity its own "
                                  "token")
            digests[digest] = i
            entries.append((bytes.fromhex(digest), identity))
        if "client_cert" in item:
            match = _cert_match(item["client_cert"], f"{at}: client_cert")
            if match in matches:
                raise TokensError(f"{at}: client_cert: the same {match[0]} as tokens[{matches[match]}]; a "
                                  "certificate names one identity")
            matches[match] = i
            certs.append((match, identity))
        names[name] = i
    return Tokens(entries, certs, groups)


def _groups(items: Any, where: str) -> dict[str, frozenset[str]]:
    """``groups: [{group, roles}]`` → group → roles; a group named twice is refused."""
    if not isinstance(items, list):
        raise TokensError(f"{where}: groups must be a list of {{group, roles}}")
    out: dict[str, frozenset[str]] = {}
    for i, item in enumerate(items):
        at = f"{where}: groups[{i}]"
        if not isinstance(item, dict):
            raise TokensError(f"{at}: expected a mapping with group and roles")
        _known_keys(item, ("group", "roles"), at)
        group = item.get("group")
        if not isinstance(group, str) or not group or group != group.strip():
            raise TokensError(f"{at}: group must be the group's name as the identity provider sends it "
                              "(a non-empty string)")
        if group in out:
            raise TokensError(f"{at}: group {group!r} is already listed; give its roles once")
        out[group] = frozenset(_roles(item.get("roles"), at))
    return out


def _known_keys(item: dict, known: tuple[str, ...], at: str) -> None:
    """Refuse a key of ``item`` not among ``known``, naming them all."""
    unknown = sorted(set(map(str, item)) - set(known))
    if unknown:
        raise TokensError(f"{at}: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")


def _named(item: dict, at: str, names: dict[str, int]) -> tuple[str, list[str]]:
    """An entry's identity (normalised, not seen before) and its roles."""
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
    return name, _roles(item.get("roles"), at)


def _roles(roles: Any, at: str) -> list[str]:
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise TokensError(f"{at}: roles must be a non-empty list of {', '.join(ROLES)}")
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise TokensError(f"{at}: unknown role(s) {', '.join(map(repr, bad))}{near(bad[0], ROLES)}; roles are "
                          f"{', '.join(ROLES)}")
    return roles


def _cert_match(spec: Any, at: str) -> CertMatch:
    """``client_cert: {subject_cn: NAME}`` (or one of san_dns, san_email, san_uri) → its match."""
    keys = ", ".join(CERT_FIELDS)
    if not isinstance(spec, dict) or len(spec) != 1:
        raise TokensError(f"{at}: expected a mapping with exactly one of {keys}")
    (key, value), = spec.items()
    if key not in CERT_FIELDS:
        raise TokensError(f"{at}: unknown key {key!r}{near(str(key), CERT_FIELDS)}; one of {keys}")
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise TokensError(f"{at}.{key}: expected the name as the certificate carries it (a non-empty string)")
    return (key, value)


def load_tokens(path: str | Path) -> Tokens:
    """Read a tokens document (YAML or JSON). Raises :class:`TokensError`."""
    p = Path(path)
    text = read_text(p, "the tokens document", MAX_TOKENS_BYTES, TokensError)
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
