"""The audit chain's scheme: how rows are hashed and anchored, and how a head is exported.

What it owns:

- **The hash chain.** Each row's ``hash`` is sha256 over its predecessor's hash and the
  canonical JSON of the row (:func:`audit_hash`); the ``audit_head`` row remembers the last
  (seq, hash), updated in the same transaction as every append.
- **The HMAC anchor.** With an :class:`AuditKey` (a Secret: ``KS_AUDIT_KEY`` or a mounted
  file), every row carries ``mac`` = HMAC-SHA256(key, "row" ‖ seq ‖ hash) and the head carries
  HMAC(key, "head" ‖ seq ‖ hash ‖ anchored_from). The two are domain-separated, so a row's MAC
  can never stand in for the head's: cutting the tail off and pointing the head at an earlier
  row needs the key. ``anchored_from`` is the first row written with the key (rows before it
  were written by a store without one: an older killswitch); the head MAC binds it, so it cannot
  be moved without the key either. ``key_id`` (a MAC of a constant, 16 hex) names the key
  without revealing it, so a wrong key is told from a forgery.
- **The adoption row.** When a key starts anchoring a chain, the writer appends an
  ``audit_key_adopted`` row (``{"key_id", "anchored_from"}``, its own seq for a new anchor),
  MAC'd like any other. It is in the hashed chain: stripping every MAC and the head's anchor
  leaves it behind, and removing it means rewriting every later row.
- **Exported anchors.** ``AUDIT_HEAD seq=… hash=…`` lines the runner logs where the database
  cannot reach (:class:`AuditAnchor` parses them). Verifying against one proves row ``seq`` is
  still there with that hash — the whole chain up to it unchanged. A line written by a runner
  whose key checked the head also says ``anchored=hmac:<key id>``: the chain was anchored by
  then (from row ``seq`` + 1 at the latest) and must still be.

A writer with the key checks the head's MAC before it appends; a head that does not check (cut
back or moved without the key) is recorded in an ``audit_head_invalid`` row rather than blessed
by the next head MAC, and verification reports it, key or not. :func:`key_problem` says why the
rows a writer appends will not be anchored.

How a chain is verified against these rules, and what a verification can and cannot tell, is
:mod:`.audit_verify`'s; the store's tables and calls are :mod:`.tables.audit`'s.

Must not: log, print, ``repr`` or put in an error the key or anything a key could be recovered
from; read the database or the clock (the backends hand rows in).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import json.encoder
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, overload

GENESIS_HASH = "0" * 64  # the "previous hash" of the first audit row
MIN_KEY_CHARS = 32  # e.g. `openssl rand -hex 32` (64 characters)

_ROW = b"killswitch-audit-row:v1\n"
_HEAD = b"killswitch-audit-head:v1\n"
_KEY_ID = b"killswitch-audit-key-id:v1"

# The row a writer appends when its key starts anchoring the chain: {"key_id", "anchored_from"}.
# It is in the hashed chain, so stripping the MACs leaves it behind, and removing it is a rewrite.
KEY_ADOPTED = "audit_key_adopted"
# The row a writer with the key appends before its own when the head it found does not carry a
# valid MAC: {"seq", "hash", "anchored_from", "mac": "missing" | "invalid"}. Re-MACing that head
# would bless a cut made without the key; the row keeps the evidence in the chain instead.
HEAD_INVALID = "audit_head_invalid"


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps with these options makes a new encoder per call (a dry run's entry audits thousands
# of rows in one append): the C encoder json.dumps would make is made once, with the same options;
# without it (not CPython), one JSONEncoder. No circular check: payloads are trees the code
# builds (a cycle would raise RecursionError instead of ValueError). The same text either way.
_C_ENCODER = json.encoder.c_make_encoder(None, _not_json, json.encoder.encode_basestring, None, ":", ",",  # type: ignore[attr-defined]
                                         True, False, False) if json.encoder.c_make_encoder else None  # type: ignore[attr-defined]
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            check_circular=False)


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 as is, no NaN (it is not JSON)."""
    if _C_ENCODER is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))


def audit_hash(prev_hash: str, seq: int, kind: str, ts_ms: int, payload: Any) -> str:
    """sha256 of the previous row's hash followed by the canonical JSON of this row."""
    row = canonical_json({"seq": seq, "kind": kind, "ts_ms": ts_ms, "payload": payload})
    return hashlib.sha256((prev_hash + row).encode("utf-8")).hexdigest()


def audit_hash_text(prev_hash: str, seq: int, kind: str, ts_ms: int, payload_text: str) -> str:
    """:func:`audit_hash` of a payload given as its canonical JSON text (what the store keeps),
    without parsing it again: the row's canonical form is that text between the other keys, in
    their sorted order (kind, payload, seq, ts_ms)."""
    row = f'{{"kind":{_kind_json(kind)},"payload":{payload_text},"seq":{int(seq)},"ts_ms":{int(ts_ms)}}}'
    return hashlib.sha256((prev_hash + row).encode("utf-8")).hexdigest()


_KIND_JSON: dict[str, str] = {}  # the few dozen kinds a store writes, each encoded once


def _kind_json(kind: str) -> str:
    text = _KIND_JSON.get(kind)
    if text is None:
        text = canonical_json(kind)
        if len(_KIND_JSON) < 1024:  # kinds are the code's constants; a caller inventing them is not cached
            _KIND_JSON[kind] = text
    return text


class AuditKeyError(ValueError):
    """The audit key cannot be used (unreadable, too short). The message never holds the key."""


