"""Reading one secret from a file: a mounted Kubernetes Secret, a Docker secret, a file of 0400.

Every secret the runner takes can come from a file, and the file is the documented and charted
form (docs/runner.md, "Secrets as files"): the exchange keys (``{file: PATH}`` in the Accounts
document, :func:`adapters.credentials.resolve_secret`), the audit key (``--audit-key-file``), the shared
API token (``--api-token-file``), the state URL (``--state-url-file``); the apprise URLs
(:mod:`killswitch.notify.receivers`) and the tokens document (``--api-tokens``) have readers of
their own with the same rules.

A file that is missing, not a regular file, unreadable, not UTF-8 text, over
:data:`MAX_SECRET_BYTES` or empty once the surrounding whitespace is stripped is a
:class:`SecretFileError` whose message names what asked for it and the path, never the content.
A file others may read (mode ``o+r``) is not refused: Docker mounts its secrets 0444 and a
Kubernetes Secret volume is 0644 unless ``defaultMode`` says otherwise; the chart mounts them 0440.

Must not: log, print or put in an error any byte of the file.
"""

from __future__ import annotations

import stat
from pathlib import Path

# a token, a key or a URL; a larger file is some other file given by mistake (a bundle, a log)
MAX_SECRET_BYTES = 64 * 1024


class SecretFileError(ValueError):
    """A secret file that cannot be used: ``code`` (SECRET_FILE_MISSING, SECRET_FILE_NOT_A_FILE,
    SECRET_FILE_UNREADABLE, SECRET_FILE_TOO_LARGE, SECRET_FILE_EMPTY) and a message naming the
    option (or reference) and the path."""

    def __init__(self, code: str, what: str, path: str, why: str):
        self.code, self.what, self.path, self.why = code, what, path, why
        super().__init__(f"{code}: {what} {path}: {why}")


def read_secret_file(path: str, what: str) -> str:
    """The content of the file at ``path``, stripped of surrounding whitespace (a trailing new
    line of ``echo`` or ``kubectl create secret --from-file``). ``what``: the option or the
    reference that names the file (``--api-token-file``), said in the error. Raises
    :class:`SecretFileError`."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise SecretFileError("SECRET_FILE_MISSING", what, path, "no such file (is the Secret mounted there?)") \
            from None
    except OSError as e:
        raise SecretFileError("SECRET_FILE_UNREADABLE", what, path, (e.strerror or type(e).__name__).lower()) \
            from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise SecretFileError("SECRET_FILE_NOT_A_FILE", what, path, f"{kind}: give the file that holds the secret")
    if st.st_size > MAX_SECRET_BYTES:
        raise SecretFileError("SECRET_FILE_TOO_LARGE", what, path,
                              f"{st.st_size:,} bytes, over the {MAX_SECRET_BYTES // 1024} KiB a secret may take: "
                              "is it the right file?")
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_SECRET_BYTES + 1)
    except OSError as e:
        hint = ": the runner's user (or group: fsGroup) must be able to read it" \
            if isinstance(e, PermissionError) else ""
        raise SecretFileError("SECRET_FILE_UNREADABLE", what, path,
                              f"{(e.strerror or type(e).__name__).lower()}{hint}") from None
    if len(raw) > MAX_SECRET_BYTES:
        raise SecretFileError("SECRET_FILE_TOO_LARGE", what, path,
                              f"over the {MAX_SECRET_BYTES // 1024} KiB a secret may take: is it the right file?")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretFileError("SECRET_FILE_UNREADABLE", what, path, "not UTF-8 text") from None
    if not text:
        raise SecretFileError("SECRET_FILE_EMPTY", what, path,
                              "empty (a Secret key with no value, or a file written before its content)")
    return text
