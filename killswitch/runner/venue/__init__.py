"""What goes to the venues and what they answer: the one way out, a port per account
(:mod:`.port`), the executor (journal, send, reconcile) and its values (:mod:`.execution`), the
closes refused and those that ended short, the order books a close is sized against, each
account's failed snapshots, streams and position mode.
"""
