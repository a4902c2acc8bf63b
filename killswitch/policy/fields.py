"""What every document kind of the policy language shares: the header and the names.

What it owns: :data:`API_VERSION`, :class:`Metadata` and :class:`Document` (the header every
kind starts with: ``apiVersion``, ``kind``, ``metadata``), the name types (:data:`DocName`,
:data:`Ident`, :data:`Labels`) and the two small validators models of more than one kind use: a
short form's scalar (:func:`scalar_to`) and a runbook template's name (:func:`template_name`).

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from typing import Annotated, Any, Callable, Literal, Optional

from pydantic import Field
from pydantic_core import PydanticCustomError

from .registry import Strict

API_VERSION = "killswitch/v1"


# --- names ----------------------------------------------------------------------------------

NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
IDENT_RE = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"

DocName = Annotated[str, Field(pattern=NAME_RE, description="lower-case letters, digits and dashes")]
Ident = Annotated[str, Field(pattern=IDENT_RE, description="a name usable in conditions: letters, digits, _")]
Labels = dict[Annotated[str, Field(min_length=1, max_length=63)], str]


class Metadata(Strict):
    name: DocName
    owner: Optional[str] = None
    description: Optional[str] = None
    labels: Labels = {}


class Document(Strict):
    api_version: Literal["killswitch/v1"] = Field(alias="apiVersion")
    kind: str
    metadata: Metadata


def scalar_to(field: str) -> Callable[[Any], Any]:
    """A short form's reading: a scalar stands for ``{field: scalar}``, nothing for ``{}``
    (``notify: pager`` → ``{route: pager}``)."""
    def conv(value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return {field: value}
        return value

    return conv


def template_name(v: str) -> str:
    """A runbook template's name: inside runbooks/, never a path out of it."""
    if v.startswith("/") or ".." in v.split("/") or "\\" in v:
        raise PydanticCustomError("ks_value", "a runbook template is a name inside runbooks/, not a path")
    return v
