"""The search models' RT sampler: one gamma variate per trial (the gamma-sum identity) against the
item-by-item sampler it replaced (``MAX_ITEMS`` item times per trial, the first ``n_items`` kept,
plus the residual).

Usage::

    python benchmarks/search_sample_rt.py [--trials 100000] [--repeats 5]

Both samplers jitted, in one process: (a) the distributional check of docs/fitting_log.md ("Visual-search
simulation by the gamma-sum identity: protocol"): 20,000 draws per sampler and setting, independent keys,
the two-sample KS p-value and each sampler's mean and variance in standard errors from the analytic ones;
(b) CPU (``time.process_time``) and wall seconds per ``--trials`` trials with ``n_items`` uniform on 0..18,
after a warm-up call, median of ``--repeats`` calls each. Writes ``benchmarks/results/search_sample_rt.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from cogsim.models.search._timing import CONTAMINANT, MAX_ITEMS, RT_MAX_S, sample_rt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, writable  # noqa: E402

HERE = Path(__file__).resolve().parent
# (n_items, k_item, k_res, scale_s); n_items None: uniform on 0..MAX_ITEMS per trial (as in the test)
SETTINGS = [(0, 2.0, 8.0, 0.02), (6, 2.0, 8.0, 0.02), (32, 2.0, 8.0, 0.02), (12, 0.5, 3.0, 0.05),
            (0, 1.0, 3.5, 0.1), (None, 2.0, 8.0, 0.02)]  # fmt: skip


def item_by_item(n_items, k_item, k_res, t0_s, scale_s, *, key):
    """The sampler before the identity, as it was in ``models/search/_timing.py``."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    shape = n_items.shape
    items = jax.random.gamma(k1, k_item, (*shape, MAX_ITEMS)) * scale_s
    items = jnp.where(jnp.arange(MAX_ITEMS) < n_items[..., None], items, 0.0).sum(-1)
    rt = t0_s + jax.random.gamma(k2, k_res, shape) * scale_s + items
    cont = jax.random.uniform(k3, shape) < CONTAMINANT
    rt = jnp.where(cont, jax.random.uniform(k4, shape, maxval=RT_MAX_S), rt)
    return rt, cont


def distribution(m: int = 20_000, t0: float = 0.25) -> list[dict]:
    """KS p-value and moments in standard errors, per setting (the protocol's rule)."""
    old_j, new_j = jax.jit(item_by_item), jax.jit(sample_rt)
    rows = []
    for n_fix, k_item, k_res, scale in SETTINGS:
        if n_fix is None:
            n = jax.random.randint(jax.random.key(7), (m,), 0, MAX_ITEMS + 1)
        else:
            n = jnp.full((m,), n_fix, jnp.int32)
        old = old_j(n, k_item, k_res, t0, scale, key=jax.random.key(11))
        new = new_j(n, k_item, k_res, t0, scale, key=jax.random.key(12))
        row = {"n_items": n_fix, "k_item": k_item, "k_res": k_res, "scale_s": scale}
        row["ks_p"] = float(stats.ks_2samp(np.asarray(old[0]), np.asarray(new[0])).pvalue)
        a = k_res + np.asarray(n, np.float64) * k_item
        mean_i, var_i = t0 + scale * a, scale**2 * a
        for name, (rt, cont) in (("old", old), ("new", new)):
            keep = ~np.asarray(cont)
            x = np.asarray(rt, np.float64)[keep]
            mu, var = mean_i[keep].mean(), var_i[keep].mean() + mean_i[keep].var()
            row[f"{name}_mean_z"] = float((x.mean() - mu) / np.sqrt(var / x.size))
            if n_fix is not None:
                row[f"{name}_var_z"] = float((x.var(ddof=1) - var) / (var * np.sqrt((2 + 6 / a[0]) / x.size)))
        z = [abs(v) for k, v in row.items() if k.endswith("_z")]
        row["accepted"] = bool(row["ks_p"] > 0.001 and max(z) < 4)
        rows.append(row)
    return rows


def speed(trials: int, repeats: int) -> dict:
    """Median CPU and wall seconds per call, both samplers, same process, alternating."""
    n = jax.random.randint(jax.random.key(0), (trials,), 0, 19)
    fns = {"item_by_item": jax.jit(item_by_item), "gamma_sum": jax.jit(sample_rt)}
    times = {k: {"cpu_s": [], "wall_s": []} for k in fns}
    for f in fns.values():
        f(n, 2.0, 8.0, 0.25, 0.02, key=jax.random.key(0))[0].block_until_ready()
    for r in range(repeats):
        for k, f in fns.items():
            c, w = time.process_time(), time.perf_counter()
            f(n, 2.0, 8.0, 0.25, 0.02, key=jax.random.key(1 + r))[0].block_until_ready()
            times[k]["cpu_s"].append(time.process_time() - c)
            times[k]["wall_s"].append(time.perf_counter() - w)
    out = {k: {m: float(np.median(v)) for m, v in d.items()} for k, d in times.items()}
    out["ratio_cpu"] = out["item_by_item"]["cpu_s"] / out["gamma_sum"]["cpu_s"]
    out["ratio_wall"] = out["item_by_item"]["wall_s"] / out["gamma_sum"]["wall_s"]
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(HERE / "results" / "search_sample_rt.json"))
    args = ap.parse_args(argv)
    at_least(ap, trials=args.trials, repeats=args.repeats)
    writable(ap, args.out)
    res = {
        "when": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "load_before": os.getloadavg(),
        "distribution": distribution(),
        "speed": {"trials": args.trials, **speed(args.trials, args.repeats)},
    }
    res["load_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
