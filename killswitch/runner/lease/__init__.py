"""The runner's role: the store's lease kept from a thread of its own, what it counts and says
of every change, the leadership (fencing token, the one writer of audit rows), who changes the
state next (:mod:`.turn`). The pod's role label, which follows the lease, is the process's
(:mod:`killswitch.process.pod_label`).
"""
