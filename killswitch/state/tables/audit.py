"""The audit chain's tables, and the StateStore calls over them.

What it owns: :class:`AuditTables`, the mixin of :class:`~..sql.SqlStore` that appends audit rows
to the chain (``audit_log``, under the ``audit_head`` row's lock, the head moved in the same
transaction), anchors them with the store's audit key (``use_audit_key``: the adoption row, the
rows' and the head's MACs), reads them back, and verifies the chain a page of rows per
transaction (``audit_verification``). The scheme itself, how a row is hashed and MAC'd and what
a verification concludes, is :mod:`..audit_chain`'s and :mod:`..audit_verify`'s: nothing here
decides what a row proves.

Must not: log or put in an error the key; hold a transaction open between calls, or while a
long chain is checked.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Callable, Optional, Sequence

from ..audit_chain import HEAD_INVALID, KEY_ADOPTED, key_problem
from ..audit_verify import ChainCheck
from ..sql_hooks import Cursor, SqlHooks, now_ms
from ..store import (
    AuditAnchor,
    AuditHead,
    AuditKey,
    AuditRow,
    AuditVerification,
    StoreError,
    audit_hash_text,
    canonical_json,
)

AUDIT_VERIFY_PAGE = 5_000  # audit rows read per transaction by audit_verification
AUDIT_VERIFY_ROUNDS = 3  # restarts of a verification while a runner anchors the chain
ANCHOR_SCHEMA = 6  # the first schema version with MAC columns


class AuditTables(SqlHooks):
    """The audit chain's calls of :class:`~..sql.SqlStore` (see the module doc)."""

    audit_key: Optional[AuditKey]  # set by the store: the key the rows it appends are anchored with

    _HEAD = "SELECT seq, hash, mac, key_id, anchored_from FROM audit_head WHERE id = 1"
    _HEAD_UNANCHORED = "SELECT seq, hash, NULL, NULL, NULL FROM audit_head WHERE id = 1"
    _macs = False  # the schema has the MAC columns (once true, for good: schemas only move up)

    def _has_macs(self) -> bool:
        """Whether the schema has the MAC columns. A reader (``migrate=False``) may meet a store an
        older runner still writes: it reads it as an unanchored chain rather than failing."""
        if not self._macs:
            self._macs = self.schema_version() >= ANCHOR_SCHEMA
        return self._macs

    def use_audit_key(self, key: Optional[AuditKey], *, adopt: bool = False) -> Optional[str]:
        """Anchor the rows this store appends with ``key``; return why they will not be (a wrong
        or missing key for an anchored chain, a missing head), or None.

        With ``adopt`` (a writer starting: ``open_store`` with ``migrate``), a chain not yet
        anchored is anchored now: an ``audit_key_adopted`` row is appended with the key's id and
        its own seq as ``anchored_from``, and the head gets its MAC, so that wiping or cutting the
        chain from here on needs the key, and stripping the MACs leaves that row behind. Rows
        already there stay as they are (unanchored, covered by every later MAC). A chain this key
        anchored before that row existed gets one now, saying where anchoring began."""
        self.audit_key = key
        if key is None or not adopt or not self._has_macs():
            return key_problem(self.audit_head(), key)
        with self._tx(write=True) as cur:
            row = self._q(cur, self._HEAD + self.for_update).fetchone()
            head = None if row is None else AuditHead(*row)
            if head is not None and not head.anchored:
                self._append(cur, head, [], key, now_ms(), adopted_from=head.seq + 1)
            elif head is not None and self._adoption_unrecorded(cur, head, key):
                self._append(cur, head, [], key, now_ms(), adopted_from=head.anchored_from)
        return key_problem(head, key)

    def _adoption_unrecorded(self, cur: Cursor, head: AuditHead, key: AuditKey) -> bool:
        """Whether this key anchors the chain (its head's MAC checks) but no row says so yet."""
        start = head.anchored_from
        if head.key_id != key.key_id or start is None or _head_mac_problem(head, key) is not None:
            return False
        at = self._q(cur, "SELECT kind FROM audit_log WHERE seq = ?", (start,)).fetchone()
        if at is not None and at[0] == KEY_ADOPTED:  # where adoption puts it
            return False
        # A chain anchored before adoption rows existed: its row is further on (a scan, at a
        # writer's start only).
        return self._q(cur, "SELECT 1 FROM audit_log WHERE kind = ? AND seq > ? LIMIT 1",
                       (KEY_ADOPTED, start)).fetchone() is None

    def audit(self, kind: str, ts_ms: int, payload: dict, *, fence: Optional[int] = None) -> int:
        return self.audit_many([(kind, ts_ms, payload)], fence=fence)[0]

    def audit_many(self, rows: Sequence[tuple[str, int, dict]], *, fence: Optional[int] = None,
                   also: Optional[Callable[[Cursor], None]] = None) -> list[int]:
        """Append ``rows`` to the chain (fenced when ``fence`` is given). ``also``: a write of the
        caller's, made in the same transaction after the fence check: the rows and it are stored
        together or not at all (an override's approval and its audit row)."""
        texts = [canonical_json(payload) for _, _, payload in rows]  # raises before anything is written
        if not rows:
            return []
        macs = self._has_macs()  # before the transaction: it reads the schema in one of its own
        key = self.audit_key if macs else None
        with self._tx(write=True) as cur:
            # The head (exclusive) first, then the lease row (shared). An append waiting for the
            # head (held by a leader paused in the middle of its own append, until PostgreSQL ends
            # that session) must not hold the lease row meanwhile: the lease thread renews by
            # updating that row and would wait behind it, and the new leader's lease would lapse.
            # No cycle: no transaction takes the lease row and then the head.
            row = self._q(cur, (self._HEAD if macs else self._HEAD_UNANCHORED) + self.for_update).fetchone()
            if fence is not None:
                self._check_fence(cur, fence)
            if row is None:
                # Never rebuilt here: a head rebuilt from the rows left would vouch for a cut chain.
                raise StoreError(f"{self.url}: " + key_problem(None, key))
            head = AuditHead(*row)
            if also is not None:
                also(cur)
            batch = [(kind, ts_ms, text) for (kind, ts_ms, _), text in zip(rows, texts)]
            if not macs:  # a schema older than the anchor (only ever in a migration test)
                head, inserts = self._chain_all(head, batch, False, None)
                cur.executemany(self._sql("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash) "
                                          "VALUES (?, ?, ?, ?, ?, ?)"), inserts)
                self._q(cur, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (head.seq, head.hash))
                return [s for s, *_ in inserts]
            # A key appending to a chain not anchored yet anchors it from here (a store opened with
            # the key but not to adopt it): the adoption is recorded all the same.
            adopted = head.seq + 1 if key is not None and not head.anchored else None
            return self._append(cur, head, batch, key, batch[0][1], adopted_from=adopted)

    def _append(self, cur: Cursor, head: AuditHead, batch: list[tuple[str, int, str]], key: Optional[AuditKey],
                ts_ms: int, *, adopted_from: Optional[int] = None) -> list[int]:
        """Insert ``batch`` (kind, ts_ms, canonical payload text) after ``head`` and move the head,
        in the caller's transaction (which holds the head's row lock); return the batch's seqs.
        With ``adopted_from``, the ``audit_key_adopted`` row saying that ``key`` anchors the chain
        from that row goes first (at ``ts_ms``). A head this key anchors whose MAC does not check
        is recorded first in an ``audit_head_invalid`` row: the head MAC made below would otherwise
        vouch for a chain cut or moved without the key."""
        first: list[tuple[str, int, str]] = []
        if key is not None and adopted_from is not None:
            first.append((KEY_ADOPTED, ts_ms, canonical_json({"key_id": key.key_id, "anchored_from": adopted_from})))
        elif key is not None and head.key_id == key.key_id and head.anchored_from is not None:
            problem = _head_mac_problem(head, key)
            if problem is not None:
                first.append((HEAD_INVALID, ts_ms, canonical_json({"seq": head.seq, "hash": head.hash,
                                                                   "anchored_from": head.anchored_from,
                                                                   "mac": problem})))
        batch, ours = first + batch, len(first)
        head, inserts = self._chain_all(head, batch, True, key)
        head_mac = None
        if key is not None and head.key_id == key.key_id and head.anchored_from is not None:
            head_mac = key.head_mac(head.seq, head.hash, head.anchored_from)  # the last row's only
        cur.executemany(self._sql("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash, mac) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?)"), inserts)
        self._q(cur, "UPDATE audit_head SET seq = ?, hash = ?, mac = ?, key_id = ?, anchored_from = ? "
                     "WHERE id = 1", (head.seq, head.hash, head_mac, head.key_id, head.anchored_from))
        return [i[0] for i in inserts[ours:]]

    @classmethod
    def _chain_all(cls, head: AuditHead, batch: Sequence[tuple[str, int, str]], macs: bool, key: Optional[AuditKey]
                   ) -> tuple[AuditHead, list[tuple]]:
        """:meth:`_chain` over every row of ``batch`` (kind, ts_ms, text) in turn: the head after
        the last, and every row's insert parameters. The first row decides whether the rows carry
        a MAC, under which key id and from which anchored row; the head it leaves carries that
        choice, so every later row takes the same branch and only the seq and the hash move: they
        are chained here without a head made per row (a crash's entry appends hundreds)."""
        if not batch:
            return head, []
        head, insert = cls._chain(head, *batch[0], macs, key)
        inserts = [insert]
        seq, prev = head.seq, head.hash
        row_mac = key.row_mac if macs and insert[-1] is not None else None  # type: ignore[union-attr]
        for kind, ts_ms, text in batch[1:]:
            seq += 1
            digest = audit_hash_text(prev, seq, kind, ts_ms, text)
            if not macs:
                inserts.append((seq, kind, ts_ms, text, prev, digest))
            else:
                inserts.append((seq, kind, ts_ms, text, prev, digest, row_mac(seq, digest) if row_mac else None))
            prev = digest
        return AuditHead(seq, prev, head.mac, head.key_id, head.anchored_from), inserts

    @staticmethod
    def _chain(head: AuditHead, kind: str, ts_ms: int, text: str, macs: bool, key: Optional[AuditKey]
               ) -> tuple[AuditHead, tuple]:
        """The row that follows ``head`` (its insert parameters) and the head after it (its MAC
        is left to the caller: only the last row's head is stored)."""
        seq = head.seq + 1
        digest = audit_hash_text(head.hash, seq, kind, ts_ms, text)
        if not macs:
            return (AuditHead(seq, digest, head.mac, head.key_id, head.anchored_from),  # not replace(): per row
                    (seq, kind, ts_ms, text, head.hash, digest))
        start = head.anchored_from if head.anchored else seq  # the first keyed append anchors
        row_mac: Optional[str]
        key_id: Optional[str]
        if key is not None and head.key_id in (None, key.key_id) and start is not None:
            row_mac, key_id = key.row_mac(seq, digest), key.key_id
        else:
            # No key, not this chain's, or a head anchored with no first row (its anchor was
            # tampered with: no head MAC can be made): the row goes in unanchored (verification
            # reports it once the chain is anchored) rather than the kill switch failing to record.
            row_mac, key_id, start = None, head.key_id, head.anchored_from
        return (AuditHead(seq, digest, None, key_id, start),
                (seq, kind, ts_ms, text, head.hash, digest, row_mac))

    def audit_head(self) -> Optional[AuditHead]:
        row = self._fetchone(self._HEAD if self._has_macs() else self._HEAD_UNANCHORED)
        return None if row is None else AuditHead(*row)

    def audit_verification(self, anchors: Sequence[AuditAnchor] = ()) -> AuditVerification:
        # Every row of the table, not only those up to the head: a row slipped in past the head
        # is a finding too. Rows are read a page per transaction and hashed outside it (no
        # transaction stays open while a long chain is checked: PostgreSQL ends sessions idle in
        # one). An append commits its row and the head together, and the head only grows, so the
        # head read after the rows is at or past every row read, unless rows were put past it;
        # and every row up to it is committed: the rows appended meanwhile are read up to that
        # head (never chased: a busy runner could outrun the reader) and the check ends there.
        # The head read before the rows gives the anchoring the MACs are checked against; if a
        # runner anchored the chain meanwhile, the check starts over.
        macs = self._has_macs()
        rounds = 0
        while True:
            rounds += 1
            before = self.audit_head()
            check = ChainCheck(self.audit_key, before, tuple(anchors))
            self._feed_rows(check, 0, None, macs)
            head = self.audit_head()
            if head is not None and head.seq > check.last_seq:
                self._feed_rows(check, check.last_seq, head.seq, macs)
            if _anchoring(head) == _anchoring(before) or rounds >= AUDIT_VERIFY_ROUNDS:
                return check.close(head)

    def _feed_rows(self, check: ChainCheck, after: int, upto: Optional[int], macs: bool) -> None:
        query = (f"SELECT seq, kind, ts_ms, payload, prev_hash, hash, {'mac' if macs else 'NULL'} FROM audit_log "
                 "WHERE seq > ?" + ("" if upto is None else f" AND seq <= {int(upto)}") + " ORDER BY seq LIMIT ?")
        while True:
            page = self._fetchall(query, (after, AUDIT_VERIFY_PAGE))
            if len(page) < AUDIT_VERIFY_PAGE:
                for r in page:
                    check.feed(*r)
                return
            # The rows of the page's last seq are read again with the next page, so that copies of
            # one seq (a table that lost its key) are never split between two pages and missed.
            last = page[-1][0]
            whole = [r for r in page if r[0] != last]
            if not whole:  # a page of one seq only
                whole, last = page, last + 1
            for r in whole:
                check.feed(*r)
            after = last - 1

    def verify_audit(self) -> tuple[bool, Optional[int]]:
        v = self.audit_verification()
        return v.ok, v.first_bad_seq

    def audit_rows(self, since_ms: Optional[int] = None, kinds: Optional[Sequence[str]] = None,
                   limit: int = 1000, *, until_ms: Optional[int] = None, after_seq: int = 0) -> list[AuditRow]:
        query = "SELECT seq, kind, ts_ms, payload, hash FROM audit_log WHERE seq > ?"
        params: list[Any] = [int(after_seq)]
        if since_ms is not None:
            query += " AND ts_ms >= ?"
            params.append(int(since_ms))
        if until_ms is not None:
            query += " AND ts_ms < ?"
            params.append(int(until_ms))
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return []
            query += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params += kinds
        rows = self._fetchall(query + " ORDER BY seq LIMIT ?", params + [int(limit)])
        return [AuditRow(seq, kind, ts, _payload(text), digest) for seq, kind, ts, text, digest in rows]


def _payload(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:  # a tampered row: verify_audit names it; reading it must not fail
        return {"error": "UNREADABLE_PAYLOAD"}
    return value if isinstance(value, dict) else {"value": value}


def _head_mac_problem(head: AuditHead, key: AuditKey) -> Optional[str]:
    """Why the head's MAC does not check with ``key`` ("missing", "invalid"), or None when it does."""
    if head.mac is None:
        return "missing"
    if head.anchored_from is None:  # no MAC can be made: its anchor was tampered with
        return "invalid"
    expected = key.head_mac(head.seq, head.hash, head.anchored_from)
    ok = head.mac.isascii() and hmac.compare_digest(head.mac, expected)  # compare_digest refuses non-ASCII text
    return None if ok else "invalid"


def _anchoring(head: Optional[AuditHead]) -> tuple:
    return (None, None) if head is None else (head.key_id, head.anchored_from)
