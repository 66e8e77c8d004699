"""Posterior (plug-in) predictive checks: simulated copies of the data at the estimates, the paradigms'
summaries, the check table, and `cogsim fit --ppc`."""

import json
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import fit
from cogsim.errors import CogsimError
from cogsim.fit import _predictive
from cogsim.models import paradigms
from cogsim.models.working_memory._model import delayed_estimation_design

DE = paradigms.get("delayed_estimation")
TRUTH = pd.DataFrame({"subject": [1, 2, 3, 4], "p_mem": [0.6, 0.7, 0.8, 0.9], "sd_rad": [0.3, 0.4, 0.5, 0.6]})


def _design(n, *, key):
    return delayed_estimation_design(n, key, set_sizes=(2, 6))


@pytest.fixture(scope="module")
def mixture_data():
    """4 participants x 2 set sizes x 200 trials simulated from mixture2p (key 3), read by the paradigm."""
    model = DE.models["mixture2p"]
    return DE.read(fit.simulate_data(model, TRUTH, 400, key=jax.random.key(3), design=_design))


@pytest.fixture(scope="module")
def fitted(mixture_data):
    out = {}
    for name in ("mixture2p", "uniform"):
        model = DE.models[name]
        out[name] = (model, fit.fit(model, mixture_data, ci=None, key=jax.random.key(0)))
    return out


def _check(model, res, data, *, key, n_sims=100):
    sims = fit.predictive(model, res, data, n_sims=n_sims, key=key)
    return fit.predictive_check(DE.summarize(data, res.by), DE.summarize(sims, res.by))


def test_histogram_summaries_lie_inside_the_band_of_the_generating_model(mixture_data, fitted):
    """Declared before it was run: on 4 participants x 2 set sizes (2, 6) x 200 trials simulated from
    mixture2p (p_mem 0.6-0.9, sd_rad 0.3-0.6, key 3), fitted by mixture2p and by uniform (ci=None, key 0),
    100 simulated copies each (key 1): the fraction of the 24 error-histogram summaries (12 bins x 2 set
    sizes, averaged over participants) inside their 95 % band is at least 0.8 for mixture2p and higher for
    mixture2p than for uniform."""
    frac = {}
    for name, (model, res) in fitted.items():
        check = _check(model, res, mixture_data, key=jax.random.key(1))
        hist = check[check["statistic"] == "error_hist"]
        assert len(hist) == 24 and (hist["n_sims"] == 100).all()
        frac[name] = fit.inside_fraction(hist)
    print("fraction of histogram summaries inside the 95% band:", frac)
    assert frac["mixture2p"] >= 0.8, frac
    assert frac["mixture2p"] > frac["uniform"], frac


def test_copies_keep_the_design_and_redraw_the_responses(mixture_data, fitted):
    model, res = fitted["mixture2p"]
    sims = fit.predictive(model, res, mixture_data, n_sims=3, key=jax.random.key(5))
    assert list(sims.columns) == ["sim", *mixture_data.columns] and len(sims) == 3 * len(mixture_data)
    for s in range(3):
        copy = sims[sims["sim"] == s].drop(columns="sim").reset_index(drop=True)
        design = [c for c in mixture_data.columns if c != "error_rad"]
        pd.testing.assert_frame_equal(copy[design], mixture_data[design])
        assert not np.allclose(copy["error_rad"], mixture_data["error_rad"])
        assert np.abs(copy["error_rad"]).max() <= np.pi + 1e-6
    a, b = (sims.loc[sims["sim"] == s, "error_rad"].to_numpy() for s in (0, 1))
    assert not np.allclose(a, b)  # the copies differ from each other


