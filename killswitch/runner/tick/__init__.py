"""The tick: the loop (its pipeline, its order written once), what a tick reports, a policy
reload swapped in between two ticks, the parts a runner and its desk are made of, the book saved
and the lock file written, the collector held off over an entry, and when the next tick starts.

The top of the runner beside the API: nothing in the runner imports it.
"""
