"""What the runner's answers say when they are not what an endpoint answers when it is done:
:class:`RunnerError` with the API's reason code, :class:`RunnerUnreachable` for no answer, and
how a reason code is read off an answer's body.

Must not: hold or show the token (an error names the runner's URL, never how it was called).
"""

from __future__ import annotations

import json
import re
import ssl
from typing import Any, Optional

_SHOWN_BODY = 200  # characters of a body that is not JSON kept for the error


class RunnerError(Exception):
    """The runner answered, but not with what the endpoint answers when it is done.

    ``status`` the HTTP status; ``code`` the API's reason code (its ``error`` field, or the code
    that opens its ``reason``: ``UNKNOWN_SCOPE``, ``NOT_LEADER``, ``MANUAL_RESET_REQUIRED``...;
    ``HTTP_<status>`` for a body that says none); ``reason`` the runner's words; ``body`` the
    answer as it came (parsed JSON; ``{"reason": <its first 200 characters>}`` for a body that is
    not JSON; None for none), for those who show it as it came."""

    def __init__(self, status: Optional[int], code: str, reason: str, *, url: str, body: Any = None):
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.url = url
        self.body = body

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


# OpenSSL's verify codes (X509_V_ERR_*) of a chain that no CA the client holds signs: the issuer
# not found (2, 20, 21), a self-signed certificate or chain (18, 19)
_UNTRUSTED_CHAIN = frozenset({2, 18, 19, 20, 21})


class RunnerUnreachable(RunnerError):
    """No answer: refused, timed out, a name that does not resolve, a certificate not trusted.
    ``detail`` says which."""

    def __init__(self, url: str, detail: Any):
        self.detail = detail
        super().__init__(None, "UNREACHABLE", f"cannot reach the runner at {url}: {detail}", url=url)

    @property
    def untrusted(self) -> bool:
        """The runner's certificate is signed by no CA the client trusts (self-signed, or an
        unknown CA); a name that does not match or an expired certificate is not this."""
        return isinstance(self.detail, ssl.SSLCertVerificationError) and self.detail.verify_code in _UNTRUSTED_CHAIN

    def __str__(self) -> str:
        return self.reason


# a reason code: one word of capitals, alone or before a colon ("NOT_LEADER: this runner ...")
_REASON_CODE = re.compile(r"([A-Z][A-Z0-9_]*)(?::|$)")


def code_of(status: int, body: Any) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            return body["error"]
        reason = body.get("reason")
        m = _REASON_CODE.match(reason) if isinstance(reason, str) else None
        if m:
            return m.group(1)
    return f"HTTP_{status}"


def error_of(status: int, doc: Any, url: str) -> RunnerError:
    """The error an answer of ``status`` with the body ``doc`` (parsed) is."""
    code = code_of(status, doc)
    reason = doc.get("reason") if isinstance(doc, dict) else None
    return RunnerError(status, code, reason if isinstance(reason, str) else code, url=url, body=doc)


def tolerant_body(raw: bytes) -> Any:
    """An error's body parsed, or its first characters as its reason when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return {"reason": raw.decode(errors="replace")[:_SHOWN_BODY]}
