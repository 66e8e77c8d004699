"""icl_data_dependence: grid construction, the direction checks on constructed results, a tiny run."""

from __future__ import annotations

import dataclasses

import jax
import pandas as pd
import pytest

from cogsim import config as cfglib
from cogsim.scenarios import icl_data_dependence as sc

# a few steps with tiny batches and test sets: a smoke run of the scenario
SMOKE = {"num_steps": 4, "log_every": 2, "n_test": 16, "eval_chunk": 16, "n_seeds": 1, "batch_size": 8}


def _sim(cfg, sign: float) -> pd.DataFrame:
    """Final accuracies with every effect in the paper's direction (sign=1) or reversed (sign=-1), three
    seeds with a small spread."""
    pts = sc.grid_points(cfg)
    rows = []
    for i, p in pts.iterrows():
        s = p["sweep"]
        base = 0.5
        if s == "KxB":
            x = 0.5 * p["B"] / 4 + 0.5 * p["K"] / 2048
        elif s == "alpha":
            x = 1 - p["alpha"] / 2  # IC falls and IW rises with alpha
            base = 0.5 if sign > 0 else 0.25  # reversed: no coexistence at alpha = 1 either
        else:
            x = {"eps": p["eps"], "p_B": p["p_B"], "p_C": p["p_C"]}[s]
        ic = base + sign * 0.4 * (x - 0.5)
        iw = base - sign * 0.4 * (x - 0.5)
        for seed in range(3):
            e = 0.01 * (seed - 1) * (1 + x)
            rows.append(
                {
                    **p.to_dict(),
                    "point": i,
                    "seed": seed,
                    "step": 100,
                    "ic_acc": ic + e,
                    "ic2_acc": ic,
                    "iw_acc": iw - e,
                }
            )
    return pd.DataFrame(rows)


def test_grid_is_the_full_k_by_b_product_and_one_factor_at_a_time_elsewhere():
    cfg = sc.PRESETS["quick"]
    pts = sc.grid_points(cfg)
    assert set(pts["sweep"]) == set(sc.SWEEPS)
    kb = pts[pts["sweep"] == "KxB"]
    assert sorted(zip(kb["K"], kb["B"], strict=True)) == sorted((k, b) for k in cfg.Ks for b in cfg.Bs)
    assert cfg.Ks == (128, 256, 512, 2048) and cfg.Bs == (0, 1, 2, 4)  # the paper's grid
    a = pts[pts["sweep"] == "alpha"]
    assert (a["K"] == cfg.alpha_K).all() and a["alpha"].tolist() == list(cfg.alphas)


def test_checks_follow_the_direction_of_the_effects():
    cfg = sc.PRESETS["quick"]
    good = sc.compare(_sim(cfg, 1.0), sc.reference().table)
    assert all(c.passed for c in good.checks), [c for c in good.checks if not c.passed]
    assert all(c.ci is not None for c in good.checks)
    assert good.with_context(data_kind="none").schema_problems() == []
    # the B effect at each of the 4 K, the K effect at each B >= 1, IC and IW each
    assert sum(c.name.startswith(("IC rises with B", "IW falls with B")) for c in good.checks) == 8
    assert sum(c.name.startswith(("IC rises with K", "IW falls with K")) for c in good.checks) == 6
    bad = sc.compare(_sim(cfg, -1.0), sc.reference().table)
    assert not any(c.passed for c in bad.checks), [c.name for c in bad.checks if c.passed]
    assert bad.verdict == "mismatch"


def test_presets_validate():
    for cfg in sc.PRESETS.values():
        cfglib.validate(cfg)


@pytest.mark.slow  # one compile of the full training program (~10-30 s of CPU)
def test_tiny_end_to_end_run_and_plot():
    cfg = dataclasses.replace(
        sc.PRESETS["quick"],
        Bs=(0, 2),
        Ks=(128, 256),
        epss=(0.1,),
        alphas=(0.0, 1.0),
        p_Bs=(1.0,),
        p_Cs=(0.0, 0.5),
        **SMOKE,
    )
    sim = sc.simulate(cfg, key=jax.random.key(0))
    assert len(sim) == len(sc.grid_points(cfg)) * 3  # steps 0, 2 and 4, one seed
    tab = sc.final_table(sim)
    assert tab["ic_acc"].between(0, 1).all()
    comp = sc.compare(sim, sc.reference().table)
    assert comp.checks
    assert len(sc.plot(sim, sc.reference().table).axes) >= 4


TINY = [f"{k}={v}" for k, v in SMOKE.items() if k != "n_seeds"]


def test_sweep_vectorises_points_and_seeds(tmp_path):
    from cogsim import sweep

    grid = {"B": [1, 2], "eps": [0.1, 0.5]}
    df = sweep.run(
        "icl_data_dependence", grid=grid, seeds=2, overrides=TINY, out=tmp_path, log=lambda *_: None
    ).to_pandas()
    assert len(df) == 8
    assert set(df["B"]) == {1, 2} and set(df["seed"]) == {0, 1}
    for m in sc.SWEEP_METRICS:
        assert df[m].notna().all(), m
    assert df["ic_acc"].between(0, 1).all() and df["iw_acc"].between(0, 1).all()
    # one point alone, outside the sweep, gives the same numbers (the vmapped sweep changes nothing)
    cfg = cfglib.replace_from_strings(sc.PRESETS["quick"], [*TINY, "B=1", "eps=0.5"])
    one = sc.sweep_point(cfg, key=jax.random.fold_in(jax.random.key(0), 1))
    row = df[(df["B"] == 1) & (df["eps"] == 0.5) & (df["seed"] == 1)].iloc[0]
    assert abs(float(one["loss"]) - row["loss"]) < 1e-4


def test_base_point_is_validated():
    with pytest.raises(cfglib.ConfigError):
        cfglib.replace(sc.PRESETS["quick"], B=3)  # B must divide N = 4
    with pytest.raises(cfglib.ConfigError):
        cfglib.replace(sc.PRESETS["quick"], K=4096)  # more classes than allocated (K_max)


def _coexist_check(ic_iw: dict[float, tuple[float, float]]):
    """The coexistence check on a constructed alpha sweep (accuracies per alpha, L = 8: floor 0.344)."""
    cfg = sc.PRESETS["quick"]
    rows = [
        {
            "point": i,
            "sweep": "alpha",
            "K": cfg.alpha_K,
            "B": cfg.alpha_B,
            "eps": 0.1,
            "alpha": a,
            "p_B": 1.0,
            "p_C": 0.0,
            "L": 8,
            "seed": seed,
            "step": 100,
            "ic_acc": ic + 0.01 * seed,
            "ic2_acc": ic,
            "iw_acc": iw - 0.01 * seed,
        }
        for i, (a, (ic, iw)) in enumerate(ic_iw.items())
        for seed in range(3)
    ]
    comp = sc.compare(pd.DataFrame(rows), sc.reference().table)
    (check,) = [c for c in comp.checks if c.name.startswith("alpha ~ 1")]
    return check.passed


def test_coexistence_is_judged_at_alpha_one_itself():
    # both above the floor at alpha = 1
    assert _coexist_check({0.0: (0.8, 0.15), 1.0: (0.6, 0.5), 2.0: (0.35, 0.85)})
    # IW below the floor at alpha = 1, both above it at 1.25: the window is not widened
    assert not _coexist_check({0.0: (0.8, 0.15), 1.0: (0.85, 0.3), 1.25: (0.6, 0.45), 2.0: (0.35, 0.85)})
