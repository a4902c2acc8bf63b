"""``revoke_trading`` carried out by the runner, end to end on SQLite and the simulated exchange,
a file by what is tested: the revoke confirmed and shown (test_confirmed), refusals retried with
back-off (test_retries), a crash or a takeover mid-revoke (test_restart), the restore and its
approvals (test_restore), the operator's revoke (test_operator) and what a revoke can reach
(test_reach); what they share is in helpers.py.
"""
