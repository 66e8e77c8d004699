"""Simulated trial files in the paradigms' schemas (cogsim's own models, fixed seeds): not human data.

Used by the tests of user-supplied files (tests/fit/test_schema_variants.py,
tests/scenarios/test_user_data_files.py): any set sizes, ids and number of participants.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from cogsim.models import search
from cogsim.models import working_memory as wm


def delayed_estimation(set_sizes=(1, 3, 7, 12), n_per=40, n_sub=3, *, nontargets=False, seed=0):
    """``subject, set_size, error_rad`` (and ``nontarget_{i}_rad``, blank beyond ``set_size - 1``) from
    mixture3p (p_mem 0.8, p_swap 0.1, sd 0.4 rad); ``n_per`` trials per set size (or a count for each)."""
    model = wm.DELAYED_ESTIMATION["mixture3p"]
    params = {"p_mem": jnp.float32(0.8), "p_swap": jnp.float32(0.1), "sd_rad": jnp.float32(0.4)}
    counts = np.broadcast_to(n_per, (len(set_sizes),))
    width = max(max(set_sizes) - 1, 1)
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_sub):
        n = np.repeat(set_sizes, counts)
        nt = rng.uniform(-np.pi, np.pi, (len(n), width))
        nt = np.where(np.arange(width)[None] < n[:, None] - 1, nt, np.nan)
        out = model.simulate(
            params,
            {"set_size": jnp.asarray(n), "nontargets": jnp.asarray(nt, jnp.float32)},
            key=jax.random.fold_in(jax.random.key(seed), s),
        )
        d = pd.DataFrame({"subject": s + 1, "set_size": n, "error_rad": np.asarray(out["error_rad"], float)})
        if nontargets:
            for j in range(max(set_sizes) - 1):
                d[f"nontarget_{j + 1}_rad"] = nt[:, j]
        frames.append(d)
    return pd.concat(frames, ignore_index=True)


def _binary_design(model, params, design, set_sizes, n_per, n_sub, seed, outputs):
    """Participants ``1..n_sub`` with ``n_per`` trials per set size, the binary ``design`` column
    alternating 0/1, and the model's simulated ``outputs`` (column: dtype)."""
    frames = []
    for s in range(n_sub):
        n = np.repeat(set_sizes, n_per)
        flag = np.arange(len(n)) % 2
        out = model.simulate(
            params,
            {"set_size": jnp.asarray(n), design: jnp.asarray(flag)},
            key=jax.random.fold_in(jax.random.key(seed), s),
        )
        cols = {c: np.asarray(out[c], t) for c, t in outputs.items()}
        frames.append(pd.DataFrame({"subject": s + 1, "set_size": n, design: flag, **cols}))
    return pd.concat(frames, ignore_index=True)


def change_detection(set_sizes=(3, 6, 10), n_per=60, n_sub=3, *, seed=0):
    """``subject, set_size, change, correct`` from fixed_capacity (K 3, a 0.95, g 0.5), half change trials."""
    model = wm.CHANGE_DETECTION["fixed_capacity"]
    params = {"K": jnp.float32(3.0), "a": jnp.float32(0.95), "g": jnp.float32(0.5)}
    return _binary_design(model, params, "change", set_sizes, n_per, n_sub, seed, {"correct": int})


def visual_search(set_sizes=(5, 10, 20), n_per=40, n_sub=2, *, seed=0):
    """``subject, set_size, target_present, correct, rt_ms`` from the serial self-terminating model."""
    model = search.MODELS["serial"]
    values = {"p_miss": 0.05, "p_fa": 0.02, "t0_s": 0.35, "scale_s": 0.05, "k_item": 3.0, "k_res": 4.0}
    params = {k: jnp.float32(v) for k, v in values.items()}
    outputs = {"correct": int, "rt_ms": float}
    return _binary_design(model, params, "target_present", set_sizes, n_per, n_sub, seed, outputs)
