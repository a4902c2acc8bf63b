"""The forge a policy repository lives on (GitHub): what its API says of the open pull requests.

:mod:`.github` reads GitHub's REST API (urllib, paginated by the ``Link`` header, GitHub's own
message on an error); :mod:`.overlaps` finds, from what it read, the other open pull requests
that change the same policy documents as one (``ksctl pr overlaps``). Nothing here writes to the
forge, and nothing here prints: the command line renders (``killswitch/render/concurrent.py``).
"""
