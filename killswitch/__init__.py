"""killswitch: a declarative kill-switch control plane for algorithmic trading.

Data flows one way: policies (YAML) → models → compiled DecisionGraph → evaluation against
snapshots → actions and events. ``policy``, ``compile`` and ``engine`` are pure.
"""

__version__ = "0.1.0"

# The name of the distribution (pyproject.toml [project] name) that installs this package: what
# importlib.metadata knows it by. Not `killswitch`: on the public index that is another project's.
DISTRIBUTION = "killswitch-control-plane"
