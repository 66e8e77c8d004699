"""`at_bound`: estimates at a finite bound are named in the fit's tables and reported by `cogsim fit`."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim.fit import AT_BOUND_TOL, Param, at_bound_counts, fit, fit_hierarchical
from cogsim.fit._at_bound import at_bound


class TwoRates:
    """Binary responses ``x`` in two conditions ``c`` (0, 1), each with its own rate."""

    name, by_set_size, requires = "two_rates", False, ("c",)
    params = (Param("p0", 0.0, 1.0, default=0.5), Param("p1", 0.0, 1.0, default=0.5))

    def loglik(self, p, t):
        rate = jnp.where(t["c"] == 0, p["p0"], p["p1"])
        return jnp.where(t["x"] == 1, jnp.log(rate), jnp.log1p(-rate))


class RatePerSetSize:
    """Binary responses ``x`` with one rate per set size."""

    name, by_set_size, requires = "rate_per_set_size", True, ()
    params = (Param("p", 0.0, 1.0, default=0.5),)

    def loglik(self, p, t):
        return jnp.where(t["x"] == 1, jnp.log(p["p"]), jnp.log1p(-p["p"]))


def _two_rates(p0, p1, n=200, n_sub=3, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_sub):
        c = np.arange(n) % 2
        x = (rng.random(n) < np.where(c == 0, p0, p1)).astype(int)
        frames.append(pd.DataFrame({"subject": s + 1, "c": c, "x": x}))
    return pd.concat(frames, ignore_index=True)


def test_the_rule_is_relative_to_the_range_or_in_units_with_one_bound():
    two = Param("J", 0.01, 1000.0, default=1.0)
    assert at_bound(two, [0.01 + 0.5 * AT_BOUND_TOL * 999.99, 0.01 + 2 * AT_BOUND_TOL * 999.99]).tolist() == [
        True,
        False,
    ]
    one = Param("t", 0.0, default=1.0)
    assert at_bound(one, [0.5 * AT_BOUND_TOL, 2 * AT_BOUND_TOL, 1e6]).tolist() == [True, False, False]
    free = Param("mu", default=0.0)
    assert not at_bound(free, [-1e30, 0.0, 1e30]).any()


def test_a_rate_generated_at_zero_is_named_and_interior_rates_are_not():
    data = _two_rates(0.0, 0.6)
    res = fit(TwoRates(), data, ci=None, key=jax.random.key(0))
    assert (res.summary["at_bound"] == "p0").all(), res.units[["p0", "p1", "grad_norm"]]
    assert (res.units["p0"] < AT_BOUND_TOL).all() and res.summary["converged"].all()
    inside = fit(TwoRates(), _two_rates(0.3, 0.6), ci=None, key=jax.random.key(0))
    assert (inside.summary["at_bound"] == "").all(), inside.units[["p0", "p1"]]
    assert at_bound_counts(res.summary["at_bound"]) == (3, {"p0": 3})
    assert at_bound_counts(inside.summary["at_bound"]) == (0, {})


def test_per_set_size_parameters_carry_their_set_size():
    rng = np.random.default_rng(1)
    frames = []
    for s in (1, 2):
        x2 = (rng.random(60) < 0.5).astype(int)
        x6 = np.ones(60, int) if s == 1 else (rng.random(60) < 0.7).astype(int)  # subject 1: rate 1 at 6
        frames.append(pd.DataFrame({"subject": s, "set_size": np.repeat([2, 6], 60), "x": np.r_[x2, x6]}))
    res = fit(RatePerSetSize(), pd.concat(frames, ignore_index=True), ci=None, key=jax.random.key(0))
    assert res.summary.set_index("subject")["at_bound"].to_dict() == {1: "p[6]", 2: ""}
    assert res.units["at_bound"].tolist() == ["", "p[6]", "", ""]


def test_hierarchical_fits_fill_the_same_column():
    res = fit_hierarchical(TwoRates(), _two_rates(0.3, 0.6), ci=None, key=jax.random.key(0))
    assert "at_bound" in res.summary.columns and "at_bound" in res.units.columns
    assert (res.summary["at_bound"] == "").all()


def test_the_command_prints_a_line_and_counts_units_at_a_bound(tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    for s in (1, 2, 3):
        for ss in (2, 4):
            err = np.zeros(40) if s == 1 else rng.vonmises(0.0, 4.0, 40)
            rows.append(pd.DataFrame({"subject": s, "set_size": ss, "error_rad": err}))
    csv = tmp_path / "trials.csv"
    pd.concat(rows).to_csv(csv, index=False)
    out = tmp_path / "out"
    env = dict(os.environ, COGSIM_COMPILATION_CACHE="off")
    cmd = [sys.executable, "-m", "cogsim", "fit", "delayed_estimation", "--data", str(csv), "--models"]
    proc = subprocess.run(
        [*cmd, "mixture2p", "--ci", "none", "--out", str(out)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    models = pd.read_parquet(out / "models.parquet")
    labels = models.set_index("subject")["at_bound"]
    # subject 1 answered with no error at all: the precision runs to its bound and p_mem to 1, at both sizes
    assert set(labels[1].split(",")) == {"p_mem[2]", "sd_rad[2]", "p_mem[4]", "sd_rad[4]"}
    n, counts = at_bound_counts(models["at_bound"])
    per = ", ".join(f"{p}: {k}" for p, k in counts.items())
    line = f"mixture2p: {n} of 3 participants have estimates at a bound ({per}); see models.parquet at_bound"
    assert line in proc.stdout.splitlines(), proc.stdout
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["models"]["mixture2p"]["n_at_bound"] == n >= 1


@pytest.mark.parametrize("labels", [["", ""], []])
def test_no_line_without_estimates_at_a_bound(labels):
    from cogsim.fit import at_bound_line

    assert at_bound_line("m", pd.Series(labels, dtype=object)) is None


def test_the_line_for_one_participant_is_singular():
    from cogsim.fit._at_bound import at_bound_line

    want = "serial: 1 of 1 participant has estimates at a bound (t0_s: 1); see models.parquet at_bound"
    assert at_bound_line("serial", pd.Series(["t0_s"])) == want
