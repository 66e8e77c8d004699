"""The delayed-estimation scenario on tiny settings (two participants, two models, one start)."""

import dataclasses

import jax
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("cogsim.fit")

from cogsim import config as cfglib  # noqa: E402
from cogsim.scenarios import _delayed_estimation_contrasts as dec  # noqa: E402
from cogsim.scenarios import delayed_estimation as de  # noqa: E402

TINY = de.Config(
    datasets=("zhang_luck2008",), models=("uniform", "mixture2p"), n_starts=1, max_subjects=2, n_boot=50
)


@pytest.fixture(scope="module")
def sim():
    return de.simulate(TINY, key=jax.random.key(0))


def test_tables_hold_every_participant_and_model(sim):
    fits = sim[sim.kind == "fit"]
    assert set(fits.model) == {"uniform", "mixture2p"} and fits.unit.nunique() == 2
    est = sim[(sim.kind == "estimate") & (sim.model == "mixture2p")]
    assert sorted(est.set_size.unique()) == [1, 2, 3, 6]
    curve = sim[(sim.kind == "curve") & (sim.model == "mixture2p") & (sim.set_size == 1)]
    assert np.sum(curve.density) * 2 * np.pi / len(curve) == pytest.approx(1.0, abs=0.01)


def test_compare_reports_the_declared_checks(sim):
    comp = de.compare(sim, de.reference().table, n_boot=50)
    names = {c.name for c in comp.checks}
    assert names == {
        "zhang_luck2008: guess rate rises with set size",
        "zhang_luck2008: precision falls with set size",
        "zhang_luck2008: the best model (mixture2p) predicts errors better than chance",
    }
    assert comp.with_context(data_kind="trial_level").schema_problems() == []
    assert [c.kind for c in comp.checks].count("agreement") == 1
    assert comp.metric("zhang_luck2008.uniform.delta_aic").value > 0  # guessing alone loses
    assert "zhang_luck2008_models" in comp.tables
    group = comp.tables["zhang_luck2008_models"].set_index("model")  # random effects over 2 participants
    assert group["bms_frequency"].sum() == pytest.approx(1.0)
    assert group.loc["mixture2p", "bms_frequency"] > group.loc["uniform", "bms_frequency"]
    assert (group["bms_frequency_low"] < group["bms_frequency"]).all()
    frac = {m: comp.metric(f"zhang_luck2008.{m}.fraction_of_noise_ceiling") for m in ("uniform", "mixture2p")}
    assert frac["mixture2p"].ci_low > frac["uniform"].ci_high  # guessing is far from the data's quantiles
    assert comp.metric("fraction_of_noise_ceiling") == dataclasses.replace(
        frac["mixture2p"],
        name="fraction_of_noise_ceiling",
        note=comp.metric("fraction_of_noise_ceiling").note,
    )  # the scorecard's value is the best model's


def test_noise_ceiling_of_the_generating_model_is_above_one(tmp_path):
    """Data simulated from mixture2p: the fitted mixture2p's quantiles are closer to the data than one half of
    the data is to the other (at the true parameters about 2x; fitted to the same trials more, docs: "Noise
    ceiling"), and uniform guessing is far off."""
    from cogsim.models import paradigms

    m = paradigms.get("delayed_estimation").models["mixture2p"]
    rng, rows = np.random.default_rng(0), []
    for s in range(10):
        for n, p_mem, sd in ((1, 0.95, 0.25), (4, 0.6, 0.45)):
            trials = {"set_size": np.full(300, n)}
            key = jax.random.fold_in(jax.random.key(1), 10 * s + n)
            e = np.asarray(m.simulate({"p_mem": p_mem, "sd_rad": sd}, trials, key=key)["error_rad"])
            e = np.deg2rad(np.round(np.rad2deg(e)))  # a 1-degree response wheel
            rows.append(pd.DataFrame({"subject": f"s{s}", "set_size": n, "error_rad": e}))
    path = tmp_path / "sim.csv"
    pd.concat(rows).sample(frac=1.0, random_state=int(rng.integers(1 << 31))).to_csv(path, index=False)
    cfg = de.Config(datasets=(str(path),), models=("uniform", "mixture2p"), n_starts=1, n_boot=200)
    comp = de.compare(de.simulate(cfg, key=jax.random.key(0)), de.reference(cfg).table, n_boot=200)
    ours = comp.metric("sim.mixture2p.fraction_of_noise_ceiling")
    assert ours.ci_low > 1.0
    assert comp.metric("sim.uniform.fraction_of_noise_ceiling").ci_high < 0.5


