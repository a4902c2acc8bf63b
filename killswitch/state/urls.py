"""Store URLs without their secrets: the masked form shown to people, and the secrets to scrub.

Must not: return or log a password, whatever shape the URL has. Parsing is deliberately
forgiving — a password with an unescaped ``/``, ``?`` or ``@`` still counts as one — and errs
on the side of masking too much.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

# scheme://user:<everything up to the last @> — greedy, so an unescaped @ in the password stays hidden
_USERINFO_PASSWORD = re.compile(r"^([A-Za-z][\w+.-]*://[^:/?#@]*:)(.*)@")
_PASSWORD_PARAM = re.compile(r"(password=)[^&\s]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL with its password (userinfo or ``password=`` parameter) replaced by ``***``."""
    return _PASSWORD_PARAM.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", url, count=1))


def url_secrets(url: str) -> list[str]:
    """Every password the URL carries, as written and percent-decoded, to scrub from messages."""
    found = []
    m = _USERINFO_PASSWORD.match(url)
    if m and m.group(2):
        found.append(m.group(2))
    found += [v for k, v in parse_qsl(url.partition("?")[2]) if k.lower() == "password" and v]
    found += [v for k, v in re.findall(r"(password)=([^&\s]+)", url, re.IGNORECASE)]
    return sorted({s for f in found for s in (f, unquote(f))}, key=len, reverse=True)  # longest first


def scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text
