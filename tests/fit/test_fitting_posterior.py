"""`cogsim fit --sample N`: the posterior tables beside the fits, the same draws as `cogsim.fit.sample`, and
the refusals."""

import json

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
        (["--models", "vm_mixture", "--sample", "100"], "model 'vm_mixture' parameter 'kappa' has bounds"),
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
    assert f"{int(high.sum())} trials refitted without themselves" in capsys.readouterr().out


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
    assert all((out / f).exists() for f in wrote.split("(")[1].rstrip(")").split(", "))