def test_same_key_same_table_and_copies_do_not_depend_on_their_number(mixture_data, fitted, monkeypatch):
    """Declared before it was run: the same key gives the identical table; the first 3 copies of 10 equal
    the 3 copies of n_sims=3 within 1e-6 (the copies were batched 8 at a time; since the default batch is 1,
    the 3 copies are drawn with a batch of 8)."""
    model, res = fitted["mixture2p"]
    a = fit.predictive(model, res, mixture_data, n_sims=10, key=jax.random.key(2))
    b = fit.predictive(model, res, mixture_data, n_sims=10, key=jax.random.key(2))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    monkeypatch.setattr(_predictive, "SIM_BATCH", 8)
    _predictive._sampler.cache_clear()
    c = fit.predictive(model, res, mixture_data, n_sims=3, key=jax.random.key(2))
    monkeypatch.undo()
    _predictive._sampler.cache_clear()
    head = a[a["sim"] < 3].reset_index(drop=True)
    np.testing.assert_allclose(head["error_rad"], c["error_rad"], rtol=0, atol=1e-6)
    d = fit.predictive(model, res, mixture_data, n_sims=3, key=jax.random.key(7))
    assert not np.allclose(c["error_rad"], d["error_rad"])


def test_a_model_without_simulate_is_refused_naming_it(mixture_data, fitted, toy):
    _, res = fitted["mixture2p"]

    class NoSim:
        name, by_set_size, requires = "no_sim", True, ()
        params = DE.models["mixture2p"].params

        def loglik(self, p, t):
            return DE.models["mixture2p"].loglik(p, t)

    with pytest.raises(CogsimError, match="'no_sim' has no simulate"):
        fit.predictive(NoSim(), res, mixture_data, key=jax.random.key(0))
    model = DE.models["mixture2p"]
    with pytest.raises(CogsimError, match="n_sims"):
        fit.predictive(model, res, mixture_data, n_sims=0, key=jax.random.key(0))
    with pytest.raises(CogsimError, match="a fit of 'mixture2p'"):
        fit.predictive(model, fitted["uniform"][1], mixture_data, key=jax.random.key(0))
    # AttributeErrors before (2026-12-07)
    with pytest.raises(CogsimError, match="predictive result: got NoneType; allowed: the result of fitting"):
        fit.predictive(model, None, mixture_data, key=jax.random.key(0))
    with pytest.raises(CogsimError, match="predictive data: got str; allowed: a pandas DataFrame"):
        fit.predictive(model, res, "trials.csv", key=jax.random.key(0))
    with pytest.raises(CogsimError, match="unit subject=11, set_size=2 has no estimates"):  # not np.int64(11)
        fit.predictive(
            model, res, mixture_data.assign(subject=mixture_data.subject + 10), key=jax.random.key(0)
        )


def test_predictive_check_table_and_bad_input():
    obs = pd.DataFrame({"set_size": [2, 2, 4], "statistic": ["a", "b", "a"], "value": [0.5, 2.0, np.nan]})
    rng = np.random.default_rng(0)
    sim = pd.concat(
        [obs.assign(sim=s, value=[rng.uniform(0, 1), rng.uniform(0, 1), 0.3]) for s in range(200)],
        ignore_index=True,
    )
    check = fit.predictive_check(obs, sim)
    assert list(check.columns) == ["set_size", "statistic", "observed", "sim_mean", "ci_low", "ci_high",
                                   "n_sims", "inside"]  # fmt: skip
    assert check["inside"].tolist() == [True, False, False]  # 0.5 in ~[0.025, 0.975]; 2.0 not; NaN never
    assert check["ci_low"].iloc[0] == pytest.approx(0.025, abs=0.03)
    assert fit.inside_fraction(check) == pytest.approx(1 / 3)
    with pytest.raises(CogsimError, match="level"):
        fit.predictive_check(obs, sim, level=1.0)
    with pytest.raises(CogsimError, match="predictive_check level: got '0.95'"):  # a TypeError before
        fit.predictive_check(obs, sim, level="0.95")
    with pytest.raises(CogsimError, match="sim"):
        fit.predictive_check(obs, sim.drop(columns="sim"))


