"""`few_set_sizes_line`: `cogsim fit` says when a participant's set sizes cannot identify a model's
parameters (change detection at one set size). The trials are subsets of Adam et al. (2015)."""

import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim import data
from cogsim.fit import few_set_sizes_line, fix
from cogsim.models import working_memory as wm

FC_LINE = (
    "fixed_capacity: 2 of 3 participants have a single set size: K and a are not separately identified from "
    "one set size (two rates: hits and false alarms)"
)


def _adam(one_size_subjects=(1, 2), all_sizes_subjects=(3,)) -> pd.DataFrame:
    t = data.load("adam2015_change_detection")[["subject", "set_size", "change", "correct"]]
    one = t[t.subject.isin(one_size_subjects) & (t.set_size == 6)]
    return pd.concat([one, t[t.subject.isin(all_sizes_subjects)]], ignore_index=True)


def test_the_confounded_parameters_trade_off_at_one_set_size_and_not_across_two():
    t = _adam()
    at = {k: jnp.asarray(t[k].to_numpy()) for k in ("set_size", "change", "correct")}

    def ll(K, a, sizes):
        keep = jnp.isin(at["set_size"], jnp.asarray(sizes))
        per = wm.FIXED_CAPACITY.loglik({"K": K, "a": a, "g": 0.5}, at)
        return float(jnp.sum(jnp.where(keep, per, 0.0)))

    assert ll(3.0, 0.9, [6]) == pytest.approx(ll(4.5, 0.6, [6]), rel=1e-6)  # a K / 6 = 0.45 both
    assert abs(ll(3.0, 0.9, [2, 6]) - ll(4.5, 0.6, [2, 6])) > 1.0


def test_the_line_counts_participants_with_one_set_size_and_names_the_parameters():
    t = _adam()
    assert few_set_sizes_line(wm.FIXED_CAPACITY, t, ("subject",)) == FC_LINE
    sdt = few_set_sizes_line(wm.SDT, t, ("subject",))
    assert sdt.startswith("sdt: 2 of 3 participants have a single set size: d1 and alpha are not separately")


def test_no_line_with_several_set_sizes_a_parameter_held_or_no_need_declared():
    t = _adam()
    assert few_set_sizes_line(wm.FIXED_CAPACITY, _adam((), (1, 2, 3)), ("subject",)) is None
    assert few_set_sizes_line(fix(wm.FIXED_CAPACITY, {"a": 1.0}), t, ("subject",)) is None
    assert few_set_sizes_line(wm.DELAYED_ESTIMATION["mixture2p"], t, ("subject",)) is None


def test_the_command_prints_the_line_and_exits_0(tmp_path):
    csv = tmp_path / "one_size.csv"
    _adam().to_csv(csv, index=False)
    env = dict(os.environ, COGSIM_COMPILATION_CACHE="off")
    cmd = [sys.executable, "-m", "cogsim", "fit", "change_detection", "--data", str(csv), "--models"]
    proc = subprocess.run(
        [*cmd, "fixed_capacity", "--ci", "none", "--starts", "1", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert FC_LINE in proc.stdout.splitlines(), proc.stdout
    assert "identified" not in proc.stderr
    assert np.isfinite(pd.read_parquet(tmp_path / "out" / "models.parquet").loglik).all()  # still fitted


def test_vp_at_one_set_size_trades_j1_against_alpha_and_says_so():
    zl = data.load("zhang_luck2008_delayed_estimation")
    t = zl[zl.subject.isin([1, 2])]
    one = pd.concat([t[(t.subject == 1) & (t.set_size == 3)], t[t.subject == 2]], ignore_index=True)
    at = {k: jnp.asarray(one[k].to_numpy()) for k in ("set_size", "error_rad")}
    keep = one.subject.to_numpy() == 1
    vp = wm.DELAYED_ESTIMATION["vp"]

    def ll(j1, alpha):
        return float(jnp.sum(jnp.where(keep, vp.loglik({"J1": j1, "alpha": alpha, "tau": 10.0}, at), 0.0)))

    assert ll(30.0, 1.0) == pytest.approx(ll(30.0 * 3**0.5, 1.5), rel=1e-5)  # J1 3^-alpha = 10 both
    line = few_set_sizes_line(vp, one, ("subject",))
    assert line == (
        "vp: 1 of 2 participants have a single set size: J1 and alpha are not separately identified from one "
        "set size (one mean precision, J1 N^-alpha)"
    )


def test_the_line_for_one_participant_is_singular():
    line = few_set_sizes_line(
        wm.FIXED_CAPACITY, _adam(one_size_subjects=(1,), all_sizes_subjects=()), ("subject",)
    )
    assert line.startswith("fixed_capacity: 1 of 1 participant has a single set size: K and a are not")
