"""benchmarks/fit.py runs end to end on a small file: cogsim.fit and the per-unit scipy loop start from the
same points and reach the same maxima (its agreement fields are computed, not assumed)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("cogsim.fit")


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("fit")


def _trials(rng: np.random.Generator) -> pd.DataFrame:
    """Von Mises + uniform errors of 3 participants at set sizes 1 and 4, 80 trials each."""
    rows = []
    for subject in ("a", "b", "c"):
        for set_size, p_mem, kappa in ((1, 0.95, 12.0), (4, 0.6, 4.0)):
            remembered = rng.random(80) < p_mem
            err = np.where(remembered, rng.vonmises(0.0, kappa, 80), rng.uniform(-np.pi, np.pi, 80))
            rows += [(subject, set_size, round(float(e), 6)) for e in err]
    return pd.DataFrame(rows, columns=["subject", "set_size", "error_rad"])


def test_the_benchmark_fits_both_sides_and_they_agree(bench, tmp_path):
    data = tmp_path / "trials.csv"
    _trials(np.random.default_rng(0)).to_csv(data, index=False)
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
