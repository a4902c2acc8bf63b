"""The pre-trade gate behind ``POST /v1/check-order``: the request, the placement of an order
against the locks, the limits (and the state the limits' watch keeps), the resumption schedule
after a reset, and the gate's answer as a read.

Must not import the book or anything that ticks: a check reads values it is handed.
"""
