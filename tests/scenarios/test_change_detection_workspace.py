import dataclasses

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import config
from cogsim.models import change_detector as cdnet
from cogsim.scenarios import _change_detection_fits as fits
from cogsim.scenarios import change_detection as cd

TINY_WS = cd.WorkspaceFit(
    slot_dim=16, train_steps=200, batch=64, lr=1e-2, trials=40, top_k_grid=(1, 3, 6), noise_grid=(0.0, 3.0)
)


def test_grid_fit_recovers_the_generating_point():
    """Counts drawn from one grid point's predictions are fitted best by that grid point."""
    rng = np.random.default_rng(0)
    counts = cd._counts()
    cells = fits._cells(counts)
    held = np.array([0.2, 0.6, 0.95])  # three "grid points" with different P(probe held)
    logit = np.empty((3, 3, 2, 400))
    for g, ph in enumerate(held):
        h = rng.random((3, 2, 400)) < ph
        logit[g] = np.where(h, np.where(np.arange(2)[None, :, None] == 1, 8.0, -8.0), 0.0)
    sim = {"logit": logit, "set_sizes": (2, 5, 8)}
    p = fits._predicted(sim, cells)
    blocks = np.asarray(counts.block)
    beta = np.searchsorted(fits.BETA_GRID, 0.5)
    n = np.full(len(cells), 4000.0)
    k = rng.binomial(4000, p[1, np.arange(len(cells)), beta]).astype(float)
    ll, best = fits._grid_loglik(np.log(p), np.log1p(-p), blocks, n, k)
    assert int(np.argmax(ll)) == 1
    assert np.all(np.abs(fits.BETA_GRID[best[1]] - 0.5) < 0.3)


@pytest.fixture(scope="module")
def trained():
    graphdef, params, hist = cdnet.train_change_detector(TINY_WS, key=jax.random.key(1))
    return hist, cdnet.simulate_grid(graphdef, params, TINY_WS, key=jax.random.key(2))


def test_trained_network_holds_what_its_capacity_allows(trained):
    hist, sim = trained
    assert hist["loss"][-20:].mean() < hist["loss"][:20].mean()
    held = pd.DataFrame(
        [
            {"top_k": k, "noise": s, "n": n, "held": sim["held"][g, j].mean()}
            for g, (k, s) in enumerate(sim["grid"])
            for j, n in enumerate(sim["set_sizes"])
        ]
    )
    quiet = held[held.noise == 0.0].set_index(["top_k", "n"]).held
    for (k, n), v in quiet.items():  # without noise the probe is held with probability ~min(k/N, 1)
        assert abs(v - min(k / n, 1.0)) < 0.15, (k, n, v)
    noisy = held[held.noise == 3.0].set_index(["top_k", "n"]).held
    assert noisy[(3, 2)] < quiet[(3, 2)] - 0.05  # noise lets empty locations push squares out


def test_workspace_fit_reports_capacity_with_cis(trained, monkeypatch):
    _, grid_sim = trained

    def fit(config, counts, *, key):
        return fits.fit_grid(config, counts, grid_sim, key=key)

    monkeypatch.setitem(cd.MODELS, "workspace", fit)
    cfg = cd.Config(models=("workspace",), n_boot=20, per_participant=True, workspace=TINY_WS)
    ws_sim = cd.simulate(cfg, key=jax.random.key(0))
    par = ws_sim[(ws_sim.kind == "parameter") & (ws_sim.participant == -1)].set_index("name")
    for name in ("K", "top_k", "noise", "g_0.3", "g_0.5", "g_0.7"):
        r = par.loc[name]
        assert r.ci_low <= r.value <= r.ci_high, name
    assert par.loc["top_k", "value"] in TINY_WS.top_k_grid
    assert par.loc["noise", "value"] in TINY_WS.noise_grid
    assert par.loc["g_0.3", "value"] < par.loc["g_0.7", "value"]  # guessing follows the base rate
    per = ws_sim[(ws_sim.kind == "parameter") & (ws_sim.participant >= 0)]
    assert len(per) == 23
    cond = ws_sim[ws_sim.kind == "condition"]
    assert len(cond) == 9 and cond.hit_pred.between(0, 1).all() and cond.fa_pred.between(0, 1).all()
    comp = cd.compare(ws_sim, cd.reference().table)
    assert comp.key == "K" and np.isfinite(comp.metric("loglik").value)


def test_workspace_settings_are_validated():
    with pytest.raises(cd.cfglib.ConfigError, match="top_k_grid"):
        config.replace_from_strings(cd.Config(), ["workspace.top_k_grid=0,2"])
    over = ["workspace.top_k_grid=20", "workspace.n_locations=16"]  # the section's own rule: its dotted name
    with pytest.raises(cd.cfglib.ConfigError, match=r"^config field 'workspace\.top_k_grid': got \(20,\)"):
        cd.cfglib.validate(config.replace_from_strings(cd.Config(), over))
    cfg = config.replace_from_strings(cd.Config(), ["workspace.train_steps=10"])
    assert cfg.workspace.train_steps == 10 and dataclasses.is_dataclass(cfg.workspace)
    assert cd.MODELS["workspace"] is cd.fit_workspace
