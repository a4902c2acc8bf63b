"""``ksctl run``'s shared API token: where it is taken from, and what is said about it.

The shared token is the one of ``--api-token-file`` (env ``KS_API_TOKEN_FILE``), else of the
variable ``--api-token-env`` names (``KS_API_TOKEN``). Without a tokens document it is the API's
one identity (the quick start, the chart's simple mode), as it always was. Beside a tokens
document the variable is taken only when ``--api-token-env`` is given on the command line:
``KS_API_TOKEN`` is also the variable the client verbs read, so an on-call who exported their
own token for ``ksctl lock`` would otherwise restart the runner with it as the shared token
(refused: it is listed, and the book is unguarded) or, with a token the document does not list,
give the runner an operator identity nobody chose. A variable set but not taken is said in one
WARNING line, naming whose personal token it is when it is one; a shared token taken beside
personal ones is said in one WARNING line too, with the roles it carries.

Must not: print a token, or take a token from the environment beside personal tokens unasked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional


@dataclass(frozen=True)
class SharedToken:
    """What :func:`shared_token_of` found: the token and where it came from, or why the file
    cannot be used (the start is refused), or the WARNING line for a variable set but not taken."""

    token: Optional[str] = None
    source: str = ""  # KS_API_TOKEN, --api-token-file PATH: named in a refusal, never the value
    problem: Optional[str] = None
    ignored: Optional[str] = None


def shared_token_of(opts: Any, tokens: Any = None, environ: Mapping[str, str] = os.environ) -> SharedToken:
    """The shared token of ``opts`` (the daemon's :class:`~killswitch.process.options.RunOptions`)
    beside ``tokens`` (the tokens document read at start, or None): the file's, else the
    variable's, which beside a tokens document only when ``--api-token-env`` was given."""
    if getattr(opts, "api_token_file", None):
        from ..secret_file import SecretFileError, read_secret_file

        try:
            return SharedToken(read_secret_file(opts.api_token_file, "--api-token-file"),
                               f"--api-token-file {opts.api_token_file}")
        except SecretFileError as e:
            return SharedToken(problem=str(e))
    name = opts.api_token_env
    value = environ.get(name)
    if tokens is None or getattr(opts, "api_token_env_given", False):
        return SharedToken(value, name)
    return SharedToken(ignored=ignored_warning(name, tokens, value) if value else None)


def ignored_warning(name: str, tokens: Any, value: str) -> str:
    """The WARNING line for the variable ``name`` set (to ``value``, never printed) but not taken
    beside the tokens document ``tokens``: why, whose token it is, and how to take it."""
    holder = tokens.identify(value.encode("utf-8"))  # digests compared as the API compares them
    whose = (f"it is {holder.name}'s personal token, which works as {holder.name}" if holder is not None else
             "the tokens document does not list it, so the API refuses it like any unknown token")
    return (f"ksctl run: WARNING: {name} is set but not taken as the shared API token, because it is the "
            "variable the client verbs (ksctl lock, status, …) read and a tokens document is given (--api-tokens); "
            f"{whose}; pass --api-token-env {name} to also use it as a shared token")


def beside_warning(source: str, identity: Any) -> str:
    """The WARNING line for a shared token (from ``source``) taken beside a tokens document, as
    ``identity`` (the shared identity, with its roles)."""
    return (f"ksctl run: WARNING: the shared API token from {source} is taken beside the tokens document: every "
            f"request with it acts as {identity.name} with roles {', '.join(sorted(identity.roles))}, whoever "
            "sends it")
