"""The console's sign-ins kept across restarts and replicas: the sessions signed out, and the
name each subject of the identity provider signs in under.

What it owns: the schema step that adds the two tables (``SIGNIN_TABLES``, migration 17 of
``migrations.py``) and :class:`SigninTables`, the mixin of :class:`~..sql.SqlStore` with their
calls. A session signed out is kept until its cookie would have expired (then dropped by the next
read); a name is bound to the first subject that signed in with it, and a subject to one name,
for good. Unfenced: any replica signs people in and out, leader or not.

Must not: keep a cookie, a token or anything a session could be made again from (an id, a name
and an end only).
"""

from __future__ import annotations

from typing import Optional

from ..sql_hooks import SqlHooks

SIGNIN_TABLES = (
    # a session signed out (POST /v1/auth/logout): refused from then on at every replica
    """CREATE TABLE signed_out (
         sid TEXT PRIMARY KEY,
         name TEXT NOT NULL,
         exp_s BIGINT NOT NULL,
         ended_ms BIGINT NOT NULL)""",
    "CREATE INDEX signed_out_exp ON signed_out (exp_s)",
    # the provider's subject each name stands for: two names are two people
    """CREATE TABLE signin_subject (
         name TEXT PRIMARY KEY,
         sub TEXT NOT NULL UNIQUE,
         first_ms BIGINT NOT NULL)""",
)


class SigninTables(SqlHooks):
    """The sign-ins' calls of :class:`~..sql.SqlStore` (which supplies ``_tx`` and ``_q``)."""

    def end_session(self, sid: str, name: str, exp_s: int, ended_ms: int) -> None:
        with self._tx(write=True) as cur:
            self._q(cur, "INSERT INTO signed_out (sid, name, exp_s, ended_ms) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (sid) DO NOTHING", (sid, name, int(exp_s), int(ended_ms)))

    def ended_sessions(self, now_s: int) -> dict[str, int]:
        with self._tx(write=True) as cur:
            self._q(cur, "DELETE FROM signed_out WHERE exp_s <= ?", (int(now_s),))
            rows = self._q(cur, "SELECT sid, exp_s FROM signed_out").fetchall()
        return {str(sid): int(exp) for sid, exp in rows}

    def bind_subject(self, sub: str, name: str, ts_ms: int) -> Optional[str]:
        with self._tx(write=True) as cur:
            rows = self._q(cur, "SELECT name, sub FROM signin_subject WHERE name = ? OR sub = ?"
                           + self.for_update, (name, sub)).fetchall()
            for bound_name, bound_sub in rows:
                if bound_name == name and bound_sub != sub:
                    return f"the name {name} is another subject's at this runner"
                if bound_sub == sub and bound_name != name:
                    return f"this subject signed in as {bound_name} before; a person has one name here"
            if not rows:
                self._q(cur, "INSERT INTO signin_subject (name, sub, first_ms) VALUES (?, ?, ?)",
                        (name, sub, int(ts_ms)))
        return None