def test_human_summaries_and_validation():
    h = de.reference().table
    assert set(h.dataset) == {"zhang_luck2008", "vandenberg2012"}
    vdb = h[h.dataset == "vandenberg2012"].sort_values("set_size")
    assert vdb.circular_sd.iloc[-1] > vdb.circular_sd.iloc[0]
    with pytest.raises(cfglib.ConfigError, match="datasets"):
        cfglib.validate(de.Config(datasets=("nope",)))


def test_a_file_named_like_a_packaged_data_set_is_refused(tmp_path):
    path = tmp_path / "zhang_luck2008.csv"  # a subset of the packaged trials under the packaged name
    de.trials("zhang_luck2008", max_subjects=2).to_csv(path, index=False)
    with pytest.raises(cfglib.ConfigError, match=r"datasets.*not a packaged data set's.*rename"):
        cfglib.validate(de.Config(datasets=(str(path),)))
    cfglib.validate(de.Config(datasets=(str(path.rename(tmp_path / "zl_subset.csv")),)))


def test_variable_precision_checks_on_a_made_up_fit_table():
    rows = []
    for u in range(6):
        lls = {"uniform": -300.0, "mixture2p": -200.0 - u, "slots_averaging": -190.0, "vp": -150.0}
        for m, ll in lls.items():
            k = {"uniform": 0, "mixture2p": 16, "slots_averaging": 2, "vp": 3}[m]
            rows.append(
                {"kind": "fit", "dataset": "vandenberg2012", "model": m, "unit": f"E/{u}", "loglik": ll,
                 "n_trials": 200, "n_params": k, "aic": 2 * k - 2 * ll, "bic": 0.0, "cv_loglik": np.nan}
            )  # fmt: skip
    comp = de.compare(pd.DataFrame(rows), de.reference().table, n_boot=50)
    by_name = {c.name: c for c in comp.checks}
    assert by_name["vandenberg2012: variable precision beats slots_averaging"].passed
    expected = sum(126 + 2 * u for u in range(6))  # AIC 432 + 2u against 306 per participant
    assert by_name["vandenberg2012: variable precision beats mixture2p"].value == pytest.approx(expected)
    agree = by_name["vandenberg2012: the best model (vp) predicts errors better than chance"]
    assert agree.kind == "agreement"
    assert agree.value == pytest.approx(-150 / 200 + np.log(2 * np.pi), abs=1e-6)
    assert comp.with_context(data_kind="trial_level").schema_problems() == []


def test_participants_identified_by_several_columns_get_one_label_each():
    """van den Berg et al.'s participants are (experiment, subject) pairs; the uniform model has no estimates,
    and its empty table must still get a label column (it once stopped the paper preset)."""
    cfg = de.Config(datasets=("vandenberg2012",), models=("uniform",), max_subjects=2)
    fits = de.simulate(cfg, key=jax.random.key(0)).query("kind == 'fit'")
    pairs = de.trials("vandenberg2012", max_subjects=2)[["experiment", "subject"]].drop_duplicates()
    assert sorted(fits.unit) == sorted(f"{e}/{s}" for e, s in pairs.itertuples(index=False))
    assert fits.unit.nunique() == 2


