"""`cogsim fit --sample N`: the posterior tables beside the fits, the same draws as `cogsim.fit.sample`, and
the refusals."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from cogsim import cli


def test_sample_writes_the_posterior_beside_the_fits(toy_paradigm, csv, tmp_path, capsys, toy):
    import jax

    from cogsim import fit, fitting_posterior

    toy_paradigm.models["vm_bounded"] = toy.Bounded()
    out = tmp_path / "o"
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_bounded", "--ci", "none"]
    assert cli.main([*args, "--seed", "5", "--sample", "100", "--out", str(out)]) == 0, (
        capsys.readouterr().err
    )
    printed = capsys.readouterr().out
    assert "vm_bounded       posterior: " in printed
    assert (
        "posterior: 100 draws per chain; a participant converges with a bulk ESS of at least 100" in printed
    )
    post = pd.read_parquet(out / "posterior.parquet")
    summary = pd.read_parquet(out / "posterior_summary.parquet")
    assert list(post.columns[-4:]) == ["mean", "sd", "rhat", "ess_bulk"]
    assert set(post.parameter) == {"p_mem", "kappa"}
    key = jax.random.fold_in(jax.random.key(5), fitting_posterior.POSTERIOR_STREAM)
    trials = toy_paradigm.read(csv)
    direct = fit.sample(toy_paradigm.models["vm_bounded"], trials, n_warmup=100, n_samples=100, key=key)
    np.testing.assert_array_equal(post["estimate"], direct.estimates["estimate"])
    assert (post.ci_low <= post.estimate).all() and (post.estimate <= post.ci_high).all()
    entry = json.loads((out / "comparison.json").read_text())["posterior"]
    assert entry["models"]["vm_bounded"]["n_converged"] == int(summary.converged.sum())
    assert json.loads((out / "run.json").read_text())["config"]["sample"] == 100
    # PSIS-LOO and WAIC from the same draws
    loo = pd.read_parquet(out / "loo.parquet")
    np.testing.assert_allclose(
        loo["elpd_loo"], fit.loo(toy_paradigm.models["vm_bounded"], trials, direct).summary["elpd_loo"]
    )
    assert len(pd.read_parquet(out / "loo_pointwise.parquet")) == len(trials)
    assert (out / "loo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ranked = entry["loo"]["ranking"]
    assert [r["model"] for r in ranked] == ["vm_bounded"] * (entry["loo"]["n_participants_ranked"] > 0)
    assert all(r["weight"] == pytest.approx(1.0) for r in ranked)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sample", "99"], "fit --sample: got 99; allowed: an integer from 100 to 100000"),
        (
            ["--models", "vm_mixture", "--sample", "100"],
            "model 'vm_mixture' parameter 'kappa' (0.0, inf) without",
        ),
        (["--reloo"], "fit --reloo: got it without --sample; allowed: --reloo with --sample N"),
    ],
)
def test_bad_sample_requests_exit_2_with_one_line(toy_paradigm, csv, tmp_path, capsys, extra, message):
    rc = cli.main(["fit", "toy_estimation", "--data", str(csv), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # refused before anything is fitted


def test_reloo_refits_the_trials_with_a_high_k_as_the_function_does(toy_paradigm, csv, tmp_path, capsys, toy):
    import jax

    from cogsim import fit, fitting_posterior

    model = toy_paradigm.models["vm_bounded"] = toy.Bounded()
    out = tmp_path / "o"
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_bounded", "--ci", "none"]
    assert cli.main([*args, "--sample", "100", "--reloo", "--out", str(out)]) == 0, capsys.readouterr().err
    pointwise = pd.read_parquet(out / "loo_pointwise.parquet")
    trials = toy_paradigm.read(csv)
    root = jax.random.key(0)
    draws = fit.sample(
        model,
        trials,
        n_warmup=100,
        n_samples=100,
        key=jax.random.fold_in(root, fitting_posterior.POSTERIOR_STREAM),
    )
    found = fit.loo(model, trials, draws)
    direct = fit.reloo(
        model, trials, draws, found, key=jax.random.fold_in(root, fitting_posterior.RELOO_STREAM)
    )
    np.testing.assert_array_equal(pointwise["refit"], direct.pointwise["refit"])
    np.testing.assert_array_equal(pointwise["elpd_loo"], direct.pointwise["elpd_loo"])
    high = found.pointwise["pareto_k"] > found.settings["k_threshold"]
    assert pointwise["refit"].tolist() == high.tolist()
    assert json.loads((out / "run.json").read_text())["config"]["reloo"] is True
    entry = json.loads((out / "comparison.json").read_text())["posterior"]["loo"]
    assert entry["refits"] == {"vm_bounded": int(high.sum())}
    printed = capsys.readouterr().out
    assert f"{int(high.sum())} trials refitted without themselves" in printed
    n = int(high.sum())  # said before the refits start, and how far they have got
    assert f"vm_bounded       LOO: {n} of {len(trials)} trials with Pareto k > " in printed
    assert f"--reloo refits each without itself: {n} sampling runs" in printed
    assert n == 0 or f"vm_bounded       LOO: refitted {n} of {n} trials" in printed


def test_reloo_progress_lines_come_every_tenth_of_the_refits():
    from cogsim.fit import LooResult
    from cogsim.fitting_posterior import _progress

    k = np.r_[np.full(25, 0.9), np.full(5, 0.1)]
    pw = pd.DataFrame({"row": range(30), "pareto_k": k, "refit": False})
    lines = []
    progress = _progress("m", LooResult("m", (), pd.DataFrame(), pw, {"k_threshold": 0.7}), lines.append)
    assert lines == [
        "m                LOO: 25 of 30 trials with Pareto k > 0.70; --reloo refits each without "
        "itself: 25 sampling runs"
    ]
    for done in range(1, 26):
        progress(done, 25)
    done = [int(line.split("refitted ")[1].split(" of")[0]) for line in lines[1:]]
    assert done == [3, 6, 9, 12, 15, 18, 21, 24, 25]


def test_a_model_with_every_parameter_fixed_is_not_sampled_and_no_file_is_claimed(
    toy_paradigm, csv, tmp_path, capsys, toy
):
    toy_paradigm.models["vm_bounded"] = toy.Bounded()
    out = tmp_path / "o"
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_bounded[p_mem=0.5,kappa=2]"]
    assert cli.main([*args, "--ci", "none", "--sample", "100", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "posterior: no free parameters, nothing to sample" in printed
    wrote = printed.strip().splitlines()[-1]
    assert wrote.startswith(f"wrote {out}/ (fits.parquet, models.parquet, comparison.json, figure.png")
    assert "posterior.parquet" not in wrote and not (out / "posterior.parquet").exists()
    loo = pd.read_parquet(out / "loo.parquet")  # its leave-one-out densities: exact, nothing sampled
    assert loo["exact"].all() and loo["p_loo"].eq(0).all() and "exact for vm_bounded" in printed
    assert all((out / f).exists() for f in wrote.split("(")[1].rstrip(")").split(", "))


def test_a_model_without_parameters_enters_loo_exactly(tmp_path, capsys):
    from cogsim import data

    trials = pd.read_csv(data.folder("zhang_luck2008_delayed_estimation") / "trials.csv")
    path, out, n = tmp_path / "zl1.csv", tmp_path / "o", 200
    trials[trials["subject"] == 1].head(n).to_csv(path, index=False)  # one participant of Zhang & Luck
    args = ["fit", "delayed_estimation", "--data", str(path), "--models", "mixture2p,uniform", "--ci", "none"]
    assert cli.main([*args, "--sample", "400", "--out", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "uniform          posterior: no free parameters, nothing to sample; its LOO is exact" in printed
    assert re.search(r"mixture2p        posterior: [01] of 1 participant converged \(", printed)  # singular
    assert "participants" not in printed
    loo = pd.read_parquet(out / "loo.parquet").set_index("model")
    uniform = loo.loc["uniform"]
    assert uniform["elpd_loo"] == pytest.approx(-n * math.log(2 * math.pi), rel=1e-6)
    assert uniform["p_loo"] == 0 and uniform["se_elpd_loo"] == 0 and math.isnan(uniform["max_k"])
    assert uniform["exact"] and uniform["converged"] and not loo.loc["mixture2p", "exact"]
    pointwise = pd.read_parquet(out / "loo_pointwise.parquet")
    assert pointwise.groupby("model").size().to_dict() == {"mixture2p": n, "uniform": n}
    assert pointwise[pointwise["model"] == "uniform"]["pareto_k"].isna().all()
    entry = json.loads((out / "comparison.json").read_text())["posterior"]["loo"]
    assert entry["exact"] == ["uniform"] and entry["n_participants_ranked"] == 1
    ranked = {r["model"]: r for r in entry["ranking"]}
    assert list(ranked) == ["mixture2p", "uniform"] and ranked["uniform"]["exact"]
    assert ranked["uniform"]["elpd_loo"] == pytest.approx(uniform["elpd_loo"])
    assert ranked["uniform"]["weight"] < 0.01 and ranked["uniform"]["elpd_diff"] < 0
    for r in entry["ranking"]:  # the printed lines say what comparison.json holds
        assert (
            f"  {r['model']:<16} elpd_loo {r['elpd_loo']:.1f} (SE {r['se_elpd_loo']:.1f}), difference "
            f"{r['elpd_diff']:.1f} (SE {r['se_diff']:.1f}), stacking weight {r['weight']:.2f}"
        ) in printed
    assert (
        f"elpd_waic {-n * math.log(2 * math.pi):.1f}, exact (no free parameters); best for 0 of 1" in printed
    )


class _Located:
    """The toy mixture with a location too: two parameters without two finite bounds (mu, kappa)."""

    name, by_set_size, requires = "vm_located", False, ()

    def __init__(self, toy):
        from cogsim.fit import Param

        self.params = (Param("mu", default=0.0), *toy.VonMisesMixture().params)


def test_every_parameter_without_a_prior_is_named_in_one_line(toy_paradigm, csv, tmp_path, capsys, toy):
    toy_paradigm.models["vm_located"] = _Located(toy)
    args = [
        "fit",
        "toy_estimation",
        "--data",
        str(csv),
        "--models",
        "vm_located,vm_mixture",
        "--sample",
        "100",
    ]
    assert cli.main([*args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "cogsim: error: fit --sample: model 'vm_located' parameters 'mu' (-inf, inf), 'kappa' (0.0, inf); "
        "model 'vm_mixture' parameter 'kappa' (0.0, inf) without two finite bounds and without a prior; "
        "allowed: a prior for each, e.g. --prior 'vm_located.mu=lognormal(0, 1),"
        "vm_located.kappa=lognormal(0, 1),vm_mixture.kappa=lognormal(0, 1)' (a uniform prior needs two "
        "finite bounds)\n"
    )


def test_sampling_a_model_that_needs_priors_with_hierarchical_is_refused_before_fitting(
    toy_paradigm, csv, tmp_path, capsys, toy
):
    toy_paradigm.models["vm_located"] = _Located(toy)
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_located", "--hierarchical"]
    assert cli.main([*args, "--sample", "100", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        "fit --sample: got it with --hierarchical and model 'vm_located' parameters 'mu' (-inf, inf), "
        "'kappa' (0.0, inf): without two finite bounds each needs a --prior, which --hierarchical does not "
        "take; allowed: --sample without --hierarchical, with --prior 'vm_located.mu=lognormal(0, 1),"
        "vm_located.kappa=lognormal(0, 1)', or models whose parameters all have two finite bounds"
    ) in err
    assert not (tmp_path / "o").exists()  # refused before anything is fitted


def test_hierarchical_sampling_says_its_posteriors_are_the_participants_own(
    toy_paradigm, csv, tmp_path, capsys, toy
):
    toy_paradigm.models["vm_bounded"] = toy.Bounded()
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_bounded", "--ci", "none"]
    assert cli.main([*args, "--hierarchical", "--sample", "100", "--out", str(tmp_path / "o")]) == 0
    line = "posterior: each participant's own, under the --prior priors and uniform ones over the other "
    assert line in capsys.readouterr().out
    assert cli.main([*args, "--sample", "100", "--out", str(tmp_path / "p")]) == 0
    assert line not in capsys.readouterr().out
