"""What goes to the venues and what they answer: the one way out (:mod:`.execution`), the
executor (journal, send, reconcile), the closes refused and those that ended short, the order
books a close is sized against, each account's failed snapshots, streams and position mode.
"""
