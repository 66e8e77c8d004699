"""iconic_memory: the partial-report advantage at short cue delays, and the protocol."""

import jax
import numpy as np
from cogsim.scenarios import iconic_memory as im


def test_short_run_shows_partial_report_advantage():
    sim = im.simulate(im.PRESETS["test"], key=jax.random.key(0))
    whole = sim[sim.report == "whole"].letters.mean()
    p0 = sim[(sim.report == "partial") & (sim.cue_delay_s == 0.0)].letters.mean()
    assert p0 > whole + 1.0
    assert sim.letters.between(0, 12).all()
    hum = im.human()
    assert len(hum) == 3 and set(hum.report) == {"whole", "partial"}
    comp = im.compare(sim, hum)
    assert comp.metric("tau_s").value in im.PRESETS["test"].tau_grid
    assert im.plot(sim, hum) is not None


def test_buffer_decay_removes_the_advantage():
    cfg = im.PRESETS["test"]
    params, mcfg = im.letter_model(cfg, key=jax.random.key(1))
    key = jax.random.key(2)
    _, early = im._trials(params, mcfg, cfg, 0.2, 4.0, im.EXPOSURE_S, key, 300)
    _, late = im._trials(params, mcfg, cfg, 0.2, 4.0, im.EXPOSURE_S + 1.5, key, 300)
    whole, _ = im._trials(params, mcfg, cfg, 0.2, 4.0, np.inf, key, 300)
    assert float(early.mean()) > float(late.mean())
    assert abs(float(late.mean()) - float(whole.mean())) < 1.5
