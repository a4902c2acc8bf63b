"""Silences and acknowledgements: their commands and reads (:mod:`.silences`), a silence's
values checked against the catalog and what it would hold back now (:mod:`.check`), and that
answer as a value (:mod:`killswitch.view.silence_preview`).
"""
