"""Knowledge-graph benchmark: the tensor brain's semantic memory vs PyKEEN RESCAL and DistMult on UMLS.

One run on one machine, same embedding size, same split (the packaged UMLS files), filtered test ranking in
both directions with realistic tie handling on both sides. Reports:

- each model's final filtered test MRR and Hits@k and its training time;
- the tensor brain's training time to reach PyKEEN RESCAL's final test MRR (checkpoints every
  ``--eval-every`` steps; evaluation time excluded, compilation included);
- times as CPU time of the process (all threads), the fair clock on a shared machine, and as wall time;
- the ratios against the targets: MRR >= RESCAL's, time-to-reach <= 0.5 x RESCAL's training time.

Usage::

    python benchmarks/kg.py [--dim 64] [--steps 8000] [--epochs 100] [--out benchmarks/results/kg.json]

PyKEEN is optional (``pip install torch==2.13.0 pykeen``); without it the JSON says why and holds only the
tensor brain's numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

from cogsim import kg  # noqa: E402
from cogsim.scenarios import kg_semantic_memory as ksm  # noqa: E402


def run_tensor_brain(dim: int, steps: int, eval_every: int, seed: int = 0) -> dict:
    """Trains the semantic memory with test evaluations at checkpoints; returns curve and final metrics."""
    graph = kg.load("umls")
    cfg = ksm.Config(dim=dim, num_steps=steps, eval_every=eval_every)
    curve = []
    clock = {"train": 0.0, "cpu": 0.0, "last": time.perf_counter(), "last_cpu": time.process_time()}

    def on_log(step, params, row):
        clock["train"] += time.perf_counter() - clock["last"]
        clock["cpu"] += time.process_time() - clock["last_cpu"]
        r = kg.evaluate_link_prediction(ksm.scorer(params, ksm.model_config(graph, cfg)), graph, split="test")
        curve.append(
            {"step": step, "train_time_s": clock["train"], "train_cpu_s": clock["cpu"], **r.metrics["both"]}
        )
        clock["last"], clock["last_cpu"] = time.perf_counter(), time.process_time()
        return None

    t0 = time.perf_counter()
    ksm.fit(graph, cfg, key=jax.random.key(seed), on_log=on_log)
    wall = time.perf_counter() - t0
    final = curve[-1]
    return {
        "model": "cogsim.tensor_brain",
        "train_time_s": final["train_time_s"],
        "train_cpu_s": final["train_cpu_s"],
        "wall_with_eval_s": wall,
        "mrr": final["mrr"],
        "hits@1": final["hits@1"],
        "hits@3": final["hits@3"],
        "hits@10": final["hits@10"],
        "settings": {
            "embedding_dim": dim,
            "wm_dim": cfg.wm_dim,
            "num_steps": steps,
            "batch_size": cfg.batch_size,
            "lr": cfg.lr,
            "eval_every": eval_every,
            "objective": "max. likelihood of P(s)P(o|s)P(p|s,o)",
        },
        "curve": curve,
    }


def time_to_reach(curve: list[dict], target: float, *, clock: str = "train_cpu_s") -> float | None:
    """Training time (``clock``) of the first checkpoint whose test MRR >= ``target`` (None if never)."""
    for c in curve:
        if c["mrr"] >= target:
            return c[clock]
    return None


def summarise(ours: dict, peers: dict) -> dict:
    """Ratios against PyKEEN RESCAL (and DistMult) and whether the targets are met.

    Times are compared as process CPU time (all threads), the fair clock on a shared machine; the wall-time
    ratios are reported too.
    """
    if "RESCAL" not in peers:
        return {}
    rescal = peers["RESCAL"]
    ttr = time_to_reach(ours["curve"], rescal["mrr"], clock="train_cpu_s")
    ttr_wall = time_to_reach(ours["curve"], rescal["mrr"], clock="train_time_s")
    ratios = {
        "mrr_tensor_brain_over_rescal": ours["mrr"] / rescal["mrr"],
        "time_to_rescal_mrr_over_rescal_time": None if ttr is None else ttr / rescal["train_cpu_s"],
        "time_to_rescal_mrr_over_rescal_time_wall": None
        if ttr_wall is None
        else ttr_wall / rescal["train_time_s"],
        "tensor_brain_cpu_s_to_rescal_mrr": ttr,
        "rescal_train_cpu_s": rescal["train_cpu_s"],
        "train_cpu_tensor_brain_over_rescal": ours["train_cpu_s"] / rescal["train_cpu_s"],
    }
    if "DistMult" in peers:
        dm = peers["DistMult"]
        ratios["mrr_tensor_brain_over_distmult"] = ours["mrr"] / dm["mrr"]
        ratios["train_cpu_tensor_brain_over_distmult"] = ours["train_cpu_s"] / dm["train_cpu_s"]
    met = {
        "mrr": bool(ratios["mrr_tensor_brain_over_rescal"] >= 1.0),
        "time": bool(ttr is not None and ratios["time_to_rescal_mrr_over_rescal_time"] <= 0.5),
    }
    return {"ratios": ratios, "targets_met": met}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--epochs", type=int, default=100, help="PyKEEN training epochs")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "kg.json"))
    args = ap.parse_args(argv)

    import kg_pykeen

    result: dict = {
        "benchmark": "UMLS filtered link prediction, tensor brain vs PyKEEN (one run, same machine)",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "jax": jax.__version__,
            "jax_backend": jax.default_backend(),
            "note": "shared 2-core CPU; absolute times are inflated by other load, ratios are the result",
        },
        "targets": {"mrr_vs_rescal": ">= 1.0", "time_to_rescal_mrr_vs_rescal_time": "<= 0.5"},
    }
    peers = {}
    ok, why = kg_pykeen.available()
    if ok:
        import pykeen.version
        import torch

        result["machine"].update({"torch": torch.__version__, "pykeen": pykeen.version.get_version()})
        for name in ("RESCAL", "DistMult"):
            print(f"pykeen {name} ...", flush=True)
            peers[name] = kg_pykeen.run(name, embedding_dim=args.dim, num_epochs=args.epochs)
            print(json.dumps({k: v for k, v in peers[name].items() if k != "settings"}), flush=True)
    else:
        result["pykeen_unavailable"] = why
    print("tensor brain ...", flush=True)
    ours = run_tensor_brain(args.dim, args.steps, args.eval_every)
    print(json.dumps({k: v for k, v in ours.items() if k not in ("curve", "settings")}), flush=True)
    result["tensor_brain"] = ours
    result["peers"] = peers
    result.update(summarise(ours, peers))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps(result.get("ratios", {}), indent=2))
    return result


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
