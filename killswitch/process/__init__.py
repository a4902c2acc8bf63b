"""The composition root: every part built from options (:mod:`.bootstrap`), and the ``ksctl run``
process that runs them (:mod:`.daemon`); see docs/architecture.md. Nothing below imports it."""
