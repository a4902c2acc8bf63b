"""GitHub's REST API, read: the open pull requests of a repository and the files each changes.

``GET /repos/{owner}/{repo}/pulls?state=open&per_page=100`` and ``GET
/repos/{owner}/{repo}/pulls/{n}/files?per_page=100``, each followed page by page through the
``Link`` header's ``rel="next"`` (never to another host than the API's: the token goes with each
request). An answer that is not 200 is a :class:`GitHubError` with GitHub's own ``message``
(``Not Found``, ``API rate limit exceeded for …``, with the time the limit resets); no answer
at all (refused, timed out, a name that does not resolve) is :class:`Unreachable`. The token is
sent as a bearer token and never appears in an error.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator, Optional

from ..figures import iso

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
# a list longer than this many pages is refused rather than read without end (GitHub lists at
# most 3,000 files of a pull request: 30 pages)
MAX_PAGES = 100
TIMEOUT_S = 15.0
LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')


class GitHubError(Exception):
    """GitHub answered, but not with what was asked: its HTTP status and its message."""

    def __init__(self, status: int, message: str, url: str):
        super().__init__(f"GitHub answered HTTP {status} to GET {url}: {message}")
        self.status = status
        self.message = message
        self.url = url


class Unreachable(Exception):
    """No answer from the API."""


def next_link(header: Optional[str]) -> Optional[str]:
    """The ``rel="next"`` URL of a ``Link`` header, or None (the last page)."""
    for url, rels in LINK.findall(header or ""):
        if "next" in rels.split():
            return url
    return None


class GitHub:
    def __init__(self, repo: str, token: str, api_url: str = API_URL, timeout_s: float = TIMEOUT_S):
        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s
        self.requests = 0

    def open_pulls(self) -> list[dict[str, Any]]:
        return list(self._pages(f"/repos/{self.repo}/pulls", {"state": "open"}))

    def pull_files(self, number: int) -> list[dict[str, Any]]:
        return list(self._pages(f"/repos/{self.repo}/pulls/{number}/files", {}))

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        url: Optional[str] = f"{self.api_url}{path}?{urllib.parse.urlencode({**params, 'per_page': PER_PAGE})}"
        pages = 0
        while url is not None:
            pages += 1
            if pages > MAX_PAGES:
                raise GitHubError(200, f"more than {MAX_PAGES} pages of {PER_PAGE}: not read further", path)
            body, link = self._get(url)
            if not isinstance(body, list):
                raise GitHubError(200, f"expected a list, got {type(body).__name__}", url)
            yield from body
            url = next_link(link)
            if url is not None and not self._same_origin(url):
                raise GitHubError(200, f"the next page is on another host ({urllib.parse.urlsplit(url).netloc}): "
                                       "not followed with the token", path)

    def _same_origin(self, url: str) -> bool:
        a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(self.api_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def _get(self, url: str) -> tuple[Any, Optional[str]]:
        request = urllib.request.Request(url, headers={
            "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
            "Authorization": f"Bearer {self._token}", "User-Agent": "ksctl"})
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read().decode("utf-8")), response.headers.get("Link")
        except urllib.error.HTTPError as e:
            raise GitHubError(e.code, _message(e), _shown(url)) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise Unreachable(f"cannot reach {self.api_url}: {reason}") from None
        except ValueError as e:  # not JSON
            raise GitHubError(200, f"not a JSON answer ({e})", _shown(url)) from None


def _shown(url: str) -> str:
    """``url`` without its scheme and host: the path and query GitHub was asked."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _message(e: urllib.error.HTTPError) -> str:
    """GitHub's ``message`` of an error answer, and when the rate limit is why, when it resets."""
    try:
        body = json.loads(e.read().decode("utf-8"))
        text = str(body.get("message")) if isinstance(body, dict) and body.get("message") else ""
    except (ValueError, OSError):
        text = ""
    text = text or (e.reason if isinstance(e.reason, str) else "") or "no message"
    headers = e.headers
    if headers is not None and headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            text += f" (rate limit; it resets at {iso(int(headers['x-ratelimit-reset']) * 1000)})"
        except ValueError:
            pass
    return text