def test_summaries_of_copies_equal_each_copy_summarized_alone():
    rng = np.random.default_rng(1)
    n = 400
    vs = pd.DataFrame({"subject": rng.integers(1, 4, n), "set_size": rng.choice([3, 6], n),
                       "target_present": rng.integers(0, 2, n), "correct": (rng.uniform(size=n) < 0.9) * 1,
                       "rt_ms": rng.gamma(5.0, 100.0, n)})  # fmt: skip
    cd = pd.DataFrame({"subject": rng.integers(1, 4, n), "set_size": rng.choice([2, 4], n),
                       "change": rng.integers(0, 2, n),
                       "correct": (rng.uniform(size=n) < 0.8) * 1})  # fmt: skip
    de = pd.DataFrame({"subject": rng.integers(1, 4, n), "set_size": rng.choice([1, 3], n),
                       "error_rad": rng.vonmises(0.0, 4.0, n)})  # fmt: skip
    for name, frame in (("visual_search", vs), ("change_detection", cd), ("delayed_estimation", de)):
        summarize = paradigms.get(name).summarize
        copies = pd.concat([frame.assign(sim=s).sample(frac=1.0, random_state=s) for s in range(2)])
        both = summarize(copies, ("subject",))
        for s in range(2):
            one = both[both["sim"] == s].drop(columns="sim").reset_index(drop=True)
            pd.testing.assert_frame_equal(one, summarize(frame, ("subject",)), check_dtype=False)
    tasks = paradigms.get("visual_search").summarize(vs.assign(task=vs["subject"] % 2), ("task", "subject"))
    assert list(tasks.columns[:3]) == ["task", "set_size", "target_present"] and set(tasks["task"]) == {0, 1}
    hist = paradigms.get("delayed_estimation").summarize(de, ("subject",)).query("statistic == 'error_hist'")
    assert np.allclose(hist.groupby("set_size")["value"].sum(), 1.0)
    rates = paradigms.get("change_detection").summarize(cd, ("subject",))
    by_hand = cd.assign(said=np.where(cd.change == 1, cd.correct, 1 - cd.correct))
    hit = (
        by_hand[by_hand.change == 1]
        .groupby(["set_size", "subject"])["said"]
        .mean()
        .groupby("set_size")
        .mean()
    )
    assert np.allclose(rates.query("statistic == 'hit_rate'")["value"], hit.to_numpy())


def test_predictive_on_a_hierarchical_fit(toy):
    data = toy.simulate_frame(toy.Gauss(), {"mu": [0.0, 1.0, 2.0], "sd": [1.0, 1.0, 1.0]}, [30] * 3, seed=4)
    res = fit.fit_hierarchical(toy.Gauss(), data, ci=None, key=jax.random.key(0))
    sims = fit.predictive(toy.Gauss(), res, data, n_sims=50, key=jax.random.key(1))
    means = sims.groupby(["sim", "subject"])["x"].mean().groupby("subject").mean()
    est = res.units.set_index("subject")["mu"]
    assert np.allclose(means.to_numpy(), est.loc[means.index].to_numpy(), atol=0.1)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "cogsim", "fit", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_ppc_writes_the_checks(mixture_data, tmp_path):
    csv = tmp_path / "trials.csv"
    mixture_data[mixture_data["subject"] <= 2][["subject", "set_size", "error_rad"]].to_csv(csv, index=False)
    out = tmp_path / "out"
    res = _cli("delayed_estimation", "--data", str(csv), "--models", "mixture2p,uniform", "--ci", "none",
               "--ppc", "20", "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (
        "band of 20 copies" in res.stdout and "fewer than 40 copies: the band spans nearly all" in res.stdout
    )
    assert (out / "predictive.png").stat().st_size > 0
    check = pd.read_parquet(out / "predictive.parquet")
    assert set(check["model"]) == {"mixture2p", "uniform"} and (check["n_sims"] == 20).all()
    assert {"observed", "sim_mean", "ci_low", "ci_high", "inside", "set_size", "statistic"} <= set(
        check.columns
    )
    comp = json.loads((out / "comparison.json").read_text())["predictive"]
    assert comp["n_sims"] == 20 and comp["level"] == 0.95
    for m in ("mixture2p", "uniform"):
        rows = check[check["model"] == m]
        assert comp["models"][m]["inside_fraction"] == pytest.approx(rows["inside"].mean())
        assert comp["models"][m]["n_summaries"] == len(rows) == 2 * (12 + 2)
    assert json.loads((out / "run.json").read_text())["config"]["ppc"] == 20


@pytest.mark.parametrize("value", ["0", "-3"])
def test_cli_bad_ppc_exits_2_with_one_line(tmp_path, value):
    csv = tmp_path / "t.csv"
    csv.write_text("subject,set_size,error_rad\n1,2,0.1\n")
    res = _cli("delayed_estimation", "--data", str(csv), "--ppc", value, "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "--ppc" in res.stderr and value in res.stderr
