"""Hierarchical (group + participants) fitting: EM with the Laplace approximation.

The checks below were declared before the method's first results were looked at (docs/fitting.md,
"Hierarchical fitting"): shrinkage lowers the error with few trials per participant, vanishes with many,
the group-mean interval covers the true group mean, the numbers are reproducible, and the approximate log
marginal likelihood does not fall over the EM iterations (up to float32 rounding).
"""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import fit
from cogsim.errors import CogsimError

#: the population the participants of the few-trials check are drawn from (unconstrained coordinates:
#: ``mu`` is unbounded, ``sd`` = softplus(u))
GROUP_MEAN = {"mu": 1.0, "sd": 0.54}
GROUP_SD = {"mu": 0.2, "sd": 0.25}


def _softplus(u):
    return np.logaddexp(0.0, u)


def _truth(n: int, seed: int) -> dict[str, np.ndarray]:
    """Unconstrained values of ``n`` participants drawn from the group distribution."""
    rng = np.random.default_rng(seed)
    return {p: rng.normal(GROUP_MEAN[p], GROUP_SD[p], n) for p in ("mu", "sd")}


def _frame(toy, truth_u: dict, n_trials: int, seed: int) -> pd.DataFrame:
    n = len(truth_u["mu"])
    natural = {"mu": truth_u["mu"], "sd": _softplus(truth_u["sd"])}
    return toy.simulate_frame(toy.Gauss(), natural, [n_trials] * n, seed=seed)


def _unconstrained(model, units: pd.DataFrame) -> np.ndarray:
    return np.stack(
        [np.asarray(p.to_unconstrained(units[p.name].to_numpy()), float) for p in model.params], -1
    )


def _both(toy, n_subjects, n_trials, truth_seed, data_seed, key):
    """``n_subjects`` x ``n_trials`` of the Gaussian toy: model, truth, ML and hierarchical fits."""
    truth = _truth(n_subjects, seed=truth_seed)
    data = _frame(toy, truth, n_trials, seed=data_seed)
    model = toy.Gauss()
    ml = fit.fit(model, data, ci=None, key=key)
    hier = fit.fit_hierarchical(model, data, key=key)
    return model, truth, ml, hier


def _few(toy):
    """40 participants x 40 trials of the Gaussian toy."""
    return _both(toy, 40, 40, 1, 3, jax.random.key(0))


_CACHE: dict = {}  # the few-trials fits, shared by two tests (``toy`` is a function-scoped fixture)


def _few_cached(toy):
    if "few" not in _CACHE:
        _CACHE["few"] = _few(toy)
    return _CACHE["few"]


def test_few_trials_shrinkage_lowers_the_error(toy):
    model, truth, ml, hier = _few_cached(toy)
    true_u = np.stack([truth["mu"], truth["sd"]], -1)
    rmse = lambda est: np.sqrt(np.mean((est - true_u) ** 2, axis=0))
    rmse_ml, rmse_hier = rmse(_unconstrained(model, ml.units)), rmse(_unconstrained(model, hier.units))
    assert np.all(rmse_hier < rmse_ml), (rmse_hier, rmse_ml)
    assert hier.converged and 1 <= hier.n_iter == len(hier.trace)
    assert set(hier.estimates.columns) == set(ml.estimates.columns)
    assert list(hier.summary.columns) == list(ml.summary.columns)
    assert np.isfinite(hier.log_marginal) and np.isfinite(hier.ibic)


@pytest.mark.xfail(
    strict=True,
    reason="declared check failed (docs/fitting.md, 'Hierarchical fitting'): sd's 95 % group-mean interval "
    "[0.377, 0.535] misses the true 0.54 (the 40 drawn participants' mean is 0.504, the ML mean 0.449)",
)
def test_few_trials_group_mean_interval_covers_the_true_group_mean(toy):
    _, _, _, hier = _few_cached(toy)
    group = hier.group.set_index("parameter")
    for p in ("mu", "sd"):
        assert group.loc[p, "ci_low"] <= GROUP_MEAN[p] <= group.loc[p, "ci_high"], group.loc[p]


