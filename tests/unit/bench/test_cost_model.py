"""bench/cost_model.py reads bench/firm.py's own lines (the layout, the CPU of each process) and
fits a cost per account; the ceiling on C cores is the first process to reach its bound."""

from __future__ import annotations

import pytest

from tests.conftest import bench_module

cost_model = bench_module("cost_model")


def output(accounts: int, deciding: tuple[float, float, float], readers: tuple[float, float, float]) -> str:
    d, r = deciding, readers
    return (f"{accounts} accounts × 50 positions; readers 1; mode full\n"
            f"  CPU (of one core), quiet / under checks / in the incident: deciding process {d[0]} / {d[1]} / "
            f"{d[2]}; readers (1 reader process(es) and 1 other child(ren) of the runner) {r[0]} / {r[1]} / "
            f"{r[2]}; simulator 0.07 / 0.06 / 0.13\n")


def test_costs_per_account_and_the_ceiling_each_process_sets() -> None:
    runs = [cost_model.parse(output(50, (0.15, 0.35, 0.45), (0.2, 0.2, 0.2))),
            cost_model.parse(output(150, (0.35, 0.55, 0.60), (0.5, 0.5, 0.5)))]
    m = cost_model.model(runs)
    assert m.reader == pytest.approx((0.05, 0.003)) and m.deciding == pytest.approx((0.05, 0.002))
    assert m.gate == pytest.approx(0.2) and m.incident == pytest.approx(0.1)
    # the deciding process: (0.7 - 0.05 - 0.2 - 0.1) / 0.002 = 175; one reader: 0.65 / 0.003 = 216
    assert cost_model.ceiling(m, 2, 0.7) == (175, "the deciding process")
    assert cost_model.ceiling(m, 8, 0.7) == (175, "the deciding process")
    # a deciding process four times cheaper an account: the readers bound it, and more cores raise it
    cheap = m._replace(deciding=(0.05, 0.0005))
    assert cost_model.ceiling(cheap, 2, 0.7) == (216, "1 reader(s)")
    assert cost_model.ceiling(cheap, 4, 0.7) == (650, "3 reader(s)")
    assert cost_model.ceiling(cheap, 8, 0.7) == (700, "the deciding process")


def test_what_is_not_the_bench_output_or_cannot_be_fitted_is_refused() -> None:
    with pytest.raises(ValueError, match="not the output"):
        cost_model.parse("hello")
    same = cost_model.parse(output(50, (0.1, 0.2, 0.3), (0.2, 0.2, 0.2)))
    with pytest.raises(ValueError, match="must differ"):
        cost_model.model([same, same])
