"""What a document's schema check leaves: pydantic's errors read, and what of the document is kept.

The room: :mod:`.errors` (pydantic's validation errors → diagnostics with positions), :mod:`.tree`
(the model a path of a document leads to, the keys allowed there) and :mod:`.salvage` (a document
with schema errors, kept without its bad parts and validated again). Read by :mod:`..load`, and
only for a document with schema errors. The models themselves are the documents' modules
(:mod:`..policy_doc` and the rest); the JSON Schemas written from them are ``killswitch/schemas/``
(:mod:`killswitch.cli.schema`).

Pure: no I/O.
"""
