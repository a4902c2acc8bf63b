"""The decision engine: pure evaluation of a compiled graph against snapshots (built on the compiled graph)."""
