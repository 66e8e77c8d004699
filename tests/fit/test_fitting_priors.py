"""`cogsim fit --prior`: which parameters of which chosen models each prior reaches, MAP fits equal to
`cogsim.fit.fit` with the same priors, sampling under them, and the refusals."""

import json
import math

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import cli, fitting_command, fitting_priors
from cogsim.errors import CogsimError
from cogsim.fit import Density, parse_density


@pytest.fixture(scope="module")
def chosen():
    par = fitting_command._paradigm("delayed_estimation")
    trials = pd.DataFrame({"subject": [1] * 20, "set_size": [1, 2] * 10, "error_rad": [0.1] * 20})
    return fitting_command.choose(par, trials, "mixture2p,mixture2p[sd_rad=shared],vp")[0]


def test_a_prior_reaches_every_chosen_model_with_the_parameter_and_its_copies(chosen):
    got = fitting_priors.parse("p_mem=beta(2, 2)", chosen)
    assert got == {
        "mixture2p": {"p_mem": Density("beta", (2, 2))},
        "mixture2p[sd_rad=shared]": {
            "p_mem[1]": Density("beta", (2, 2)),
            "p_mem[2]": Density("beta", (2, 2)),
        },
    }


def test_a_models_own_prior_and_an_exact_name_take_precedence(chosen):
    text = "sd_rad=lognormal(-1, 0.5),mixture2p.sd_rad=lognormal(0, 1),p_mem=beta(2, 2)"
    text += ",mixture2p[sd_rad=shared].p_mem[2]=beta(5, 1),vp.tau=gamma(2, 0.1)"
    got = fitting_priors.entry(fitting_priors.parse(text, chosen))
    assert got == {
        "mixture2p": {"p_mem": "beta(2, 2)", "sd_rad": "lognormal(0, 1)"},
        "mixture2p[sd_rad=shared]": {
            "p_mem[1]": "beta(2, 2)",
            "p_mem[2]": "beta(5, 1)",
            "sd_rad": "lognormal(-1, 0.5)",
        },
        "vp": {"tau": "gamma(2, 0.1)"},
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "fit --prior: got ''; allowed: \\[MODEL.\\]PARAM=FAMILY\\(ARGS\\)"),
        ("p_mem", "fit --prior: got 'p_mem'; allowed"),
        (
            "slots_averaging.K=gamma(2, 1)",
            "got model 'slots_averaging' in .*allowed: a chosen model \\(mixture2p,",
        ),
        (
            "kappa=gamma(2, 1)",
            "got parameter 'kappa' .*allowed: a parameter of the chosen models \\(J1, alpha,",
        ),
        ("vp.p_mem=beta(2, 2)", "got parameter 'p_mem' .*allowed: a parameter of vp \\(J1, alpha, tau\\)"),
        ("p_mem=beta(2, 2),p_mem=beta(3, 3)", "'p_mem' is given twice"),
        ("vp.alpha=lognormal(0, 1)", "fit --prior vp.alpha=lognormal\\(0, 1\\): its support is \\[0, inf\\]"),
        ("p_mem=betta(2, 2)", "^fit --prior: got 'betta\\(2, 2\\)'"),
        ("p_mem=beta(2, -1)", "^fit --prior beta: got b=-1.0; allowed: b > 0"),
    ],
)
def test_bad_priors_get_one_line_errors(chosen, text, match):
    with pytest.raises(CogsimError, match=match):
        fitting_priors.parse(text, chosen)


def _fit(csv, out, *extra):
    return cli.main(["fit", "toy_estimation", "--data", str(csv), "--out", str(out), "--seed", "3", *extra])


