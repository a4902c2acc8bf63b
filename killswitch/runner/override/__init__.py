"""Overrides of the pre-trade limits: requested, approved, ended, kept durable, and handed to the
gate and the venue watch (:mod:`.overrides`); what a request names, resolved against the running
policies (:mod:`.resolve`)."""