def test_the_configs_resamples_and_level_reach_the_comparison(sim):
    """`--set n_boot=...` and `level=...` change the checks' CIs (they once stopped at the config)."""
    from cogsim import runner

    ref = de.reference()
    name = "zhang_luck2008: guess rate rises with set size"

    def ci(cfg):
        comp = runner.compare_with_reference("delayed_estimation", de, sim, ref, preset="quick", cfg=cfg)
        return next(c.ci for c in comp.checks if c.name == name)

    direct = next(c.ci for c in de.compare(sim, ref.table, n_boot=20, level=0.5).checks if c.name == name)
    assert ci(dataclasses.replace(TINY, n_boot=20, level=0.5)) == direct
    assert ci(dataclasses.replace(TINY, n_boot=20, level=0.5)) != ci(TINY)


def test_the_ceiling_is_the_ratio_of_summed_split_half_and_model_deviations():
    """Hand-built quantiles (docs: "Noise ceiling"): cells with fewer than 10 trials in a half are left out of
    both sums; the ratio is of sums over the cells, and nothing fills both halves -> NaN."""
    from cogsim.scenarios import _delayed_estimation_ceiling as ceil

    rows = []

    def cell(unit, n, half, values, n_trials, model="data"):
        for x, v in zip(ceil.LEVELS, values, strict=True):
            rows.append({"model": model, "unit": unit, "set_size": n, "half": half, "x": x, "estimate": v,
                         "n_trials": n_trials})  # fmt: skip

    for unit, n, split, off, n_half in (
        ("a", 1, 0.1, 0.05, 10),
        ("a", 4, 0.3, 0.1, 12),
        ("b", 1, 0.2, 0.4, 9),
    ):
        base = [0.1, 0.2, 0.3, 0.5, 0.9]
        cell(unit, n, "all", base, 2 * n_half)
        cell(unit, n, "odd", [v + split for v in base], n_half)
        cell(unit, n, "even", base, n_half)
        cell(unit, n, "all", [v - off for v in base], 2 * n_half, model="m")
    c = ceil.Ceiling(pd.DataFrame(rows))
    est, lo, hi = c.fraction("m", n_boot=20, level=0.9)
    assert est == pytest.approx((0.1 + 0.3) / (0.05 + 0.1))  # unit b's cell has 9 trials in each half: out
    assert list(c.units) == ["a"] and np.isnan(lo) and np.isnan(hi)  # one participant: no bootstrap interval
    one = pd.DataFrame([r for r in rows if r["half"] != "even"]).assign(n_trials=1)  # one trial per cell
    assert np.isnan(ceil.Ceiling(one).fraction("m", n_boot=20, level=0.9)[0])
    assert ceil.grid_step(np.linspace(-3.0, 3.0, 10_001)) is None  # continuous: no grid to round to


def test_the_ceilings_model_deviation_is_each_participants_mean_over_the_sets_of_copies():
    """Two sets of simulated copies, one 0.1 and one 0.3 from the data in every quantile, split halves 0.1
    apart: the model's deviation is 0.2, the mean over the sets, so the fraction is 0.5 (every participant
    alike: no width)."""
    from cogsim.scenarios import _delayed_estimation_ceiling as ceil

    base = np.array([0.1, 0.2, 0.3, 0.5, 0.9])
    rows = []
    for unit in ("a", "b", "c", "d"):
        for half, shift, n, extra in (
            ("all", 0.0, 40, {}),
            ("odd", 0.1, 20, {}),
            ("even", 0.0, 20, {}),
            ("all", 0.1, 40, {"model": "m", "copy_set": 0}),
            ("all", 0.3, 40, {"model": "m", "copy_set": 1}),
        ):
            for x, v in zip(ceil.LEVELS, base + shift, strict=True):
                rows.append({"model": "data", "unit": unit, "set_size": 2, "half": half, "x": x,
                             "estimate": v, "n_trials": n, **extra})  # fmt: skip
    est, lo, hi = ceil.Ceiling(pd.DataFrame(rows)).fraction("m", n_boot=200, level=0.95)
    assert (est, lo, hi) == pytest.approx((0.5, 0.5, 0.5))


