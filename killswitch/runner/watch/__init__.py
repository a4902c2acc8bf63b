"""The watches that enforce between ticks: the rules a check-order's answer and the limits'
watch apply (:mod:`.enforce`), the enforcement they place, and the watches of a stage's
entries and of the limits.
"""
