"""iconic_memory: the partial-report advantage at short cue delays, and the protocol."""

import jax
import numpy as np

from cogsim.scenarios import iconic_memory as im
from tests.scenarios.tiny import tiny


def test_short_run_shows_partial_report_advantage():
    sim = im.simulate(tiny("iconic_memory"), key=jax.random.key(0))
    whole = sim[sim.report == "whole"].letters.mean()
    p0 = sim[(sim.report == "partial") & (sim.cue_delay_s == 0.0)].letters.mean()
    assert p0 > whole + 1.0
    assert sim.letters.between(0, 12).all()
    hum = im.reference().table
    assert len(hum) == 3 and set(hum.report) == {"whole", "partial"}
    comp = im.compare(sim, hum)
    assert min(abs(comp.metric("tau_s").value - t) for t in tiny("iconic_memory").tau_grid) < 1e-6
    assert im.plot(sim, hum) is not None


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
