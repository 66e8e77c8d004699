"""icl_abrupt_learning: the checks on constructed learning curves, and a tiny end-to-end run."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import config as cfglib
from cogsim.scenarios import icl_abrupt_learning as sc

# a few steps with tiny batches and test sets: a smoke run of the scenario
SMOKE = {"num_steps": 4, "log_every": 2, "n_test": 16, "eval_chunk": 16, "n_seeds": 1, "batch_size": 8}


def _curves(jump: bool, failure_learns: bool = False) -> pd.DataFrame:
    steps = np.arange(0, 2001, 100)
    rows = []
    for seed in range(2):
        t0 = 1200 + 100 * seed
        for s in steps:
            if jump:
                ic = 0.25 if s < t0 else min(0.97, 0.25 + 0.72 * (s - t0 + 100) / 300)
            else:
                ic = 0.25
            ctx = 0.1 if s < 300 else 0.9
            ind_ = 0.1 if s < t0 else 0.8
            rows.append(
                {
                    "condition": "main",
                    "seed": seed,
                    "step": s,
                    "ic_acc": ic,
                    "ic2_acc": ic,
                    "iw_acc": 0.06,
                    "ctx_label_acc": ctx,
                    "induction": ind_,
                    "prev_token": ind_,
                    "ic_loss": 2.8 * (1 - ic),
                    "n_ctx": 4,
                    "L": 16,
                }
            )
            rows.append(
                {
                    "condition": "failure_L8_N8_B1",
                    "seed": seed,
                    "step": s,
                    "ic_acc": 0.9 if failure_learns and s > 1000 else 0.13,
                    "n_ctx": 8,
                    "L": 8,
                }
            )
    df = pd.DataFrame(rows)
    mean = df[df["condition"] == "main"].groupby("step", as_index=False)["ic_loss"].mean()
    ph = mean.assign(condition="phenomenological", seed=-1, pheno_rmse=0.01)
    return pd.concat([df, ph], ignore_index=True)


def test_checks_pass_on_plateau_then_jump():
    comp = sc.compare(_curves(jump=True), sc.reference().table)
    failed = [c.name for c in comp.checks if not c.passed]
    assert not failed, failed
    assert comp.key_metric.name == "ic_acc_final"
    assert comp.metric("plateau_ic_acc").value == pytest.approx(0.25)
    assert comp.with_context(data_kind="none").schema_problems() == []


def test_checks_fail_without_a_jump_or_when_the_failure_case_learns():
    comp = sc.compare(_curves(jump=False, failure_learns=True), sc.reference().table)
    by = {c.name.split(" (")[0]: c.passed for c in comp.checks}
    assert not by["IC accuracy ends above 0.9"]
    assert not by["abrupt jump: plateau to 0.9 in under half the time spent before it"]
    assert not by["induction score rises at the jump"]
    assert not by["L = N = 8, B = 1: no in-context learning"]
    assert comp.verdict in ("partial", "mismatch")


def test_plot_says_when_the_failure_case_was_not_trained():
    curves = _curves(jump=True)
    with_failure = sc.plot(curves, sc.reference().table).axes[3]
    without = sc.plot(curves[curves["condition"] != "failure_L8_N8_B1"], sc.reference().table).axes[3]
    assert len(with_failure.lines) == 3 and not with_failure.texts  # two seeds and the chance line
    assert not without.lines
    assert "not trained" in without.texts[0].get_text()


def test_the_paper_preset_verdict_is_shown_beside_the_quick_one():
    assert sc.PAPER_RUN.checks_passed == "1/5" and sc.PAPER_RUN.verdict == "demonstration"


def test_presets_validate_and_human_is_labelled_as_targets():
    for cfg in sc.PRESETS.values():
        cfglib.validate(cfg)
    h = sc.reference().table
    assert {"measure", "value", "source"} <= set(h.columns)


@pytest.mark.slow  # one compile of the full training program (~10-30 s of CPU)
def test_tiny_end_to_end_run_and_plot():
    cfg = dataclasses.replace(
        sc.PRESETS["quick"],
        **SMOKE,
        failure_case=False,
    )
    sim = sc.simulate(cfg, key=jax.random.key(0))
    assert set(sim["condition"]) == {"main", "phenomenological"}
    assert sorted(sim.loc[sim["condition"] == "main", "step"].unique()) == [0, 2, 4]
    comp = sc.compare(sim, sc.reference().table)
    assert len(comp.checks) >= 5
    fig = sc.plot(sim, sc.reference().table)
    assert len(fig.axes) == 4


def test_a_failure_K_that_is_no_multiple_of_8_is_refused_up_front():
    # the failure case trains with L = 8 labels; its K was checked only after the main condition trained
    with pytest.raises(cfglib.ConfigError, match=r"'failure_K': got 12; allowed: a multiple of 8"):
        cfglib.replace_from_strings(sc.PRESETS["quick"], ["failure_K=12"])
    cfg = cfglib.replace_from_strings(sc.PRESETS["quick"], ["failure_K=12", "failure_case=false"])
    assert cfg.failure_K == 12  # unused without the failure case
