"""Policy sync: what a runner runs, per document, against the newest sources it was handed, and
the drift verdict a checker (``ksctl drift --post``) posted about it (the ``policy_sync`` block of
``GET /v1/status``). The values are :mod:`killswitch.view.policy_sync`'s (the API answers them),
the one writer of them :mod:`.tracker`'s.
"""
