"""The audit chain verified: every row, the head and the anchors given, against the scheme's rules.

What it owns: :class:`ChainCheck`, fed every row in the table in seq order, checks it against
its neighbours, its content, its MAC, the head and the anchors given (the scheme:
:mod:`.audit_chain`); every problem is an :class:`AuditFinding` with a reason code and the
first row it concerns; nothing raises. The verdict (:attr:`AuditVerification.verdict`) never
claims more than was checked, and says in words what was covered and what it leaves
undetectable. The store reads the rows a page per transaction and feeds them in
(:meth:`~.tables.audit.AuditTables.audit_verification`).

What is checked without the key: the structure (links, hashes, numbering, the head); that a
chain the adoption rows or ``anchored=hmac`` anchors show anchored still is, by the same key,
from the same row, every row from there on carrying a MAC; that every MAC has the form of one,
and that no MAC repeats (each covers its own row's seq and hash, and the head's another
domain: a repeated one was copied). An anchored chain verified without the key is "not
verifiable without the key", never intact.

What cannot be told, said plainly. Without the key: a row or head given a fresh 64-hex MAC,
or a rewrite that recomputes every hash (the adoption row removed with it), unless an exported
anchor covers it. Without the key or anchors, a chain cut back, with the rows written with the
key (the adoption row among them), or wiped, reads as one never anchored: with neither given,
the verdict is "consistent, UNVERIFIED", which never passes. With the key, someone
who saved an older head (row and MAC) can cut the chain back to it and restore that head; only
an exported anchor newer than that head catches it.

Must not: log, print, ``repr`` or put in a finding the key or anything a key could be recovered
from; read the database or the clock (the backends feed rows in).
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from .audit_chain import GENESIS_HASH, HEAD_INVALID, KEY_ADOPTED, AuditAnchor, AuditHead, AuditKey, audit_hash

MAX_FINDINGS = 50  # a chain rewritten from row 1 would otherwise list every row
_MAC_FORM = re.compile(r"[0-9a-f]{64}")  # what row_mac and head_mac return
MAX_BARE_RUNS = 10_000  # runs of rows without a MAC kept by a check (an honest chain has one)

# The verdicts of a verification (AuditVerification.verdict)
INTACT = "intact_and_anchored"
UNANCHORED = "consistent_unanchored"
# consistent, and nothing outside the table was given to check it against: neither the key nor an
# exported anchor. A wiped chain, or one rewritten whole with its adoption row, reads the same.
UNVERIFIED = "consistent_unverified"
NOT_VERIFIABLE = "not_verifiable_without_key"
TAMPERED = "tampered"


@dataclass(frozen=True)
class AuditFinding:
    """One thing the chain does not prove: a reason code, the first row it concerns (the rows
    from there on are not proven), and what a person should know."""

    code: str
    seq: Optional[int]
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class AuditVerification:
    """What verifying the chain found, and exactly what it covered.

    The verdict (:attr:`verdict`) never claims more than was checked:

    - ``intact_and_anchored``: no finding, and the key checked every MAC;
    - ``consistent_unanchored``: no finding in a chain that was never anchored, checked against
      exported anchors: rows and head agree and the anchors hold, which cannot show rows cut off
      after the last anchor or a rewrite after it (passes: exit 0);
    - ``consistent_unverified``: no finding, but neither a key nor an exported anchor was given
      and the head carries no anchor: rows and head agree, and that is all. A wiped chain, one
      cut back, or one rewritten whole (its ``audit_key_adopted`` row removed with it) reads the
      same, so it does not pass; the command line gives it an exit code of its own;
    - ``not_verifiable_without_key``: no finding in the structure of an anchored chain, but no
      key was given to check its MACs (does not pass: exit 1);
    - ``tampered``: at least one finding.
    """

    rows: int  # rows read from the table
    last_seq: int  # the highest seq read (0: none)
    head: Optional[AuditHead]
    key_id: Optional[str]  # the verifier's key (None: verified without a key)
    anchors: tuple[AuditAnchor, ...] = ()
    findings: tuple[AuditFinding, ...] = ()
    more_findings: int = 0  # found beyond MAX_FINDINGS

    @property
    def ok(self) -> bool:
        """No finding: the chain is consistent (see :attr:`verdict` for what that proves)."""
        return not self.findings

    @property
    def verdict(self) -> str:
        if self.findings:
            return TAMPERED
        if self.anchored:
            return INTACT
        if self.head is not None and self.head.anchored:  # with a key given, KEY_MISMATCH is a finding
            return NOT_VERIFIABLE
        if self.key_id is None and not self.anchors:  # (with a key, NOT_ANCHORED is a finding)
            return UNVERIFIED
        return UNANCHORED

    @property
    def passed(self) -> bool:
        """What exit 0 means: intact and anchored, or consistent in a chain never anchored whose
        exported anchors hold (never a chain checked against nothing outside the table)."""
        return self.verdict in (INTACT, UNANCHORED)

    @property
    def first(self) -> Optional[AuditFinding]:
        """The finding about the lowest row (the first in the chain that is not proven)."""
        with_seq = [(f.seq, f) for f in self.findings if f.seq is not None]
        if with_seq:
            return min(with_seq, key=lambda sf: sf[0])[1]
        return self.findings[0] if self.findings else None

    @property
    def first_bad_seq(self) -> Optional[int]:
        f = self.first
        return None if f is None else f.seq

    @property
    def anchored(self) -> bool:
        """The head and every row from ``anchored_from`` on carry a MAC the verifier's key checked."""
        return (self.ok and self.key_id is not None and self.head is not None
                and self.head.key_id == self.key_id)

    @property
    def anchored_from(self) -> Optional[int]:
        return self.head.anchored_from if self.head is not None and self.head.anchored else None

    def covered(self) -> str:
        """What was checked, in words (no verdict)."""
        head = "no head" if self.head is None else f"the head (seq {self.head.seq})"
        rows = ("no rows" if not self.rows else f"{self.rows} row(s), seq 1..{self.last_seq}"
                if self.rows == self.last_seq else f"{self.rows} row(s) up to seq {self.last_seq}")
        text = f"{rows} and {head}"
        if self.anchors:
            text += f", {len(self.anchors)} exported anchor(s) (up to seq {max(a.seq for a in self.anchors)})"
        return text

    def anchoring(self) -> str:
        """Whether the chain is anchored by HMAC, and what that leaves undetectable, in words."""
        head = self.head
        if head is None or not head.anchored:
            given = " although a key was given" if self.key_id is not None else ""
            what = ("nothing in the chain shows an audit key" if self.ok
                    else "the head carries no audit key's anchor")
            upto = max((a.seq for a in self.anchors), default=0)
            if not upto:
                return (f"not anchored: {what}{given}, so truncation and wipes cannot be detected, nor a rewrite by "
                        "someone with database access")
            return (f"not anchored: {what}{given}; the exported anchors hold rows 1..{upto} as exported, but rows "
                    f"cut off or rewritten after row {upto} cannot be detected")
        since = f"from row {head.anchored_from}" if head.anchored_from and head.anchored_from > 1 else "from row 1"
        earlier = (f" (rows 1..{head.anchored_from - 1} were written before the key and are covered from then on)"
                   if head.anchored_from and head.anchored_from > 1 else "")
        if self.key_id is None:
            return (f"anchored by HMAC {since} with key id {head.key_id}, but NOT checked: no audit key was "
                    f"given, and without it a forged, rewritten or cut chain reads the same{earlier}")
        if self.key_id != head.key_id:
            return f"anchored with key id {head.key_id}; the key given (id {self.key_id}) is another one"
        return f"anchored by HMAC {since}, key id {head.key_id}{earlier}"

    def describe(self, lead: str = "audit chain ") -> str:
        """One line: the verdict, what was covered, and the anchoring (after ``lead``)."""
        verdict = self.verdict
        if verdict == INTACT:
            return f"{lead}intact and anchored: {self.covered()} check; {self.anchoring()}"
        if verdict == UNANCHORED:
            return f"{lead}consistent, UNANCHORED: {self.covered()} check; {self.anchoring()}"
        if verdict == UNVERIFIED:
            return (f"{lead}consistent, UNVERIFIED: {self.covered()} agree (hashes link, no row missing), but "
                    "nothing authenticates or anchors them: neither the audit key nor an exported anchor was "
                    "given and the head carries no anchor, so a wiped chain, one cut back, or one rewritten whole "
                    "(its audit_key_adopted row removed with it) reads the same; give the key (KS_AUDIT_KEY or "
                    "--audit-key-file) or the runner's AUDIT_HEAD lines (--anchors-from)")
        if verdict == NOT_VERIFIABLE:
            return (f"{lead}NOT VERIFIABLE without the key: {self.covered()} check; {self.anchoring()}; give the "
                    "key (KS_AUDIT_KEY or --audit-key-file)")
        f = self.first
        assert f is not None
        more = len(self.findings) - 1 + self.more_findings
        return (f"{lead}TAMPERED: first bad row {f.seq if f.seq is not None else '-'}: {f}"
                + (f" ({more} more finding(s))" if more else ""))

    def to_json(self) -> dict:
        head = self.head
        return {
            "verdict": self.verdict, "passed": self.passed, "intact": self.verdict == INTACT,
            "consistent": self.ok, "anchored": self.anchored, "first_bad_row": self.first_bad_seq,
            "rows": self.rows, "last_seq": self.last_seq,
            "head": None if head is None else {"seq": head.seq, "hash": head.hash, "key_id": head.key_id,
                                               "anchored_from": head.anchored_from},
            "key_id": self.key_id, "anchors": [str(a) for a in self.anchors],
            "covered": self.covered(), "anchoring": self.anchoring(), "summary": self.describe(),
            "findings": [{"code": f.code, "seq": f.seq, "message": f.message} for f in self.findings],
            "more_findings": self.more_findings,
        }


