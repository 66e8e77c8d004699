"""benchmarks/fit.py runs end to end on a small file: cogsim.fit and the per-unit scipy loop start from the
same points and reach the same maxima (its agreement fields are computed, not assumed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("cogsim.fit")


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("fit")


def test_the_benchmark_fits_both_sides_and_they_agree(bench, mixture_csv, tmp_path):
    data = mixture_csv
    out = tmp_path / "fit.json"
    # in this process JAX is running already: its CPU pool stays as it is
    result = bench.main(["--toy", "--data", str(data), "--out", str(out), "--xla-threads", "default"])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    (row,) = result["models"]
    assert row["model"] == "toy_vm_mixture" and row["units"] == 6 and row["participants"] == 3
    assert row["cogsim_all_converged"]
    assert row["units_within_0.1"] == 6, row  # the same maxima from the same starts
    assert row["min_loglik_diff_cogsim_minus_scipy"] > -0.1
    assert np.isfinite(row["unit_loglik_scipy"]).all() and len(row["unit_loglik_scipy"]) == 6
    assert result["total"]["ratio_cold"] > 0 and result["total"]["ratio_warm"] > 0
