"""An account's credentials: what the Accounts document's secret references resolve to.

What it owns
    * :class:`Secret`: a secret value that never prints (repr, str and format show a mask);
      only :meth:`Secret.reveal` hands the value over, to the venue's client;
    * :func:`resolve_secret`: a reference (``{env: VAR}`` or ``{file: PATH}``) read into a
      :class:`Secret`, or an :class:`~adapters.base.AdapterError` ``AUTH`` that names the variable
      or the path, never a byte of the value.

What it must not do
    log, or put a secret's value in a message, an exception or a repr; keep a value it was not
    asked to resolve.
"""

from __future__ import annotations

import os

from killswitch.secret_file import SecretFileError, read_secret_file

from .base import AdapterError, Reason


class Secret:
    """A secret value that never prints: repr, str and format show a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "****"

    def __bool__(self) -> bool:
        return bool(self._value)


def resolve_secret(ref) -> Secret:
    """Read a secret reference (``{env: VAR}`` or ``{file: PATH}``) of the Accounts document; a
    file as :func:`killswitch.secret_file.read_secret_file` reads it (stripped; missing, empty or
    unreadable: AdapterError AUTH naming the path)."""
    if getattr(ref, "env", None):
        value = os.environ.get(ref.env)
        if value is None:
            raise AdapterError(Reason.AUTH, f"environment variable {ref.env} is not set")
        return Secret(value)
    try:  # missing, unreadable, empty: an error naming the path, never a byte of the file
        return Secret(read_secret_file(str(ref.file), "secret file"))
    except SecretFileError as e:
        raise AdapterError(Reason.AUTH, str(e)) from None