@dataclass
class ChainCheck:
    """Verify a chain fed row by row in seq order, then closed with the head read after them.

    ``anchor_of`` is the head as read *before* the rows (its anchoring: key id and
    ``anchored_from``, which an honest store never changes once set); the caller starts over
    if the head read after the rows anchors differently (a runner adopted the key meanwhile).

    Without the key, a chain's anchoring is still checked against what survives a stripping:
    the ``audit_key_adopted`` rows (in the hashed chain: removing one is a rewrite) and the
    exported anchors a keyed runner logged (``anchored=hmac:…``); and no two MACs may be
    equal (each covers its own row, the head's another domain), which catches a copied one.
    """

    key: Optional[AuditKey] = None
    anchor_of: Optional[AuditHead] = None
    anchors: tuple[AuditAnchor, ...] = ()
    rows: int = 0
    last_seq: int = 0
    prev: str = GENESIS_HASH
    findings: list[AuditFinding] = field(default_factory=list)
    more: int = 0
    _seen_anchor: dict[int, str] = field(default_factory=dict)
    # The first 64 bits of every row's MAC -> its row. A chance collision of two honest MACs is
    # 2^-64 per pair; the full MACs would cost four times the memory for nothing.
    _macs: dict[int, int] = field(default_factory=dict)
    _bare: list[list[int]] = field(default_factory=list)  # runs [first, last] of rows without a MAC
    _adopted: list[tuple[int, Any]] = field(default_factory=list)  # (seq, payload) of KEY_ADOPTED rows

    def __post_init__(self) -> None:
        self._anchor_seqs = frozenset(a.seq for a in self.anchors)
        keyed = [a for a in self.anchors if a.key_id]
        self._keyed_anchor = min(keyed, key=lambda a: a.seq) if keyed else None

    def _find(self, code: str, seq: Optional[int], message: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(AuditFinding(code, seq, message))
        else:
            self.more += 1

    def feed(self, seq: int, kind: str, ts_ms: int, text: str, prev_hash: str, digest: str,
             mac: Optional[str]) -> None:
        self.rows += 1
        if seq <= self.last_seq or seq < 1:
            if seq == self.last_seq and self.rows > 1:
                self._find("DUPLICATE_ROW", seq, f"row {seq} appears more than once: the table lost its key and a "
                                                 "second row was written under a used number")
            else:
                self._find("BAD_SEQ", max(seq, 1), f"a row numbered {seq}: chain rows are numbered from 1")
            return
        expected = self.last_seq + 1
        if seq > expected:
            gap = f"row {expected}" if seq == expected + 1 else f"rows {expected}..{seq - 1}"
            self._find("ROWS_MISSING", expected, f"{gap} missing: the chain has a gap before row {seq}")
        elif prev_hash != self.prev:
            self._find("BROKEN_LINK", seq, f"row {seq} does not chain onto row {seq - 1} (its prev_hash "
                                           f"{prev_hash[:12]}… is not row {seq - 1}'s hash {self.prev[:12]}…): "
                                           f"it was inserted, or a row before it was rewritten")
        payload: Any = None
        try:
            payload = json.loads(text)
            recomputed = audit_hash(prev_hash, seq, kind, ts_ms, payload)
        except ValueError:
            recomputed = None
        if recomputed is None:
            self._find("UNREADABLE_ROW", seq, f"row {seq}'s payload is no longer JSON: edited after it was written")
        elif recomputed != digest:
            self._find("HASH_MISMATCH", seq, f"row {seq}'s hash does not match its content: edited after it "
                                             "was written")
        if kind == KEY_ADOPTED:
            self._adopted.append((seq, payload))
        elif kind == HEAD_INVALID:
            self._head_found_invalid(seq, payload)
        self._note_mac(seq, mac)
        self._check_mac(seq, digest, mac)
        if seq in self._anchor_seqs:
            self._seen_anchor[seq] = digest
        self.last_seq, self.prev = seq, digest  # go on from what this row claims: later breaks are their own

    def _head_found_invalid(self, seq: int, p: Any) -> None:
        at = p.get("seq") if isinstance(p, dict) else None
        if type(at) is not int or not 0 <= at < seq:
            self._find("HEAD_FOUND_INVALID", seq, f"row {seq} ({HEAD_INVALID}) records a head a writer found "
                                                  "invalid, but not where: killswitch did not write it")
            return
        why = ("carried no MAC (a runner without the key appended, or it was moved without the key)"
               if p.get("mac") == "missing" else "carried a MAC that did not check (moved without the key)")
        self._find("HEAD_FOUND_INVALID", at + 1, f"row {seq} records that a writer with the key found the head at "
                                                 f"row {at} and it {why}: rows after row {at} may have been cut off "
                                                 f"before row {seq} was written")

    def _note_mac(self, seq: int, mac: Optional[str]) -> None:
        """What is checked of a row's MAC without the key: its form, and that no other row has it."""
        if mac is None:
            runs = self._bare
            if runs and runs[-1][1] == seq - 1:
                runs[-1][1] = seq
            elif len(runs) < MAX_BARE_RUNS:  # more runs than that: the later ones are not kept
                runs.append([seq, seq])
        elif not _MAC_FORM.fullmatch(mac):
            self._find("MAC_MALFORMED", seq, f"row {seq}'s MAC is not an HMAC-SHA256 (64 hex digits): it was "
                                             "written without the key")
        else:
            other = self._macs.setdefault(int(mac[:16], 16), seq)
            if other != seq:
                self._find("MAC_REPEATED", seq, f"row {seq} carries the MAC of row {other}: each MAC covers its "
                                                "own row's number and hash, so no two rows share one; it was "
                                                "copied onto a row written without the key")

    def _check_mac(self, seq: int, digest: str, mac: Optional[str]) -> None:
        head = self.anchor_of
        start = head.anchored_from if head is not None and head.anchored else None
        if head is None or start is None:
            if mac is not None:
                self._find("ANCHOR_REMOVED", seq, f"row {seq} carries a MAC but the head says the chain is not "
                                                  "anchored: the head's anchor was removed")
            return
        if seq < start:
            if mac is not None:
                self._find("ANCHOR_MOVED", seq, f"row {seq} carries a MAC but the head says anchoring began at "
                                                f"row {start}: the head's anchor was moved")
            return
        if mac is None:
            self._find("ROW_NOT_ANCHORED", seq, f"row {seq} carries no MAC though the chain is anchored from row "
                                                f"{start}: it was written without the key (forged, or by a "
                                                "runner started without KS_AUDIT_KEY)")
        elif self.key is not None and self.key.key_id == head.key_id and _MAC_FORM.fullmatch(mac) and \
                not hmac.compare_digest(mac, self.key.row_mac(seq, digest)):
            self._find("ROW_MAC_INVALID", seq, f"row {seq}'s MAC does not match: it was written or rewritten "
                                               "without the key")

    def close(self, head: Optional[AuditHead]) -> AuditVerification:
        last, key = self.last_seq, self.key
        if head is None:
            self._find("HEAD_MISSING", last + 1, f"the audit_head row is missing: rows 1..{last} were checked, but "
                                                 "whether rows after them were removed cannot be told")
        elif head.seq < last:
            span = f"row {head.seq + 1}" if last == head.seq + 1 else f"rows {head.seq + 1}..{last}"
            self._find("ROWS_PAST_HEAD", head.seq + 1, f"{span} past the head (seq {head.seq}): appended behind "
                                                       "the store's back")
        elif head.seq > last:
            span = f"row {last + 1}" if head.seq == last + 1 else f"rows {last + 1}..{head.seq}"
            self._find("ROWS_MISSING_AT_END", last + 1, f"the head says seq {head.seq} but the chain ends at row "
                                                        f"{last}: {span} were removed")
        elif head.hash != self.prev:
            self._find("HEAD_MISMATCH", head.seq, f"the head's hash is not row {head.seq}'s: the head or the row "
                                                  "was rewritten")
        if head is not None:
            self._check_head_anchor(head, last)
            self._check_head_mac_unique(head)
            self._check_anchoring_kept(head)
        for a in sorted(set(self.anchors)):
            got = GENESIS_HASH if a.seq == 0 else self._seen_anchor.get(a.seq)
            if got is None:
                self._find("ANCHOR_ROW_MISSING", min(a.seq, last + 1),
                           f"row {a.seq} of the exported anchor {a.label()} is not in the chain "
                           + (f"(it ends at row {last}): rows were cut off below the anchor" if a.seq > last
                              else "(a gap)"))
            elif got != a.hash:
                self._find("ANCHOR_MISMATCH", a.seq,
                           f"row {a.seq} has hash {got[:12]}… but the exported anchor {a.label()} says "
                           f"{a.hash[:12]}…: the chain up to row {a.seq} was rewritten")
        return AuditVerification(self.rows, last, head, None if key is None else key.key_id, tuple(self.anchors),
                                 tuple(self.findings), self.more)

    def _check_head_anchor(self, head: AuditHead, last: int) -> None:
        key = self.key
        tail = head.seq + 1
        if not head.anchored:
            if key is not None:
                self._find("NOT_ANCHORED", 1, "a key was given but the chain carries no anchor: it was written "
                                              "without a key, or its anchor (MACs, key id) was stripped")
            return
        start = head.anchored_from
        if start is None or start < 1 or start > head.seq + 1:
            self._find("HEAD_ANCHOR_INVALID", tail, f"the head's anchor is inconsistent (anchored_from={start}, "
                                                    f"seq={head.seq})")
            return
        if head.mac is None:
            self._find("HEAD_NOT_ANCHORED", tail, f"the head (seq {head.seq}) carries no MAC though the chain is "
                                                  "anchored: it was moved by someone without the key, or a runner "
                                                  "without the key appended")
            return
        if not _MAC_FORM.fullmatch(head.mac):
            self._find("MAC_MALFORMED", tail, "the head's MAC is not an HMAC-SHA256 (64 hex digits): the head was "
                                              "rewritten without the key")
            return
        if key is None:
            return
        if key.key_id != head.key_id:
            self._find("KEY_MISMATCH", start, f"the chain is anchored with key id {head.key_id}; the key given has "
                                              f"id {key.key_id}: give the chain's key")
            return
        if not hmac.compare_digest(head.mac, key.head_mac(head.seq, head.hash, start)):
            self._find("HEAD_MAC_INVALID", tail, f"the head (seq {head.seq}) does not carry a valid MAC: it was "
                                                 "rewritten without the key (rows after it may have been cut off)")

    def _check_head_mac_unique(self, head: AuditHead) -> None:
        if head.mac is None or not _MAC_FORM.fullmatch(head.mac):
            return
        row = self._macs.get(int(head.mac[:16], 16))
        if row is not None:
            self._find("MAC_REPEATED", row, f"the head carries row {row}'s MAC: a head's MAC is made in another "
                                            "domain than a row's and never equals one, so one was copied onto the "
                                            "other without the key")

    def _check_anchoring_kept(self, head: AuditHead) -> None:
        """Once anchored, a chain stays anchored, by the same key, from the same row: checked
        against the chain's own ``audit_key_adopted`` rows and the exported ``anchored=hmac``
        anchors, without the key. The head and every row from the first anchored one on must
        carry a MAC."""
        claims: list[tuple[int, str, str, bool]] = []  # (first anchored row, key id, why, exact)
        for seq, p in self._adopted:
            if not (isinstance(p, dict) and isinstance(p.get("key_id"), str)
                    and type(p.get("anchored_from")) is int and 1 <= p["anchored_from"] <= seq):
                self._find("ADOPTION_INVALID", seq, f"row {seq} ({KEY_ADOPTED}) does not say which key anchored "
                                                    "the chain from which row: killswitch did not write it")
                continue
            claims.append((p["anchored_from"], p["key_id"], f"row {seq} records that key id {p['key_id']} "
                                                             f"anchored the chain from row {p['anchored_from']}", True))
        a = self._keyed_anchor
        if a is not None and a.key_id is not None:
            claims.append((a.seq + 1, a.key_id, f"the exported anchor {a.label()} shows the chain was anchored "
                                                f"when its head was row {a.seq}", False))
        if not claims:
            return
        claims.sort(key=lambda c: c[0])
        start = claims[0][0]
        whys = [c[2] for c in claims]  # every piece of evidence, the anchor lines by file and line
        why = whys[0] if len(whys) == 1 else ", ".join(whys[:-1]) + " and " + whys[-1]
        upto: Optional[int] = None  # rows from here on are checked one by one against the head's anchor
        if not head.anchored:
            self._find("ANCHOR_STRIPPED", start, f"the head carries no anchor (MAC, key id) but {why}: the anchor "
                                                 f"was stripped; nothing from row {start} on can be verified "
                                                 "without the key")
        else:
            for first, key_id, what, exact in claims:
                moved = head.anchored_from is not None and (head.anchored_from != first if exact
                                                            else head.anchored_from > first)
                if key_id != head.key_id:
                    self._find("ANCHOR_KEY_CHANGED", first, f"the head is anchored with key id {head.key_id} but "
                                                            f"{what}: the chain was anchored again after its "
                                                            "anchor was stripped (keys are not rotated)")
                elif moved:
                    self._find("ANCHOR_MOVED", first, f"the head says anchoring began at row {head.anchored_from} "
                                                      f"but {what}: the anchor was moved")
            upto = head.anchored_from
        first_bare, last_bare, n = self._bare_between(start, upto)
        if first_bare is not None:
            rows = f"row {first_bare}" if n == 1 else f"{n} rows from row {first_bare} to row {last_bare}"
            self._find("ANCHOR_STRIPPED", first_bare, f"{rows} carry no MAC but {why}: their MACs were stripped")

    def _bare_between(self, lo: int, hi: Optional[int]) -> tuple[Optional[int], Optional[int], int]:
        """(first, last, how many) rows without a MAC from ``lo`` up to, not including, ``hi``."""
        first: Optional[int] = None
        last: Optional[int] = None
        n = 0
        for a, b in self._bare:
            a, b = max(a, lo), b if hi is None else min(b, hi - 1)
            if a <= b:
                first = a if first is None else first
                last, n = b, n + b - a + 1
        return first, last, n
