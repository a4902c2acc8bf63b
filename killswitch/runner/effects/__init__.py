"""The effects the runner owns at the venue besides orders: the heartbeats and countdowns of
the dead man's switch (and which heartbeat sources it takes), and the bots' keys revoked and
restored.
"""
