"""The process's wiring: what a ``ksctl run`` process, ``ksctl demo``, ``ksctl plan`` and the
benches are built from (:mod:`.bootstrap`), the daemon that runs one (:mod:`.daemon`: its start,
:mod:`.start`; its options, :mod:`.options`; its policy and tokens reloads, :mod:`.reloads` and
:mod:`.tokens`; its named tasks, :mod:`.tasks`) and a shard's part (:mod:`.shard`). Nothing below
imports it. Imports nothing eagerly."""
