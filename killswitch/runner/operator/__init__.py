"""The operators' calls: the desk (the ``RunnerView`` the API serves, each call a delegation to
the part that owns it), the commands that change the book (audited, applied, saved), manual
closes and their plans, the operators' revokes, the log line of a change (the reads and the
actions' previews the desk answers stand above the runner: :mod:`killswitch.face.readout`).
"""