def test_set_size_contrast_says_who_is_left_out_and_gives_no_ci_for_one_participant():
    rows = [("a", 1, 0.9), ("a", 6, 0.5), ("b", 1, 0.8), ("b", 6, 0.6), ("b", 3, 0.7), ("c", 1, 0.9)]
    est = pd.DataFrame(rows, columns=["unit", "set_size", "estimate"]).assign(parameter="p_mem")
    (g, lo, hi), n0, n1, why, tested = dec.set_size_contrast(est, "p_mem", lambda v: 1 - v, 200, 0.95)
    assert (n0, n1) == (1, 6) and g == pytest.approx(0.3)  # a and b: 0.4 and 0.2; c lacks N = 6
    assert lo < hi and "2 of 3 participants (the others lack N = 1 or N = 6)" in why and tested
    one = est[est.unit != "b"]
    (g, lo, hi), _, _, why, tested = dec.set_size_contrast(one, "p_mem", lambda v: 1 - v, 200, 0.95)
    assert g == pytest.approx(0.4) and np.isnan(lo) and np.isnan(hi) and "no CI" in why and not tested


def test_set_size_contrast_of_a_data_set_with_one_set_size_is_no_contrast():
    est = pd.DataFrame({"unit": ["a", "b"], "set_size": [4, 4], "estimate": [0.9, 0.8], "parameter": "p_mem"})
    (g, lo, hi), n0, n1, why, tested = dec.set_size_contrast(est, "p_mem", lambda v: 1 - v, 200, 0.95)
    assert np.isnan(g) and np.isnan(lo) and np.isnan(hi) and "one set size (N = 4): no contrast" in why
    assert not tested


@pytest.mark.parametrize("subjects", [(1, 2), (1,)])
def test_a_file_of_one_set_size_leaves_the_set_size_checks_not_tested(tmp_path, subjects):
    """Zhang & Luck's trials at set size 3 only: checks 1 and 2 cannot be tested; with one participant no
    check can (no participant bootstrap), and the verdict says so instead of 'mismatch'."""
    t = de.data.load("zhang_luck2008_delayed_estimation")
    path = tmp_path / "three.csv"
    t[(t.set_size == 3) & t.subject.isin(subjects)].to_csv(path, index=False)
    cfg = de.Config(datasets=(str(path),), models=("uniform", "mixture2p"), n_starts=1, n_boot=50)
    comp = de.compare(de.simulate(cfg, key=jax.random.key(0)), de.reference(cfg).table, n_boot=50)
    by_name = {c.name: c for c in comp.checks}
    for name in ("three: guess rate rises with set size", "three: precision falls with set size"):
        assert not by_name[name].tested and "not tested: one set size (N = 3)" in by_name[name].detail
    chance = by_name["three: the best model (mixture2p) predicts errors better than chance"]
    assert chance.tested == (len(subjects) > 1)
    if len(subjects) > 1:
        assert comp.checks_passed.endswith("(2 not tested)") and comp.verdict in ("partial", "mismatch")
    else:
        assert "not tested: no CI" in chance.detail and np.isfinite(chance.value)
        assert comp.verdict == "untested" and comp.checks_passed == "0/0 (3 not tested)"


def test_a_data_set_no_chosen_model_applies_to_is_refused_before_any_fit(monkeypatch):
    # mixture3p needs non-targets, which van den Berg et al.'s trials lack: every model would be skipped
    from cogsim import fit

    def no_fit(*args, **kwargs):
        raise AssertionError("a model was fitted before the data sets were checked")

    monkeypatch.setattr(fit, "fit", no_fit)
    cfg = dataclasses.replace(TINY, datasets=("zhang_luck2008", "vandenberg2012"), models=("mixture3p",))
    with pytest.raises(
        cfglib.ConfigError, match=r"'models': .*each data set in datasets; none applies to 'vandenberg2012'"
    ):
        de.simulate(cfg, key=jax.random.key(0))
