"""``ksctl drift``: does each runner run what git holds?

A room of three parts, bottom up:

* :mod:`.compare` — pure: the expected documents (path → sha256), each runner's ``policy_sync``
  (its ``GET /v1/status``, docs/runner.md) and a history of the policy path handed in, to a
  verdict per runner (in sync, behind, diverged, reload failing, not heard, old API) and the
  disagreements between runners (replicas of a shard on different graphs, shards on different
  revisions). No I/O, no clock.
* :mod:`.revisions` — the expected documents and the history, read from git (``REV:PATH``, one
  ``git cat-file --batch`` process, trees and blobs hashed once) or a directory.
* :mod:`.runners` — every runner's status read at once, each within a bound; the firm board's
  shards; a verdict posted back (``POST /v1/policy-drift``).

The command is :mod:`killswitch.cli.drift`, the output :mod:`killswitch.render.drift`.
"""
