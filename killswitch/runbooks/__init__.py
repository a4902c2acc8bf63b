"""Incident runbooks: what the on-call engineer reads when a stage fires.

- :mod:`.incident` — the incident as plain data, from a running runner or from a policy alone;
- :mod:`.templates` — the ``runbooks/`` directory, rendered in jinja2's sandbox;
- :mod:`.render` — incident data → markdown and HTML, with fallbacks that never fail;
- :mod:`.check` — what ``ksctl validate`` asks about the templates a policy names;
- :mod:`.sink` — the runner sink that renders and stores the runbook of every stage entry;
- :mod:`.report` — the closure report for compliance, read from the audit trail.

Must not: import jinja2 at import time (``ksctl validate`` imports this package), or put a
secret, a notification URL or an exchange's error text into incident data.
"""
