"""killswitch: a declarative kill-switch control plane for algorithmic trading.

Data flows one way: policies (YAML) → models → compiled DecisionGraph → evaluation against
snapshots → actions and events. ``policy``, ``compile`` and ``engine`` are pure.
"""

__version__ = "0.1.0"
