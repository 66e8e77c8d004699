"""Knowledge-graph benchmark: the tensor brain's semantic memory vs PyKEEN TuckER and DistMult, side by side.

Graphs: UMLS (packaged with cogsim), Nations (the split shipped inside the PyKEEN package; nothing is
downloaded) and Hinton's family trees (generated: 20 held-out cases for test, 10 for validation). One run on
one machine, same files on both sides, filtered test ranking in both directions with realistic ties.

The tensor brain runs as a user runs ``kg_semantic_memory``: UMLS with the quick preset's settings, the other
two graphs as user folders, so their settings are chosen on the validation split by the scenario's search
(its CPU time is counted). Reported per graph: test MRR (with the bootstrap CI for the tensor brain), the
frequency baseline's MRR, training CPU time (process time, all threads: the fair clock on a shared machine)
and wall time, and the acceptance: MRR CI above the baseline; within 0.05 of TuckER's MRR where TuckER is
above 0.5, in at most TuckER's training CPU time.

Usage::

    python benchmarks/kg.py [--epochs 100] [--out benchmarks/results/kg_peers.json]
    python benchmarks/kg.py --refit   # + one training of the chosen settings, added to kg_peers.json

The peers need PyKEEN (pyproject's ``bench`` extra: ``pip install -e '.[bench]'``); without it the script
stops with a usage error, unless ``--no-peer --out FILE`` (outside ``benchmarks/results``) asks for the
tensor brain's numbers alone (the JSON says why the peers are missing, and Nations, which comes from the
PyKEEN package, is skipped). ``benchmarks/results/kg.json`` is an older record (PyKEEN RESCAL and DistMult on
UMLS, by this script as of commit 1d5e900) quoted by docs/scenarios/kg_semantic_memory.md; this version
writes ``kg_peers.json`` by default.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import BENCH_EXTRA, RESULTS, at_least, known, not_a_record, writable  # noqa: E402

from cogsim import config as cfglib  # noqa: E402
from cogsim import data, kg  # noqa: E402
from cogsim.scenarios import kg_semantic_memory as ksm  # noqa: E402
from cogsim.tasks import family_trees as ft  # noqa: E402

GRAPHS = ("umls", "nations", "family_trees")


def family_trees_folder(root: Path) -> Path:
    """Hinton's trees as a graph folder: 20 held-out cases for test, 10 for validation (seed 0)."""
    split = ft.split_cases(ft.facts(ft.hinton_trees()), n_test=20, n_valid=10, key=jax.random.key(0))
    folder = root / "family_trees"
    folder.mkdir(parents=True, exist_ok=True)
    for name, facts in split.items():
        (folder / f"{name}.txt").write_text("".join("\t".join(f) + "\n" for f in facts))
    return folder


def run_tensor_brain(graph: str, preset: str = "quick", seed: int = 0) -> dict:
    """Runs the scenario's simulate (search included for a folder) and reads its test rows."""
    cfg = cfglib.replace(ksm.PRESETS[preset], graph=graph)
    t0, c0 = time.perf_counter(), time.process_time()
    sim = ksm.simulate(cfg, key=jax.random.key(seed))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    def row(model, metric="mrr"):
        sel = sim[
            (sim.model == model) & (sim.split == "test") & (sim.direction == "both") & (sim.metric == metric)
        ]
        return sel.iloc[0]

    r = row("tensor_brain")
    rec = ksm.run_record(sim).get("settings_search")
    return {
        "model": "cogsim.tensor_brain",
        "mrr": float(r.value),
        "mrr_ci": [float(r.ci_low), float(r.ci_high)],
        **{k: float(row("tensor_brain", k).value) for k in ("hits@1", "hits@3", "hits@10")},
        "baseline_mrr": float(row("frequency_baseline").value),
        "train_cpu_s": cpu,
        "train_time_s": wall,
        "timing_note": "the whole simulate call: search with its validation evaluations, training, test",
        "settings": rec["chosen"] if rec else {k: getattr(cfg, k) for k in (*ksm.SEARCH_SPACE, "num_steps")},
        "settings_search": rec,
    }


def time_chosen_fit(graph: str, settings: dict, preset: str = "quick", seed: int = 0) -> dict:
    """Trains once with the chosen settings (no search, no evaluation) and times it: the training time of
    one model with fixed settings, as the PyKEEN peers are trained."""
    cfg = cfglib.replace(ksm.PRESETS[preset], graph=graph, select="off", **settings)
    g = kg.load(graph)
    cfg = cfglib.replace(cfg, eval_every=cfg.num_steps)
    t0, c0 = time.perf_counter(), time.process_time()
    ksm.fit(g, cfg, key=jax.random.key(seed))
    return {
        "fit_cpu_s": time.process_time() - c0,
        "fit_time_s": time.perf_counter() - t0,
        "settings": settings,
    }