def test_map_fits_are_the_librarys_and_a_strong_prior_holds_the_estimates(
    toy_paradigm, csv, tmp_path, capsys
):
    from cogsim import fit

    args = ["--models", "vm_mixture", "--ci", "none"]
    assert _fit(csv, tmp_path / "ml", *args) == 0
    assert _fit(csv, tmp_path / "map", *args, "--prior", "kappa=gamma(2, 0.5)") == 0
    assert _fit(csv, tmp_path / "held", *args, "--prior", f"kappa=lognormal({math.log(20.0)}, 0.01)") == 0, (
        capsys.readouterr().err
    )
    assert "priors (MAP estimates): vm_mixture: kappa ~ gamma(2, 0.5)" in capsys.readouterr().out
    est = {
        k: pd.read_parquet(tmp_path / k / "fits.parquet").query("parameter == 'kappa'")["estimate"].to_numpy()
        for k in ("ml", "map", "held")
    }
    trials = toy_paradigm.read(csv)
    direct = fit.fit(
        toy_paradigm.models["vm_mixture"],
        trials,
        ci=None,
        prior={"kappa": parse_density("gamma(2, 0.5)")},
        key=jax.random.key(3),
    )
    np.testing.assert_array_equal(est["map"], direct.estimates.query("parameter == 'kappa'")["estimate"])
    assert np.ptp(est["ml"]) > 2.0  # the participants differ (kappa 8, 3, 5 simulated) ...
    np.testing.assert_allclose(est["held"], 20.0, rtol=0.05)  # ... but not under a prior this narrow
    comp = json.loads((tmp_path / "held" / "comparison.json").read_text())
    assert comp["prior"] == {"vm_mixture": {"kappa": f"lognormal({math.log(20.0):g}, 0.01)"}}
    assert "prior" not in json.loads((tmp_path / "ml" / "comparison.json").read_text())
    config = json.loads((tmp_path / "map" / "run.json").read_text())["config"]
    assert config["prior"] == "kappa=gamma(2, 0.5)"
    ml = pd.read_parquet(tmp_path / "ml" / "models.parquet")["loglik"].to_numpy()
    held = pd.read_parquet(tmp_path / "held" / "models.parquet")["loglik"].to_numpy()
    assert (held < ml - 1.0).all()  # the data's log-likelihood at the held estimates, without the prior


def test_a_prior_lets_an_unbounded_parameter_be_sampled(toy_paradigm, csv, tmp_path, capsys):
    from cogsim import fit, fitting_posterior

    out = tmp_path / "o"
    prior = "kappa=lognormal(1.5, 1)"
    rc = _fit(csv, out, "--models", "vm_mixture", "--ci", "none", "--prior", prior, "--sample", "100")
    assert rc == 0, capsys.readouterr().err
    post = pd.read_parquet(out / "posterior.parquet")
    key = jax.random.fold_in(jax.random.key(3), fitting_posterior.POSTERIOR_STREAM)
    direct = fit.sample(
        toy_paradigm.models["vm_mixture"],
        toy_paradigm.read(csv),
        n_warmup=100,
        n_samples=100,
        prior={"kappa": parse_density("lognormal(1.5, 1)")},
        key=key,
    )
    np.testing.assert_array_equal(post["estimate"], direct.estimates["estimate"])
    entry = json.loads((out / "comparison.json").read_text())["posterior"]
    assert entry["prior"] == {"vm_mixture": {"p_mem": "uniform", "kappa": "lognormal(1.5, 1)"}}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--prior", "kappa=gamma(2, 1)", "--hierarchical"],
            "fit --prior: given with --hierarchical; allowed",
        ),
        (
            [
                "--models",
                "vm_mixture,vm_mixture[p_mem=0.9]",
                "--prior",
                "kappa=gamma(2, 1)",
                "--lr-test",
                "5",
            ],
            "fit --prior: given with --lr-test",
        ),
        (["--prior", "kappa=beta(2, 1)"], "fit --prior vm_mixture.kappa=beta\\(2, 1\\): its support is"),
        (["--prior", "vm_mixture.kapa=gamma(2, 1)"], "got parameter 'kapa'"),
    ],
)
def test_bad_prior_requests_exit_2_with_one_line(toy_paradigm, csv, tmp_path, capsys, extra, message):
    rc = _fit(csv, tmp_path / "o", *extra)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err)
    assert not (tmp_path / "o").exists()  # refused before anything is fitted