def test_log_marginal_likelihood_does_not_fall_over_iterations(toy):
    _, _, _, hier = _few_cached(toy)
    lml = hier.trace["log_marginal"].to_numpy()
    assert len(lml) >= 2
    assert np.all(np.diff(lml) >= -1e-5 * np.abs(lml[1:])), lml
    assert lml[-1] > lml[0]
    assert hier.log_marginal == pytest.approx(lml[-1])


def test_many_trials_hierarchical_agrees_with_ml(toy):
    model, _, ml, hier = _both(toy, 8, 2000, 5, 6, jax.random.key(2))
    diff = np.abs(_unconstrained(model, hier.units) - _unconstrained(model, ml.units))
    assert diff.max() < 0.05, diff


def test_same_key_same_numbers(toy):
    truth = _truth(10, seed=7)
    data = _frame(toy, truth, 30, seed=8)
    model = toy.Gauss()
    a = fit.fit_hierarchical(model, data, key=jax.random.key(4))
    # numpy integers are counts too (as a notebook's np.arange or a DataFrame cell gives them)
    b = fit.fit_hierarchical(model, data, n_starts=np.int64(4), max_iter=np.int64(100), key=jax.random.key(4))
    pd.testing.assert_frame_equal(a.estimates, b.estimates, check_exact=True)
    pd.testing.assert_frame_equal(a.group, b.group, check_exact=True)
    pd.testing.assert_frame_equal(a.trace, b.trace, check_exact=True)
    assert a.log_marginal == b.log_marginal and a.n_iter == b.n_iter


def test_bad_arguments_name_the_field(toy):
    data = _frame(toy, _truth(4, seed=9), 20, seed=9)
    with pytest.raises(CogsimError, match="init"):
        fit.fit_hierarchical(toy.Gauss(), data, init="median", key=jax.random.key(0))
    with pytest.raises(CogsimError, match="fit_hierarchical: got max_iter=0; allowed: an integer >= 1"):
        fit.fit_hierarchical(toy.Gauss(), data, max_iter=0, key=jax.random.key(0))
    with pytest.raises(CogsimError, match="fit_hierarchical: got max_iter=True; allowed: an integer >= 1"):
        fit.fit_hierarchical(toy.Gauss(), data, max_iter=True, key=jax.random.key(0))
    with pytest.raises(CogsimError, match="ci"):
        fit.fit_hierarchical(toy.Gauss(), data, ci="profile", key=jax.random.key(0))
    with pytest.raises(CogsimError, match="tol: got inf; allowed: a finite number > 0"):
        fit.fit_hierarchical(toy.Gauss(), data, tol=float("inf"), key=jax.random.key(0))
    # a numpy float is a number (refused before, 2026-12-07)
    a = fit.fit_hierarchical(
        toy.Gauss(), data, tol=np.float32(0.01), lml_tol=np.float64(0.1), key=jax.random.key(0)
    )
    assert a.settings["tol"] == pytest.approx(0.01) and type(a.settings["tol"]) is float