def refit(path: Path) -> dict:
    """Adds to a results file, per graph, the training time of the tensor brain's chosen settings alone."""
    result = json.loads(path.read_text())
    tmp = Path(tempfile.mkdtemp(prefix="cogsim-kg-bench-"))
    folders = {"umls": "umls", "family_trees": str(family_trees_folder(tmp))}
    import kg_pykeen

    if kg_pykeen.available()[0]:
        folders["nations"] = str(kg_pykeen.nations_folder())
    for name, entry in result["graphs"].items():
        if "tensor_brain" not in entry or name not in folders:
            continue
        ours = entry["tensor_brain"]
        ours["chosen_fit"] = time_chosen_fit(folders[name], ours["settings"])
        tucker = entry["peers"].get("TuckER")
        if tucker is not None:
            entry["acceptance"]["chosen_fit_cpu_over_tucker"] = (
                ours["chosen_fit"]["fit_cpu_s"] / tucker["train_cpu_s"]
            )
        print(name, json.dumps(ours["chosen_fit"]), flush=True)
        path.write_text(json.dumps(result, indent=2, default=float) + "\n")
    return result


def acceptance(ours: dict, tucker: dict | None) -> dict:
    out = {"beats_baseline": bool(ours["mrr_ci"][0] > ours["baseline_mrr"])}
    if tucker is not None:
        out["tucker_above_0.5"] = bool(tucker["mrr"] > 0.5)
        out["within_0.05_of_tucker"] = (
            bool(ours["mrr"] >= tucker["mrr"] - 0.05) if tucker["mrr"] > 0.5 else None
        )
        out["cpu_time_over_tucker"] = ours["train_cpu_s"] / tucker["train_cpu_s"]
        out["in_at_most_tucker_time"] = bool(ours["train_cpu_s"] <= tucker["train_cpu_s"])
        out["mrr_minus_tucker"] = ours["mrr"] - tucker["mrr"]
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=100, help="PyKEEN training epochs")
    ap.add_argument("--dim", type=int, default=64, help="PyKEEN embedding size")
    ap.add_argument("--graphs", default=",".join(GRAPHS), help=f"comma-separated, of {', '.join(GRAPHS)}")
    ap.add_argument("--out", default=None, help="result file (default benchmarks/results/kg_peers.json)")
    ap.add_argument(
        "--no-peer",
        action="store_true",
        help="run without PyKEEN (the tensor brain alone); needs --out outside benchmarks/results",
    )
    ap.add_argument(
        "--refit",
        action="store_true",
        help="instead of the benchmark: time one training with each graph's chosen settings, added to --out",
    )
    args = ap.parse_args(argv)
    graphs = args.graphs.split(",")
    known(ap, "--graphs", graphs, GRAPHS)
    at_least(ap, epochs=args.epochs, dim=args.dim)
    if args.refit:
        return refit(writable(ap, args.out or RESULTS / "kg_peers.json"))

    import kg_pykeen

    ok, why = kg_pykeen.available()
    if args.no_peer:
        args.out = not_a_record(ap, args.out, "--no-peer")
    elif not ok:
        ap.error(f"needs PyKEEN for the peers ({why}): the bench extra, {BENCH_EXTRA} (or --no-peer --out F)")
    else:
        args.out = writable(ap, args.out or RESULTS / "kg_peers.json")
    result: dict = {
        "benchmark": "filtered link prediction, tensor brain vs PyKEEN TuckER and DistMult, one run",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "jax": jax.__version__,
            "jax_backend": jax.default_backend(),
        },
        "acceptance": "MRR CI above the frequency baseline; within 0.05 of TuckER where TuckER > 0.5, "
        "in at most TuckER's training CPU time",
        "graphs": {},
    }
    if ok and not args.no_peer:
        import pykeen.version
        import torch

        result["machine"].update({"torch": torch.__version__, "pykeen": pykeen.version.get_version()})
    else:
        result["pykeen_unavailable"] = why if not ok else "--no-peer"
        ok = False
    tmp = Path(tempfile.mkdtemp(prefix="cogsim-kg-bench-"))
    folders = {"umls": data.folder("umls"), "family_trees": family_trees_folder(tmp)}
    if ok:
        folders["nations"] = kg_pykeen.nations_folder()
    for name in graphs:
        if name not in folders:
            result["graphs"][name] = {"skipped": "needs the PyKEEN package (Nations ships inside it)"}
            continue
        entry: dict = {"peers": {}}
        if ok:
            for model in ("TuckER", "DistMult"):
                print(f"{name}: pykeen {model} ...", flush=True)
                entry["peers"][model] = kg_pykeen.run(
                    model,
                    folder=folders[name],
                    embedding_dim=args.dim,
                    num_epochs=args.epochs,
                    regularizer_weight=None if model == "TuckER" else 0.0,  # TuckER: its own dropout
                    threads=1,  # one torch thread: CPU time without idle spinning of a second thread
                )
                print(
                    json.dumps({k: v for k, v in entry["peers"][model].items() if k != "curve"}), flush=True
                )
        print(f"{name}: tensor brain ...", flush=True)
        entry["tensor_brain"] = run_tensor_brain("umls" if name == "umls" else str(folders[name]))
        print(
            json.dumps({k: v for k, v in entry["tensor_brain"].items() if k != "settings_search"}), flush=True
        )
        entry["acceptance"] = acceptance(entry["tensor_brain"], entry["peers"].get("TuckER"))
        print(json.dumps(entry["acceptance"]), flush=True)
        result["graphs"][name] = entry
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    return result


if __name__ == "__main__":
    main()
