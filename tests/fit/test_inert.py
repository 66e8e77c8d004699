"""Inert parameters: those a unit's likelihood ignores (mixture3p's `p_swap` at set size 1) are not counted
and get no estimate, in ML and hierarchical fits."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim import fit as fitlib


def _set_sizes_1_and_4(n_subjects=3, n_trials=120):
    from cogsim.models.working_memory import MIXTURE3P
    from cogsim.models.working_memory._model import delayed_estimation_design

    frames = []
    for s in range(n_subjects):
        key = jax.random.fold_in(jax.random.key(5), s)
        design = delayed_estimation_design(n_trials, jax.random.fold_in(key, 0), set_sizes=(1, 4))
        p = {"p_mem": jnp.float32(0.8), "p_swap": jnp.float32(0.2), "sd_rad": jnp.float32(0.3)}
        err = MIXTURE3P.simulate(p, design, key=jax.random.fold_in(key, 1))["error_rad"]
        nt = np.asarray(design["nontargets"])
        frame = {"subject": s + 1, "set_size": np.asarray(design["set_size"]), "error_rad": np.asarray(err)}
        frame |= {f"nontarget_{j + 1}_rad": nt[:, j] for j in range(3)}
        frames.append(pd.DataFrame(frame))
    data = pd.concat(frames, ignore_index=True)
    data.attrs["pattern_columns"] = MIXTURE3P.pattern_columns  # nontarget_{i}_rad -> the nontargets array
    return MIXTURE3P, data


def test_the_swap_rate_is_inert_exactly_where_the_likelihood_ignores_it():
    model, data = _set_sizes_1_and_4(n_subjects=1)
    for size, differs in ((1, False), (4, True)):
        rows = data[data.set_size == size]
        t = {
            "set_size": jnp.asarray(rows.set_size.to_numpy(), jnp.float32),
            "error_rad": jnp.asarray(rows.error_rad.to_numpy(), jnp.float32),
            "nontargets": jnp.asarray(
                rows[[f"nontarget_{j}_rad" for j in (1, 2, 3)]].to_numpy(), jnp.float32
            ),
        }
        ll = [
            float(jnp.sum(model.loglik({"p_mem": 0.8, "p_swap": jnp.float32(s), "sd_rad": 0.3}, t)))
            for s in (0.05, 0.9)
        ]
        assert (abs(ll[0] - ll[1]) > 1.0) is differs, (size, ll)
        assert model.inert({k: np.asarray(v) for k, v in t.items()}) == (() if differs else ("p_swap",))
    assert fitlib.fix(model, {"p_swap": 0.0}).inert({"nontargets": np.full((3, 2), np.nan)}) == ()


def test_an_inert_parameter_is_not_counted_and_has_no_estimate():
    model, data = _set_sizes_1_and_4()
    res = fitlib.fit(model, data, ci="profile", key=jax.random.key(0))
    est = res.estimates.set_index(["set_size", "parameter"])
    assert est.loc[(1, "p_swap"), "estimate"].isna().all() and est.loc[(1, "p_swap"), "ci_low"].isna().all()
    assert (
        est.loc[(4, "p_swap"), "estimate"].notna().all() and est.loc[(1, "p_mem"), "estimate"].notna().all()
    )
    summary = res.summary
    assert (summary["n_params"] == 3 + 2).all()  # set size 4: three parameters; set size 1: two
    np.testing.assert_allclose(summary["aic"], 2 * 5 - 2 * summary["loglik"], rtol=1e-9)
    assert not any("p_swap@1" in str(b) for b in summary["at_bound"])


def test_hierarchical_fits_report_no_group_distribution_for_an_inert_parameter():
    model, data = _set_sizes_1_and_4()
    res = fitlib.fit_hierarchical(model, data, ci=None, max_iter=5, key=jax.random.key(0))
    group = res.group.set_index(["set_size", "parameter"])
    assert np.isnan(group.loc[(1, "p_swap"), "value"]) and group.loc[(1, "p_swap"), "n_units"] == 0
    assert np.isfinite(group.loc[(4, "p_swap"), "value"]) and group.loc[(4, "p_swap"), "n_units"] == 3
    assert (res.summary["n_params"] == 5).all()
    assert res.estimates.set_index(["set_size", "parameter"]).loc[(1, "p_swap"), "estimate"].isna().all()


def test_posterior_samples_report_no_posterior_and_no_diagnostics_for_an_inert_parameter():
    # the sampler draws an inert p_swap from its prior; until 2026-12-07 the prior's median and interval were
    # reported as its posterior (NaN in fit's table) and its R-hat counted in the participant's convergence
    model, data = _set_sizes_1_and_4(n_subjects=2, n_trials=80)
    res = fitlib.sample(model, data, n_warmup=100, n_samples=100, n_chains=2, key=jax.random.key(0))
    est = res.estimates.set_index(["set_size", "parameter"])
    cols = ["estimate", "ci_low", "ci_high", "mean", "sd", "rhat", "ess_bulk"]
    assert est.loc[(1, "p_swap"), cols].isna().all().all()
    assert est.loc[(4, "p_swap"), cols].notna().all().all()
    assert est.loc[(1, "p_mem"), cols].notna().all().all()
    informed = res.estimates.dropna(subset=["rhat"]).groupby("subject")
    np.testing.assert_allclose(res.summary["max_rhat"], informed["rhat"].max().to_numpy())
    np.testing.assert_allclose(res.summary["min_ess"], informed["ess_bulk"].min().to_numpy())
    assert np.isfinite(res.draws).all()  # the draws keep it (from its prior)


def test_holding_p_mem_at_0_leaves_the_memorys_parameters_inert():
    """``mixture2p[p_mem=0]`` is uniform guessing: ``sd_rad`` is not estimated (NaN) nor counted; the
    same for ``p_swap`` and ``sd_rad`` in ``mixture3p[p_mem=0]``, while ``p_mem=0.5`` leaves them free."""
    from cogsim.fit import fix
    from cogsim.models import paradigms
    from tests import simulated_trials as sim

    de = paradigms.get("delayed_estimation")
    t = de.read(sim.delayed_estimation((2, 4), n_per=30, n_sub=2, nontargets=True))
    for base, inert in ((de.models["mixture2p"], {"sd_rad"}), (de.models["mixture3p"], {"p_swap", "sd_rad"})):
        res = fitlib.fit(fix(base, {"p_mem": 0.0}), t, ci=None, key=jax.random.key(0))
        assert (res.summary.n_params == 0).all()
        np.testing.assert_allclose(res.summary.loglik, -res.summary.n_trials * np.log(2 * np.pi), rtol=1e-5)
        assert res.estimates.estimate.isna().all() and set(res.estimates.parameter) == inert
        half = fitlib.fit(fix(base, {"p_mem": 0.5}), t, ci=None, key=jax.random.key(0))
        assert (half.summary.n_params == 2 * len(inert)).all() and half.estimates.estimate.notna().all()
