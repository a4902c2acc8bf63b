"""The documents of the policy language (``apiVersion: killswitch/v1``), by kind.

Four kinds, a module each: :class:`~.policy_doc.Policy`, :class:`~.accounts_doc.Accounts`,
:class:`~.routes_doc.NotificationRoutes`, :class:`~.policytest_doc.PolicyTest`; this module
holds the index of them by ``kind`` (:data:`DOCUMENT_KINDS`) that the loader validates each
document with. What the kinds share (the header, the name types) is :mod:`.fields`; a policy's
scope :mod:`.scope`; the catalogues of signal and action kinds, with the ``Signal`` and
``Action`` documents made from them, :mod:`.signals` and :mod:`.actions` (the machinery both
use :mod:`.catalogue`, each kind of a module of its own :mod:`.kinds`).

Every model is frozen and forbids unknown keys, so a misspelled key is an error, never a
silently ignored setting. Values with units (durations, percentages, amounts) are parsed
in the models (:mod:`.units`); cross-references (a stage naming a trigger, a condition reading
a signal) are the compiler's job, so that all of them are reported in one pass with positions.

Secrets: credentials and notification URLs are *references* (``{env: VAR}`` or
``{file: PATH}``). A literal secret in a document is rejected (KS209) and its value never
appears in a message.

Pure: no I/O.

Annotations in the modules of the models are evaluated as the classes are made (no ``from
__future__ import annotations``): pydantic would otherwise compile and evaluate every one of
them from its text, about a tenth of what importing the models costs, and ``ksctl validate``
pays for it.
"""

from .accounts_doc import Accounts
from .fields import Document
from .policy_doc import Policy
from .policytest_doc import PolicyTest
from .routes_doc import NotificationRoutes

DOCUMENT_KINDS: dict[str, type[Document]] = {
    "Policy": Policy,
    "Accounts": Accounts,
    "NotificationRoutes": NotificationRoutes,
    "PolicyTest": PolicyTest,
}

__all__ = ["DOCUMENT_KINDS", "Policy", "Accounts", "NotificationRoutes", "PolicyTest"]
