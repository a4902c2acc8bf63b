"""The operators' calls: the desk (the ``RunnerView`` the API serves, each call a delegation to
the part that owns it), the commands that change the book (audited, applied, saved), manual
closes and their plans, previews, the operators' revokes and positions, the log line of a
change.
"""