class AuditKey:
    """The HMAC key that anchors the audit chain. Never printed: ``repr`` shows its id only."""

    __slots__ = ("_key", "key_id")

    def __init__(self, secret: str | bytes):
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(raw.strip()) < MIN_KEY_CHARS:
            raise AuditKeyError(f"AUDIT_KEY_TOO_SHORT: the audit key has {len(raw.strip())} characters, at least "
                                f"{MIN_KEY_CHARS} are needed (e.g. openssl rand -hex 32)")
        self._key = raw.strip()
        self.key_id = hmac.new(self._key, _KEY_ID, hashlib.sha256).hexdigest()[:16]

    def row_mac(self, seq: int, digest: str) -> str:
        return hmac.new(self._key, _ROW + f"{int(seq)}\n{digest}".encode(), hashlib.sha256).hexdigest()

    def head_mac(self, seq: int, digest: str, anchored_from: int) -> str:
        return hmac.new(self._key, _HEAD + f"{int(seq)}\n{digest}\n{int(anchored_from)}".encode(),
                        hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"AuditKey(key_id={self.key_id!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class AuditHead:
    """The ``audit_head`` row: the last (seq, hash) and, once a key anchored the chain, its MAC,
    the key's id and the first row written with the key."""

    seq: int
    hash: str
    mac: Optional[str] = None
    key_id: Optional[str] = None
    anchored_from: Optional[int] = None

    @property
    def anchored(self) -> bool:
        return self.key_id is not None

    def line(self) -> str:
        """The exported anchor, as the runner logs it."""
        return f"AUDIT_HEAD seq={self.seq} hash={self.hash}"


_LOGGED = re.compile(r"AUDIT_HEAD seq=(\d+) hash=([0-9a-fA-F]{64})(?:\s|$)")
_ANCHOR_FORMS = (re.compile(r"^\s*(\d+)\s*:\s*([0-9a-fA-F]{64})\s*$"),
                 re.compile(r"(?:^|\s)seq=(\d+)\s+hash=([0-9a-fA-F]{64})(?:\s|$)"))
_KEYED = re.compile(r"(?:^|\s)anchored=hmac:(\S+)")  # what the sink adds when its key checked the head


@dataclass(frozen=True, order=True)
class AuditAnchor:
    """(seq, hash) of a row as exported earlier: the chain must still hold that row unchanged.

    ``key_id`` is the key the exporting runner checked the head's MAC with (``anchored=hmac:…``
    on its line): the chain was anchored by then, and must still be. ``anchored=none`` says only
    that the exporter had no key, nothing about the chain. ``where`` names the line (file:line)."""

    seq: int
    hash: str
    key_id: Optional[str] = field(default=None, compare=False)
    where: Optional[str] = field(default=None, compare=False)

    @staticmethod
    def parse(text: str, where: Optional[str] = None) -> "AuditAnchor":
        """``SEQ:HASH``, or a runner's log line holding ``seq=SEQ hash=HASH`` (``AUDIT_HEAD …``)."""
        for form in _ANCHOR_FORMS:
            m = form.search(text)
            if m:
                return AuditAnchor(int(m.group(1)), m.group(2).lower(), _key_id_of(text), where)
        raise ValueError(f"BAD_ANCHOR: {text.strip()[:120]!r} is neither SEQ:HASH (a sha256 in hex) nor a line "
                         "with seq=SEQ hash=HASH")

    @staticmethod
    def scan(lines: Iterable[str], source: Optional[str] = None) -> list["AuditAnchor"]:
        """Every anchor in a log: the ``AUDIT_HEAD seq=… hash=…`` lines; other lines are skipped.
        Each is named ``source:line`` (``line N`` without a source)."""
        out = []
        for n, line in enumerate(lines, 1):
            m = _LOGGED.search(line)
            if m:
                out.append(AuditAnchor(int(m.group(1)), m.group(2).lower(), _key_id_of(line),
                                       f"{source}:{n}" if source else f"line {n}"))
        return out

    def label(self) -> str:
        """The anchor as a finding names it: its row, hash, anchoring and line."""
        extra = [f"anchored=hmac:{self.key_id}"] if self.key_id else []
        extra += [self.where] if self.where else []
        return f"{self.seq}:{self.hash[:12]}…" + (f" ({', '.join(extra)})" if extra else "")

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def _key_id_of(line: str) -> Optional[str]:
    m = _KEYED.search(line)
    return m.group(1) if m else None


@overload
def key_problem(head: None, key: Optional[AuditKey]) -> str: ...  # without a head, always a problem


@overload
def key_problem(head: Optional[AuditHead], key: Optional[AuditKey]) -> Optional[str]: ...


def key_problem(head: Optional[AuditHead], key: Optional[AuditKey]) -> Optional[str]:
    """Why rows this writer appends will not be anchored, or None when they will be."""
    if head is None:
        return ("AUDIT_HEAD_MISSING: the audit_head row is gone: no audit row can be appended until it is "
                "restored (ksctl audit verify says what is left)")
    if key is None:
        if head.anchored:
            return (f"AUDIT_KEY_MISSING: the audit chain is anchored with key id {head.key_id} from row "
                    f"{head.anchored_from}, but no key was given (KS_AUDIT_KEY or --audit-key-file): rows "
                    "appended now carry no MAC and verification will report them")
        return None
    if head.anchored and head.key_id != key.key_id:
        return (f"AUDIT_KEY_MISMATCH: the audit chain is anchored with key id {head.key_id}, the key given has id "
                f"{key.key_id}: rows appended now carry no MAC and verification will report them")
    return None
