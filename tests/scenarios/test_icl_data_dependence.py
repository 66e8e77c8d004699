"""icl_data_dependence: grid construction, the direction checks on constructed results, a tiny run."""

from __future__ import annotations

import dataclasses

import jax
import pandas as pd
import pytest
from cogsim.scenarios import icl_data_dependence as sc

from cogsim import config


def _sim(cfg, sign: float) -> pd.DataFrame:
    """Final accuracies with every effect in the paper's direction (sign=1) or reversed (sign=-1)."""
    pts = sc.grid_points(cfg)
    rows = []
    for i, p in pts.iterrows():
        s = p["sweep"]
        x = {
            "B": p["B"] / 4,
            "K": p["K"] / 2048,
            "eps": p["eps"],
            "alpha": p["alpha"] / 2,
            "p_B": p["p_B"],
            "p_C": p["p_C"],
        }[s]
        ic = 0.5 + sign * 0.4 * (x - 0.5) * (-1 if s == "alpha" else 1)
        iw = 0.5 - sign * 0.4 * (x - 0.5) * (-1 if s == "alpha" else 1)
        for seed in range(2):
            rows.append(
                {
                    **p.to_dict(),
                    "point": i,
                    "seed": seed,
                    "step": 100,
                    "ic_acc": ic,
                    "ic2_acc": ic,
                    "iw_acc": iw,
                }
            )
    return pd.DataFrame(rows)


def test_grid_varies_one_factor_at_a_time():
    cfg = sc.PRESETS["quick"]
    pts = sc.grid_points(cfg)
    assert set(pts["sweep"]) == set(sc.SWEEPS)
    b = pts[pts["sweep"] == "B"]
    assert b["B"].tolist() == list(cfg.Bs) and (b["K"] == cfg.K).all()
    a = pts[pts["sweep"] == "alpha"]
    assert (a["K"] == cfg.alpha_K).all() and a["alpha"].tolist() == list(cfg.alphas)


def test_checks_follow_the_direction_of_the_effects():
    cfg = sc.PRESETS["quick"]
    good = sc.compare(_sim(cfg, 1.0), sc.human())
    assert all(c.passed for c in good.checks), [c for c in good.checks if not c.passed]
    bad = sc.compare(_sim(cfg, -1.0), sc.human())
    assert not any(c.passed for c in bad.checks)
    assert bad.verdict == "mismatch"


def test_presets_validate():
    for cfg in sc.PRESETS.values():
        config.validate(cfg)


@pytest.mark.slow  # one compile of the full training program (~10-30 s of CPU)
def test_tiny_end_to_end_run_and_plot():
    cfg = dataclasses.replace(
        sc.PRESETS["quick"],
        Bs=(0, 2),
        Ks=(32, 256),
        epss=(0.1,),
        alphas=(0.0, 1.0),
        p_Bs=(1.0,),
        p_Cs=(0.0, 0.5),
        num_steps=2,
        log_every=2,
        n_test=16,
        eval_chunk=16,
        n_seeds=1,
        batch_size=8,
    )
    sim = sc.simulate(cfg, key=jax.random.key(0))
    assert len(sim) == len(sc.grid_points(cfg)) * 2  # steps 0 and 2, one seed
    tab = sc.final_table(sim)
    assert tab["ic_acc"].between(0, 1).all()
    comp = sc.compare(sim, sc.human())
    assert comp.checks
    assert len(sc.plot(sim, sc.human()).axes) >= 4
