"""The chart's shards (values `shards`): one Deployment, leader Service and PDB per shard, all on one
PostgreSQL; and, without shards, the chart exactly as it rendered before shards existed.

The golden files under tests/chart/golden/ are `helm template` outputs of the chart as it was before
`shards` was added (rewrite them with `pytest tests/chart/test_shards.py --update-goldens` only for
a deliberate change of the unsharded chart, and review the diff like code). The helm-unittest
cases of the same feature are in charts/killswitch/tests/shards_test.yaml.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from killswitch.cli.run import run as run_command
from tests.chart.conftest import CHART, CI_VALUES, Helm, objects_of, one, write_values
from tests.chart.test_chart import KUBE_VERSIONS, VARIANTS, _selects
from tests.conftest import check_golden

GOLDEN = Path(__file__).parent / "golden"

# The generated audit key (randAlphaNum) would make every render differ: a fixed one.
FIXED = ["--set", "auditKey.value=golden-audit-key-not-a-secret-0123456789"]

UNSHARDED = [(m, None) for m in sorted(CI_VALUES)] + [("single", v) for v in VARIANTS] + \
    [("ha", "existing"), ("ha", "network-policy")]


def _render_text(helm: Helm, mode: str, *args: str) -> str:
    return helm.run("template", "ks", str(CHART), "--namespace", "trading", "-f", str(CI_VALUES[mode]),
                    *FIXED, *args).stdout


@pytest.mark.parametrize("mode,variant", UNSHARDED)
def test_without_shards_the_chart_renders_byte_for_byte_as_before(helm, mode, variant, update_goldens):
    out = _render_text(helm, mode, *VARIANTS.get(variant, []))
    check_golden(GOLDEN / f"{mode}-{variant or 'default'}.yaml", out, update_goldens)
