"""visual_search_asymmetry: slope and index bookkeeping on synthetic results, and a tiny end-to-end run."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pandas as pd
import pytest

from cogsim import config as cfglib
from cogsim.errors import CogsimError
from cogsim.scenarios import visual_search_asymmetry as vsa
from cogsim.tasks import search_displays as sd
from tests.scenarios.tiny import tiny


def _synthetic(slopes: dict[tuple[int, str], float], model: str = "eccNET") -> pd.DataFrame:
    """Per-trial rows whose mean RT rises with set size at the given ms/item."""
    h = vsa.reference().table
    rows = []
    for (e, cond), s in slopes.items():
        for n in sorted(h[(h.experiment == e) & (h.condition == cond)]["set_size"]):
            for t in range(2):
                rows.append(
                    {
                        "model": model,
                        "experiment": e,
                        "condition": cond,
                        "set_size": n,
                        "trial": t,
                        "n_saccades": 1,
                        "found": True,
                        "rt_ms": 600.0 + s * n + (t - 0.5),
                    }
                )
    return pd.DataFrame(rows)


def test_index_uses_human_hard_condition_and_clips_negative_slopes():
    sim = _synthetic(
        {
            (2, "top_down"): 0.0,
            (2, "left_right"): 30.0,
            (5, "homo_t20"): 20.0,
            (5, "homo_t0"): 5.0,
            (1, "curve_in_lines"): -3.0,
            (1, "line_in_curves"): -1.0,
        }
    )
    comp = vsa.compare(sim, vsa.reference().table)
    exp = comp.tables["experiments"].set_index("experiment")
    assert exp.loc[2, "model_index"] == pytest.approx(1.0)  # left_right is hard for humans
    assert exp.loc[5, "hard_condition"] == "homo_t0"
    assert exp.loc[5, "model_index"] == pytest.approx((5 - 20) / 25)  # backwards, like published eccNET
    assert exp.loc[1, "model_index"] == 0.0  # both slopes clipped to 0
    assert comp.metric("exp2_asymmetry_index").human == pytest.approx(0.7006, abs=1e-3)
    assert comp.metric("mean_asymmetry_index").value == pytest.approx(np.mean([1.0, -0.6, 0.0]))
    names = [c.name for c in comp.checks]
    assert sum("human direction" in n for n in names) == 3
    assert not [c for c in comp.checks if c.name.startswith("Exp 5")][0].passed
    assert "Exp 1" in comp.summary() or "exp1" in comp.summary()
    assert comp.with_context(data_kind="published_means").schema_problems() == []
    assert all(c.ci is not None for c in comp.checks)  # every check is a contrast with a bootstrap CI


def test_declared_resolutions_follow_the_item_sizes():
    ppd = vsa.declared_ppd()
    for e, p in zip(sorted(sd.EXPERIMENTS), ppd, strict=True):
        assert sd.EXPERIMENTS[e].item_deg * p >= vsa.MIN_ITEM_PX - 1e-6 or p == 30.0
    assert vsa.PRESETS["quick"].ppd == ppd


def test_published_numbers_reproduce_the_papers_means():
    pub = vsa.published()
    means = pub[pub["experiment"].astype(str) == "mean"].set_index("model")["model_asymmetry_index"]
    assert means["eccNET"] == pytest.approx(0.513, abs=1e-3)
    assert means["eccNET_noecc"] == pytest.approx(0.052, abs=1e-3)
    h = vsa.reference().table
    slopes = h.groupby(["experiment", "condition"])["human_slope_ms_per_item"].first()
    assert slopes[(1, "line_in_curves")] == pytest.approx(7.589, abs=1e-3)


def test_config_validation():
    with pytest.raises(CogsimError):
        cfglib.validate(vsa.Config(ablations=("nope",)))
    with pytest.raises(CogsimError):
        cfglib.validate(vsa.Config(ppd=(20.0, 30.0)))
    assert sd.ppd_of(sd.QUICK_PPD, 2) == 30.0


def test_end_to_end_tiny_run():
    cfg = tiny("visual_search_asymmetry")
    sim = vsa.simulate(cfg, key=jax.random.key(0))
    assert set(sim["model"]) == {"eccNET", "last_layer"}
    assert (sim["rt_ms"] >= 628.0).all()
    comp = vsa.compare(sim, vsa.reference().table)
    assert comp.key == "mean_asymmetry_index"
    assert {"experiments", "slopes", "indices", "ablations"} <= set(comp.tables)
    fig = vsa.plot(sim, vsa.reference().table)
    assert len(fig.axes) >= 2
    # same seed, same numbers
    sim2 = vsa.simulate(dataclasses.replace(cfg, ablations=()), key=jax.random.key(0))
    assert sim2["n_saccades"].tolist() == sim[sim.model == "eccNET"]["n_saccades"].tolist()
