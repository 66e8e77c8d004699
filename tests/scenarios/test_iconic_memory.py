"""iconic_memory: the partial-report advantage at short cue delays, and the protocol."""

import dataclasses

import jax
import numpy as np
import pytest

from cogsim import config as cfglib
from cogsim.errors import ConfigError
from cogsim.scenarios import iconic_memory as im
from tests.scenarios.tiny import tiny


@pytest.fixture(scope="module")
def sim():
    return im.simulate(tiny("iconic_memory"), key=jax.random.key(0))


def test_short_run_shows_partial_report_advantage(sim):
    whole = sim[sim.report == "whole"].letters.mean()
    p0 = sim[(sim.report == "partial") & (sim.cue_delay_s == 0.0)].letters.mean()
    assert p0 > whole + 1.0
    assert sim.letters.between(0, 12).all()
    hum = im.reference().table
    assert len(hum) == 5 and set(hum.report) == {"whole", "partial"}
    comp = im.compare(sim, hum)
    assert min(abs(comp.metric("tau_s").value - t) for t in tiny("iconic_memory").tau_grid) < 1e-6
    # every human delay is predicted once by a fit that did not see it
    folds = sim[sim.report == im.HELD_OUT]
    assert sorted(folds.cue_delay_s) == sorted(hum[hum.report == "partial"].cue_delay_s)
    assert comp.key == "heldout_rmse_letters"
    wrapped = comp.with_context(data_kind=im.reference().kind)
    assert wrapped.schema_problems() == [] and wrapped.verdict in ("match", "partial", "mismatch")
    assert im.plot(sim, hum) is not None


def test_compare_resamples_the_configs_n_boot(sim):
    from cogsim import runner

    ref = im.reference()
    hum = ref.table
    cfg = tiny("iconic_memory")
    table = runner.compare_with_reference("iconic_memory", im, sim, ref, preset="quick", cfg=cfg).tables[
        "conditions"
    ]
    for n in (50, 300):
        expected = im.condition_means(sim, n_boot=n)
        got = runner.compare_with_reference(
            "iconic_memory", im, sim, ref, preset="quick", cfg=dataclasses.replace(cfg, n_boot=n)
        ).tables["conditions"]
        np.testing.assert_array_equal(got[["ci_low", "ci_high"]], expected[["ci_low", "ci_high"]])
    np.testing.assert_array_equal(
        im.condition_means(sim, n_boot=cfg.n_boot)[["ci_low", "ci_high"]], table[["ci_low", "ci_high"]]
    )
    assert not np.array_equal(
        im.condition_means(sim, n_boot=300)[["ci_low", "ci_high"]], table[["ci_low", "ci_high"]]
    )
    assert im.compare(sim, hum).tables["conditions"].shape == table.shape


def test_held_out_fit_never_sees_the_held_out_delay():
    delays, target = im.human_points()
    rng = np.random.default_rng(0)
    pred = rng.uniform(3, 10, (4, 3, len(target)))
    moved = target.copy()
    moved[2] += 100.0  # a wild value at the held-out delay must not change that fold's choice
    use = np.ones(len(target), bool)
    use[2] = False
    assert im._best(pred, target, use) == im._best(pred, moved, use)


def test_buffer_decay_removes_the_advantage():
    cfg = tiny("iconic_memory")
    params, mcfg = im.letter_model(cfg, key=jax.random.key(1))
    key = jax.random.key(2)
    run = jax.jit(lambda cue: im._trials(params, mcfg, cfg, 0.2, 4.0, cue, key, 300))
    _, early = run(im.EXPOSURE_S)
    _, late = run(im.EXPOSURE_S + 1.5)
    whole, _ = run(np.inf)
    assert float(early.mean()) > float(late.mean())
    assert abs(float(late.mean()) - float(whole.mean())) < 1.5


@pytest.mark.parametrize("delays", ["0.5", "1,2"])
def test_cue_delays_that_cannot_test_the_decline_are_refused(delays):
    # the checks compare the shortest delay with 1 s (or the longest): one delay, or none below 1 s, compares
    # a delay with itself
    with pytest.raises(ConfigError, match=r"'cue_delays': got .*; allowed: at least two delays, one shorter"):
        cfglib.replace_from_strings(im.Config(), [f"cue_delays={delays}"])
    with pytest.raises(ConfigError, match=r"'cue_delays': got \(0.3, 0.3\); allowed: distinct values"):
        cfglib.replace_from_strings(im.Config(), ["cue_delays=0.3,0.3"])
    assert cfglib.replace_from_strings(im.Config(), ["cue_delays=0,2"]).cue_delays == (0.0, 2.0)
