"""The memory estimates (``memory_bytes``, ``sweep_point_bytes``) against the measured peak resident memory.

Each stage runs at a small and a larger size, each in a fresh process; the peak resident set size
(``ru_maxrss``) it adds over the process's peak before the stage is its measured need. The ratio of the
increments between the two sizes (measured / estimated) cancels what does not grow with the size (imports,
compilation, the data); the ratio at the larger size alone is shown beside it.

Run: ``python benchmarks/memory_estimates.py [--out FILE]`` (a few minutes on two cores; writes by default
``benchmarks/results/memory_estimates.csv``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
from pathlib import Path

# (stage, field, small size, large size)
STAGES = (
    ("iconic_memory.simulate", "n_trials", 20_000, 200_000),
    ("iconic_memory.fit", "n_fit_trials", 20, 200),
    ("attentional_blink.simulate", "trials", 500, 5_000),
    ("change_detection.bootstrap", "n_boot", 10_000, 100_000),
    ("change_detection.sweep_chunk", "chunk_size", 20_000, 200_000),
)


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _child(stage: str, size: int) -> dict:
    import jax
    import numpy as np

    key = jax.random.key(0)
    if stage.startswith("iconic_memory"):
        from cogsim.scenarios import iconic_memory as m

        if stage.endswith("simulate"):
            cfg = dataclasses.replace(
                m.PRESETS["quick"], n_trials=size, n_fit_trials=1, tau_grid=(0.1,), k_grid=(4.0,)
            )
            est = m.memory_bytes(cfg)["n_trials"]
            m.human_points()
            before = _peak()
            m.simulate(cfg, key=key)
        else:
            cfg = dataclasses.replace(m.PRESETS["quick"], n_fit_trials=size)
            est = m.memory_bytes(cfg)["n_fit_trials"]
            m.human_points()
            before = _peak()
            m.prediction_grid(cfg, key=key)
    elif stage.startswith("attentional_blink"):
        from cogsim.scenarios import attentional_blink as m

        cfg = dataclasses.replace(m.PRESETS["quick"], trials=size)
        est = m.memory_bytes(cfg)["trials"]
        before = _peak()
        m.simulate(cfg, key=key)
    elif stage == "change_detection.bootstrap":
        from cogsim.models import capacity
        from cogsim.scenarios import change_detection as m

        cfg = dataclasses.replace(m.PRESETS["quick"], n_boot=size)
        est = m.memory_bytes(cfg)["n_boot"]
        counts = m._counts_cached(cfg.data)
        before = _peak()
        jax.block_until_ready(capacity.bootstrap(counts, key=key, n_boot=size, steps=50))
    else:
        from cogsim.scenarios import change_detection as m
        from cogsim.sweep.evaluate import _compiled

        cfg = m.PRESETS["quick"]
        est = size * m.sweep_point_bytes(cfg)
        m._counts_cached(cfg.data)
        fn = _compiled(m, cfg, ("sim_K",), 0)
        before = _peak()
        seeds = np.arange(size, dtype=np.uint32)
        jax.block_until_ready(fn(seeds, {"sim_K": np.full(size, 3.0, np.float32)}))
    return {"stage": stage, "size": size, "estimate": int(est), "measured": _peak() - before}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent / "results" / "memory_estimates.csv"
    ap.add_argument("--out", default=str(default), help="result file (CSV)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import child_output, writable

    path = writable(ap, ap.parse_args(argv).out)
    rows = []
    for stage, field, small, large in STAGES:
        got = []
        for size in (small, large):
            out = child_output([sys.executable, __file__, "--child", stage, str(size)])
            got.append(json.loads(out.strip().splitlines()[-1]))
        a, b = got
        inc = (b["measured"] - a["measured"]) / (b["estimate"] - a["estimate"])
        rows.append(
            {
                "stage": stage,
                "field": field,
                "sizes": f"{small} -> {large}",
                "estimate_mib": round(b["estimate"] / 2**20, 1),
                "measured_mib": round(b["measured"] / 2**20, 1),
                "ratio_at_large": round(b["measured"] / b["estimate"], 2),
                "ratio_of_increments": round(inc, 2),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    print(f"-> {path}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