def test_one_participants_intervals_under_a_group_resting_on_it_are_nan(toy):
    # one participant: each group distribution is its own estimate with the floor's SD, and the Laplace
    # interval under it was the floor's width (until 2026-12-07), not what the data say
    data = _frame(toy, _truth(1, seed=5), 40, seed=5)
    res = fit.fit_hierarchical(toy.Gauss(), data, key=jax.random.key(0))
    assert (res.group["n_units"] == 1).all() and res.group["ci_low"].isna().all()
    assert res.estimates["estimate"].notna().all()
    assert res.estimates["ci_low"].isna().all() and res.estimates["ci_high"].isna().all()
    two = fit.fit_hierarchical(toy.Gauss(), _frame(toy, _truth(2, seed=5), 40, seed=5), key=jax.random.key(0))
    assert two.estimates["ci_low"].notna().all()  # two participants: intervals as before


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "cogsim", "fit", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_hierarchical_writes_the_group_table(toy, tmp_path):
    truth = {"p_mem": np.linspace(0.6, 0.9, 6), "kappa": np.linspace(3.0, 9.0, 6)}
    df = toy.simulate_frame(toy.VonMisesMixture(), truth, [60] * 6, seed=12)
    csv = tmp_path / "trials.csv"
    df[["subject", "set_size", "error_rad"]].to_csv(csv, index=False)
    out = tmp_path / "out"
    res = _cli("delayed_estimation", "--data", str(csv), "--models", "mixture2p", "--hierarchical",
               "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "rest on one participant" not in res.stdout
    for name in ("fits.parquet", "models.parquet", "group.parquet", "comparison.json", "run.json"):
        assert (out / name).is_file(), name
    group = pd.read_parquet(out / "group.parquet")
    assert sorted(group["set_size"].unique().tolist()) == [2, 6] and len(group) == 4
    comp = json.loads((out / "comparison.json").read_text())
    assert set(comp["hierarchical"]["models"]) == {"mixture2p"}
    assert json.loads((out / "run.json").read_text())["config"]["hierarchical"] is True


@pytest.mark.parametrize("extra, flag", [(["--ci", "bootstrap"], "--ci"), (["--cv", "2"], "--cv")])
def test_cli_bad_combination_exits_2_with_one_line(tmp_path, extra, flag):
    csv = tmp_path / "t.csv"
    csv.write_text("subject,set_size,error_rad\n1,2,0.1\n")
    res = _cli(
        "delayed_estimation", "--data", str(csv), "--hierarchical", *extra, "--out", str(tmp_path / "o")
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert flag in res.stderr and "--hierarchical" in res.stderr


@pytest.mark.slow
def test_group_mean_interval_coverage_over_20_data_sets(toy):
    """Declared after the single-data-set coverage check failed, before this was run: 20 data sets of the
    few-trials design (truth seeds 100-119, data seeds 200-219, keys 0-19); each parameter's 95 % interval
    covers the true group mean in at least 16 of the 20 (a calibrated 95 % interval does so with
    probability 0.984)."""
    model = toy.Gauss()
    hits = {"mu": 0, "sd": 0}
    for r in range(20):
        data = _frame(toy, _truth(40, seed=100 + r), 40, seed=200 + r)
        group = fit.fit_hierarchical(model, data, key=jax.random.key(r)).group.set_index("parameter")
        for p in hits:
            hits[p] += int(group.loc[p, "ci_low"] <= GROUP_MEAN[p] <= group.loc[p, "ci_high"])
    print("coverage of the true group mean in 20 data sets:", hits)
    assert min(hits.values()) >= 16, hits


def test_em_iterations_do_not_recompile_the_e_step(toy):
    from cogsim.fit._solve import _solver, chunk_size

    model, _, _, hier = _few_cached(toy)
    assert hier.n_iter >= 2
    solver = _solver(model, None, chunk_size(2 * 40, 40), True)
    assert solver._cache_size() == 1  # one compilation served every EM iteration


def test_broad_start_reaches_the_same_group_distribution(toy):
    """Declared before it was run: from the broad start the few-trials fit's group means and SDs end within
    0.05 (unconstrained) of those from the ML start."""
    model, _, _, hier = _few_cached(toy)
    data = _frame(toy, _truth(40, seed=1), 40, seed=3)
    broad = fit.fit_hierarchical(model, data, init="broad", key=jax.random.key(0))
    for col in ("group_mean", "group_sd"):
        np.testing.assert_allclose(broad.group[col], hier.group[col], atol=0.05)
    assert broad.settings["init"] == "broad" and broad.converged


def test_a_model_without_parameters_has_no_group_and_its_loglik_as_marginal(toy):
    class Fixed:
        name, by_set_size, requires, params = "fixed", False, (), ()

        def loglik(self, p, t):
            return jax.scipy.stats.norm.logpdf(t["x"])

    data = _frame(toy, _truth(3, seed=2), 20, seed=2)
    res = fit.fit_hierarchical(Fixed(), data, key=jax.random.key(0))
    assert res.group.empty and res.n_iter == 0 and res.converged
    expected = float(jax.scipy.stats.norm.logpdf(data["x"].to_numpy()).sum())
    assert res.log_marginal == pytest.approx(expected, rel=1e-5) and res.ibic == pytest.approx(-2 * expected)


def test_units_grouped_by_trial_count_give_the_same_fit(toy):
    """Declared before it was run: with units of 20 and 60 trials, ``max_buckets=2`` (two padded groups,
    each compiled) ends at the same group distribution as one padded batch, within 1e-3."""
    truth = _truth(10, seed=11)
    natural = {"mu": truth["mu"], "sd": _softplus(truth["sd"])}
    data = toy.simulate_frame(toy.Gauss(), natural, [20] * 5 + [60] * 5, seed=11)
    one = fit.fit_hierarchical(toy.Gauss(), data, key=jax.random.key(1))
    two = fit.fit_hierarchical(toy.Gauss(), data, max_buckets=2, key=jax.random.key(1))
    for col in ("group_mean", "group_sd"):
        np.testing.assert_allclose(two.group[col], one.group[col], atol=1e-3)


def test_cli_hierarchical_with_one_participant_says_its_group_rests_on_one(toy, tmp_path, capsys):
    from cogsim import cli

    df = toy.simulate_frame(toy.VonMisesMixture(), {"p_mem": [0.8], "kappa": [6.0]}, [60], seed=3)
    csv = tmp_path / "trials.csv"
    df[["subject", "set_size", "error_rad"]].to_csv(csv, index=False)
    args = ["fit", "delayed_estimation", "--data", str(csv), "--models", "mixture2p", "--hierarchical"]
    assert cli.main([*args, "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    assert (
        "mixture2p: 4 of 4 group distributions rest on one participant's units: their SD is the floor (0.01)"
        in capsys.readouterr().out
    )


def _zhang_luck_two(ids):
    """Zhang & Luck (2008) subjects 1 and 2, 40 trials per set size, renamed to ``ids``."""
    from cogsim.scenarios.delayed_estimation import trials

    data = trials("zhang_luck2008")
    data = data[data.subject.isin([1, 2])].groupby(["subject", "set_size"]).head(40).copy()
    data["subject"] = data["subject"].map(dict(zip([1, 2], ids, strict=True)))
    return data


def test_renaming_participants_keeps_the_converged_flags():
    """Renaming the participants changes their ML starts (drawn by unit id), so the float32 E-step stops at
    another point near the same MAP: under the per-trial gradient rule (norm <= 1e-3) this pair of namings
    flagged units differently (norms 0.35-1.59e-3); the Newton decrement (nats) flags them alike."""
    from cogsim.fit._hierarchical import NEWTON_TOL
    from cogsim.models import paradigms

    model = paradigms.get("delayed_estimation").models["mixture2p"]
    a, b = (
        fit.fit_hierarchical(model, _zhang_luck_two(ids), key=jax.random.key(0)) for ids in ([1, 2], [3, 4])
    )
    ua, ub = a.units.reset_index(drop=True), b.units.reset_index(drop=True)
    assert ua["converged"].tolist() == ub["converged"].tolist()
    assert ua["converged"].all() and (ua["newton_decrement"] <= NEWTON_TOL).all(), ua["newton_decrement"]
    for p in ("p_mem", "sd_rad"):
        np.testing.assert_allclose(ua[p], ub[p], atol=1e-3)
    assert {"grad_norm", "newton_decrement"} <= set(ua.columns)


def test_an_e_step_stopped_early_is_not_converged(toy, monkeypatch):
    """Every solve stopped at its start (no L-BFGS iteration): the MAPs are not reached, and no unit may be
    flagged converged, whatever its gradient."""
    import functools

    from cogsim.fit import _solve
    from cogsim.fit._hierarchical import NEWTON_TOL

    model = toy.Gauss()  # a new model object: its compiled solvers are not shared with other tests
    data = _frame(toy, _truth(10, seed=13), 30, seed=13)
    with monkeypatch.context() as patch:
        patch.setattr(_solve, "minimize", functools.partial(_solve.minimize, max_iter=0))
        res = fit.fit_hierarchical(model, data, max_iter=2, key=jax.random.key(0))
    assert not res.units["converged"].any(), res.units[["newton_decrement", "grad_norm"]]
    assert (res.units["newton_decrement"] > NEWTON_TOL).all()
    ok = fit.fit_hierarchical(toy.Gauss(), data, max_iter=2, key=jax.random.key(0))
    assert ok.units["converged"].all()  # not the data: the same fit with its solver converges


def _two_tasks(toy, centres=(1.5, -1.5), n=6, n_trials=20, seed=21):
    """The Gaussian toy in two tasks, ``n`` participants each (ids 1..n in both), ``mu`` centred on
    ``centres``."""
    frames = []
    for j, (task, c) in enumerate(zip(("a", "b"), centres, strict=True)):
        truth = _truth(n, seed=seed + j)
        truth["mu"] = truth["mu"] - GROUP_MEAN["mu"] + c
        frames.append(_frame(toy, truth, n_trials, seed=seed + 10 + j).assign(task=task))
    return pd.concat(frames, ignore_index=True)


def test_each_task_is_its_own_population(toy):
    """``by=("task", "subject")``: one group distribution per task and parameter, with that task's units;
    the pooled fit (one participant column naming task and subject) has one, and other estimates."""
    data = _two_tasks(toy)
    res = fit.fit_hierarchical(toy.Gauss(), data, by=("task", "subject"), key=jax.random.key(0))
    group = res.group
    assert list(group.columns[:2]) == ["task", "model"]
    assert group[["task", "parameter"]].values.tolist() == [
        ["a", "mu"],
        ["a", "sd"],
        ["b", "mu"],
        ["b", "sd"],
    ]
    assert (group["n_units"] == 6).all()
    mu = group[group.parameter == "mu"].set_index("task")["group_mean"]
    assert abs(mu["a"] - 1.5) < 0.5 and abs(mu["b"] + 1.5) < 0.5, mu
    n_total = int(res.units["n_trials"].sum())
    assert res.ibic == pytest.approx(-2 * res.log_marginal + 2 * 2 * 2 * np.log(n_total))
    pooled = fit.fit_hierarchical(
        toy.Gauss(), data.assign(who=data.task + "/" + data.subject.astype(str)), by=("who",),
        key=jax.random.key(0),
    )  # fmt: skip
    assert len(pooled.group) == 2 and (pooled.group["n_units"] == 12).all()
    assert "task" not in pooled.group.columns
    own = res.units.sort_values(["task", "subject"])["mu"].to_numpy()
    assert np.max(np.abs(own - pooled.units["mu"].to_numpy())) > 0.05  # pooled: both pulled toward 0


def test_one_task_with_an_outer_column_matches_the_single_column_fit(toy):
    """One population either way: the same group distribution (the ML starts differ, drawn by unit id)."""
    data = _frame(toy, _truth(8, seed=5), 30, seed=5).assign(task="a")
    one = fit.fit_hierarchical(toy.Gauss(), data, key=jax.random.key(0))
    nested = fit.fit_hierarchical(toy.Gauss(), data, by=("task", "subject"), key=jax.random.key(0))
    assert list(one.group.columns) == list(fit._hierarchical.GROUP_COLUMNS)
    assert list(nested.group.columns) == ["task", *one.group.columns]
    for col in ("group_mean", "group_sd", "n_units"):
        np.testing.assert_allclose(nested.group[col], one.group[col], atol=1e-3)


def test_an_outer_column_named_as_a_group_column_is_refused(toy):
    data = _frame(toy, _truth(4, seed=6), 20, seed=6).assign(parameter="a")
    with pytest.raises(CogsimError, match="'parameter'"):
        fit.fit_hierarchical(toy.Gauss(), data, by=("parameter", "subject"), key=jax.random.key(0))


def test_zhang_luck_in_two_experiments_has_a_group_per_experiment_and_set_size():
    """Real participants: Zhang & Luck's subjects 1-4 relabelled experiment ``x``, 5-8 experiment ``y``
    (ids 1-4 in each), 30 trials per set size."""
    from cogsim.models import paradigms
    from cogsim.scenarios.delayed_estimation import trials

    data = trials("zhang_luck2008").groupby(["subject", "set_size"]).head(30).copy()
    data["experiment"] = np.where(data.subject <= 4, "x", "y")
    data["subject"] = (data.subject - 1) % 4 + 1
    model = paradigms.get("delayed_estimation").models["mixture2p"]
    res = fit.fit_hierarchical(model, data, by=("experiment", "subject"), ci=None, key=jax.random.key(0))
    group = res.group
    assert len(group) == 2 * 4 * 2 and (group["n_units"] == 4).all()
    assert group.groupby("experiment").size().to_dict() == {"x": 8, "y": 8}
    pooled = fit.fit_hierarchical(
        model, data.assign(who=data.experiment + data.subject.astype(str)), by=("who",), ci=None,
        key=jax.random.key(0),
    )  # fmt: skip
    assert len(pooled.group) == 4 * 2 and (pooled.group["n_units"] == 8).all()
    own = res.units.sort_values(["experiment", "subject", "set_size"])[["p_mem", "sd_rad"]].to_numpy()
    assert np.max(np.abs(own - pooled.units[["p_mem", "sd_rad"]].to_numpy())) > 1e-3


def test_cli_one_participant_per_experiment_says_its_groups_rest_on_one(toy, tmp_path, capsys):
    from cogsim import cli

    df = toy.simulate_frame(
        toy.VonMisesMixture(), {"p_mem": [0.8, 0.7], "kappa": [6.0, 4.0]}, [60] * 2, seed=3
    )
    df["experiment"] = np.where(df.subject == 1, "e1", "e2")
    df["subject"] = 1
    csv = tmp_path / "trials.csv"
    df[["experiment", "subject", "set_size", "error_rad"]].to_csv(csv, index=False)
    args = ["fit", "delayed_estimation", "--data", str(csv), "--models", "mixture2p", "--hierarchical"]
    assert cli.main([*args, "--by", "experiment,subject", "--out", str(tmp_path / "out")]) == 0
    assert "mixture2p: 8 of 8 group distributions rest on one participant's units" in capsys.readouterr().out
    group = pd.read_parquet(tmp_path / "out" / "group.parquet")
    assert group["experiment"].tolist() == ["e1"] * 4 + ["e2"] * 4


def test_a_group_mean_the_data_say_nothing_about_has_an_unbounded_interval():
    from cogsim.fit._hierarchical import group_mean_interval

    sd = np.array([[0.5, 0.2]])
    mean = np.array([[3.0, -1.0]])
    # 3 units: the first parameter's posterior is its prior (no data), the second's much narrower
    cov = np.stack([np.diag([0.25, 0.001])] * 3)
    low, high = group_mean_interval(cov, np.zeros(3, int), mean, sd, 0.95)
    assert low[0, 0] == -np.inf and high[0, 0] == np.inf  # was a zero-width [3, 3] (pseudo-inverse)
    assert np.isfinite([low[0, 1], high[0, 1]]).all() and low[0, 1] < -1.0 < high[0, 1]
    cov[:, 0, 0] = 0.1  # some information: a finite interval around the mean
    low, high = group_mean_interval(cov, np.zeros(3, int), mean, sd, 0.95)
    assert np.isfinite(low).all() and (low < mean).all() and (mean < high).all()
