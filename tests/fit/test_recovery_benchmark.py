"""benchmarks/recovery.py's diagnosis: the per-unit records agree with the counts, and the grid profile of a
parameter is a maximum over the others (never below a point it could reach)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

pytest.importorskip("cogsim.fit")

KEY = jax.random.key(0)
N_TRIALS, N_SUBJECTS = 200, 4


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("recovery")


@pytest.fixture(scope="module")
def recovered(bench):
    model = bench.MODELS["fixed_capacity"]
    res = bench.fitlib.recover(model, bench.RANGES["fixed_capacity"], N_TRIALS, N_SUBJECTS, key=KEY)
    return model, res, bench.diagnose(model, res, N_TRIALS, key=KEY)


def test_unit_records_agree_with_the_counts(recovered):
    model, res, diag = recovered
    rows = diag["units"]
    assert len(rows) == diag["n_units"] == N_SUBJECTS
    assert [r["truth_minus_estimate_loglik"] for r in rows] == diag["truth_minus_estimate_loglik"]
    fitted = res.fit.units.set_index("subject")
    truth = res.truth.set_index("subject")
    for r in rows:
        assert r["converged"] == bool(fitted.loc[r["subject"], "converged"])
        assert r["loglik"] == pytest.approx(fitted.loc[r["subject"], "loglik"], abs=1e-3)
        for p in model.params:
            assert r[p.name] == pytest.approx(fitted.loc[r["subject"], p.name], abs=1e-4)
            assert r[f"{p.name}_true"] == pytest.approx(truth.loc[r["subject"], p.name], abs=1e-4)
    for p in model.params:
        assert sum(p.name in r["at_bound"] for r in rows) == diag["n_at_bound"][p.name]


def test_grid_profile_reaches_the_fit_and_the_truth(bench, recovered):
    model, res, diag = recovered
    data = bench._recovery.simulate_data(model, res.truth, N_TRIALS, key=jax.random.fold_in(KEY, 1))
    packed = bench._data.pack(data, model, by=("subject",))
    rows = diag["units"]
    names = [p.name for p in model.params]
    est = np.asarray([[r[p] for p in names] for r in rows])
    tru = np.asarray([[r[f"{p}_true"] for p in names] for r in rows])
    # the grid holds each unit's estimate and truth of K, so the profile there can be no lower than the fit
    # (started at the estimate) and the truth's own log-likelihood (started at the truth)
    for i, r in enumerate(rows):
        grid = [r["K"], r["K_true"], 0.3]
        prof = bench.profile_grid(model, bench._data.take(packed, np.asarray([i])), "K", grid,
                                  np.stack([est[i : i + 1], tru[i : i + 1]]))[0]  # fmt: skip
        ll_true = r["loglik"] + r["truth_minus_estimate_loglik"]
        assert prof[0] >= r["loglik"] - 0.01, (r, prof)
        assert prof[1] >= ll_true - 0.01, (r, prof)
        assert prof[2] < max(prof[0], prof[1]) - 1.0, (r, prof)  # K = 0.3 remembers too little


def test_profile_misses_region_holds_the_best_grid_point(bench, recovered):
    model, res, diag = recovered
    grid = bench._grid("0.5:8:0.5")
    assert grid[0] == 0.5 and grid[-1] == 8.0 and len(grid) == 16
    out = bench.profile_misses(model, res, diag, N_TRIALS, "K", grid, 0.0, key=KEY)
    assert len(out["units"]) == N_SUBJECTS  # every unit misses by more than 0
    for u in out["units"]:
        best = grid[int(np.argmax(u["profile"]))]
        assert u["lr95_low"] <= best <= u["lr95_high"]
        assert u["lr95_span"] == pytest.approx(u["lr95_high"] - u["lr95_low"])
        assert u["profile_max_minus_fit"] <= 0.01  # a grid point cannot beat the fit's optimum by much
    far = bench.profile_misses(model, res, diag, N_TRIALS, "K", grid, 100.0, key=KEY)
    assert far["units"] == []


def test_model_recovery_entry_keeps_scores_and_convergence(bench):
    args = bench.argparse.Namespace(
        models="fixed_capacity,sdt", n_trials=120, n_subjects=3, seed=0, n_starts=1, out=""
    )
    out = bench.model_recovery("change_detection", args)
    names = ["fixed_capacity", "sdt"]
    assert out["converged"]["models"] == names
    assert all(0.0 <= c <= 1.0 for row in out["converged"]["matrix"] for c in row)
    scores = out["scores"]
    assert len(scores) == 2 * 3 * 2  # generating x participants x fitted
    for gi, gen in enumerate(names):  # the stored scores give the stored matrix
        for fi, fitted in enumerate(names):
            rows = [r for r in scores if r["generating"] == gen and r["model"] == fitted]
            share = np.mean([r["converged"] for r in rows])
            assert out["converged"]["matrix"][gi][fi] == pytest.approx(share)
        won = 0
        for s in {r["subject"] for r in scores if r["generating"] == gen}:
            rows = [r for r in scores if r["generating"] == gen and r["subject"] == s]
            won += min(rows, key=lambda r: r["aic"])["model"] == gen
        assert out["aic"]["matrix"][gi][gi] == pytest.approx(won / 3, abs=1e-3)


def test_hierarchical_entry_has_the_ml_entry_truth_and_columns(bench, tmp_path):
    common = dict(n_trials=N_TRIALS, n_subjects=N_SUBJECTS, seed=0, n_starts=1, profile=None)
    ml, ml_res = bench.parameter_recovery("fixed_capacity", bench.argparse.Namespace(method="ml", **common))
    hier, h_res = bench.parameter_recovery(
        "fixed_capacity", bench.argparse.Namespace(method="hierarchical", **common)
    )
    assert ml_res.truth.equals(h_res.truth)
    assert [r.keys() for r in hier["table"]] == [r.keys() for r in ml["table"]]
    assert [r["truth_mean"] for r in hier["table"]] == [r["truth_mean"] for r in ml["table"]]
    assert "method" not in ml and hier["method"] == "hierarchical"
    assert hier["em_iterations"] == len(hier["trace"]) >= 1 and isinstance(hier["em_converged"], bool)
    assert [g["parameter"] for g in hier["group"]] == ["K", "a", "g"]
    out = tmp_path / "r.json"
    entry = bench.main(["params", "fixed_capacity", "--method", "hierarchical", "--n-subjects", "4",
                        "--n-trials", "200", "--n-starts", "1", "--out", str(out)])  # fmt: skip
    stored = bench.json.loads(out.read_text())
    assert list(stored) == ["parameter_recovery_hierarchical"]
    assert stored["parameter_recovery_hierarchical"]["fixed_capacity (4x200)"]["table"] == entry["table"]
    with pytest.raises(SystemExit):
        bench.main(["models", "change_detection", "--method", "hierarchical", "--out", str(out)])
