"""Training speed of the induction-head toy network: cogsim vs a plain PyTorch eager peer, and vmapped seeds.

Two measurements, side by side in one run on one machine:

1. Steps/s of one training run (batch 128, fresh batch every step, SGD): cogsim (``cogsim.train.run_steps``,
   a jitted ``lax.scan``) against ``benchmarks/peers/induction_torch.py`` (eager PyTorch, the same network,
   data and update). Two sizes: the paper's token dimension 128 (D = 63, N_max = 32, N = 8) and the small
   network of the quick presets (token dimension 24). PyTorch runs with 1 thread and with its default
   thread count; the faster is compared. Target: ratio >= 3. On a GPU (``--torch-device cuda``, the default
   when jax runs on a GPU and torch sees one) both run on it.
2. Throughput of 8 seeds trained at once under ``jax.vmap`` against the same 8 runs one after another
   (the same jitted function; network-steps per second). Target: ratio >= 4.

3. A profile of cogsim's step: data generation alone and the network update alone (on a fixed batch), the
   update's FLOPs from XLA's cost analysis and the rate reached, next to a 2048^3 matmul's rate (the
   machine's practical matmul peak for XLA; PyTorch's one-thread matmul rate is stored with the peer), and
   the rate the update alone would need for each target (``update_gflop_per_s_for_target``; data
   generation left out, so a lower bound): a target that needs more than the large matmul's rate cannot be
   met on that device by any implementation of the same arithmetic.

Compile time is measured separately and excluded from the rates. Every rate is the fastest of three timed
runs (the vmapped and sequential runs interleaved), which on a shared machine is the least disturbed one.
Results go to ``benchmarks/results/induction_training.json``.

Run: ``.venv/bin/python benchmarks/induction_training.py [--steps 100] [--torch-device cpu]``
(torch CPU: ``.venv/bin/pip install torch==2.13.0``, or the bench extra; without PyTorch the script stops
unless ``--no-peer``); ``--quick`` (a smoke run) and ``--no-peer`` need ``--out`` outside
``benchmarks/results``. ``benchmarks/gpu_check.sh`` runs it on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, at_least, needs, not_a_record, writable  # noqa: E402
from _timing import fastest  # noqa: E402

from cogsim import train  # noqa: E402
from cogsim.models import induction as ind  # noqa: E402
from cogsim.tasks import reddy_sequences as rs  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGETS = {"single": 3.0, "vmap": 4.0}  # cogsim over eager PyTorch; 8 vmapped seeds over 8 sequential runs
SIZES = {
    "paper_d128": dict(K=512, L=32, N=8, D=63, N_max=32, B=2),
    "quick_d24": dict(K=1024, L=16, N=4, D=15, N_max=4, B=1),
}


def _cogsim_runner(task: rs.TaskConfig, batch: int, steps: int, *, lr: float = 0.01):
    net = ind.NetConfig()
    opt = ind.optimizer(ind.TrainConfig(lr=lr))

    def one(key):
        world = rs.make_world(jax.random.fold_in(key, 0), task)
        params = ind.init_params(jax.random.fold_in(key, 1), task, net)
        update = train.make_update(
            ind.make_loss_fn(task, net), opt, batch_fn=lambda k, s: rs.sample_batch(k, world, task, batch)
        )
        state, m = train.run_steps(update, train.init(params, opt), jax.random.fold_in(key, 2), steps)
        return state.params, m["loss"]

    return one


def torch_device(choice: str) -> str:
    """``cpu`` or ``cuda``: ``auto`` is ``cuda`` when jax runs on a GPU and torch sees one."""
    if choice != "auto":
        return choice
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def bench_single(name: str, steps: int, batch: int, device: str = "cpu", peer: bool = True) -> dict:
    task = rs.TaskConfig(**SIZES[name])
    one = jax.jit(_cogsim_runner(task, batch, steps))
    key = jax.random.key(0)
    t0 = time.perf_counter()
    jax.block_until_ready(one(key))
    compile_s = time.perf_counter() - t0
    cog = fastest(one, key)
    row = {
        "size": name,
        "token_dim": task.token_dim,
        "batch": batch,
        "steps": steps,
        "cogsim_steps_per_s": steps / cog,
        "cogsim_compile_s": compile_s,
    }
    try:
        if not peer:
            raise ImportError("--no-peer")
        import torch
    except ImportError as e:
        row["torch_steps_per_s"] = None
        row["ratio"] = None
        row["note"] = f"no PyTorch peer: {e}"
        return row
    sys.path.insert(0, str(HERE / "peers"))
    import induction_torch

    # eager PyTorch is run with 1 thread and with its default thread count; the faster one is the peer's
    # number (OpenMP threads spin-wait, which collapses on an oversubscribed machine); on a GPU, once
    default_threads = torch.get_num_threads()
    per_threads = {}
    for threads in sorted({1, default_threads}) if device == "cpu" else [default_threads]:
        torch.set_num_threads(threads)
        _, _, step = induction_torch.make(0, **SIZES[name], device=device)
        for _ in range(5):
            step(batch)
        best = float("inf")
        for _ in range(3):  # fastest of three timed runs, as for cogsim
            t = time.perf_counter()
            for _ in range(steps):
                loss = step(batch)
            float(loss)  # waits for the device
            best = min(best, time.perf_counter() - t)
        per_threads[str(threads)] = steps / best
    torch.set_num_threads(1)
    a = torch.ones(2048, 2048) * 1e-3
    a @ a
    t = time.perf_counter()
    for _ in range(5):
        a @ a
    torch_mm = 2 * 2048**3 * 5 / (time.perf_counter() - t) / 1e9
    torch.set_num_threads(default_threads)
    best = max(per_threads.values())
    row.update(
        {
            "torch_device": device,
            "torch_steps_per_s": best,
            "torch_steps_per_s_by_threads": per_threads,
            "ratio": (steps / cog) / best,
            "torch_matmul_2048_gflop_per_s_1_thread": torch_mm,
            "torch_version": torch.__version__,
        }
    )
    return row


def bench_profile(name: str, steps: int, batch: int) -> dict:
    """Where a cogsim step's time goes: data generation alone vs the network update alone (fixed batch),
    the update's FLOPs (XLA cost analysis) and the matmul rate reached, next to a large matmul's rate."""
    import jax.numpy as jnp

    task = rs.TaskConfig(**SIZES[name])
    net = ind.NetConfig()
    opt = ind.optimizer(ind.TrainConfig())
    world = rs.make_world(jax.random.key(0), task)
    params = ind.init_params(jax.random.key(1), task, net)
    fixed = rs.sample_batch(jax.random.key(2), world, task, batch)

    @jax.jit
    def data_only(key):
        def body(c, t):
            b = rs.sample_batch(jax.random.fold_in(key, t), world, task, batch)
            return c + b["tokens"].sum() + b["target"].sum(), None

        return jax.lax.scan(body, 0.0, jnp.arange(steps))[0]

    @jax.jit
    def update_only(key, b):
        update = train.make_update(ind.make_loss_fn(task, net), opt, batch_fn=lambda k, s: b)
        return train.run_steps(update, train.init(params, opt), key, steps)[0].params

    grad = jax.jit(jax.grad(lambda p, b: ind.make_loss_fn(task, net)(p, b, None)[0]))
    cost = grad.lower(params, fixed).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    flops = float(cost.get("flops", float("nan")))
    key = jax.random.key(3)
    t_data = fastest(data_only, key) / steps
    t_upd = fastest(update_only, key, fixed) / steps
    m = 2048
    a = jnp.ones((m, m), jnp.float32) * 1e-3
    mm = jax.jit(lambda x: jax.lax.fori_loop(0, 5, lambda i, y: (y @ x) * 0.5 + x, x))
    t_mm = fastest(mm, a) / 5
    return {
        "size": name,
        "data_ms_per_step": 1e3 * t_data,
        "update_ms_per_step": 1e3 * t_upd,
        "update_gflop_per_step": flops / 1e9,
        "update_gflop_per_s": flops / t_upd / 1e9,
        "jax_matmul_2048_gflop_per_s": 2 * m**3 / t_mm / 1e9,
    }


def bench_vmap(name: str, steps: int, batch: int, n_seeds: int = 8) -> dict:
    task = rs.TaskConfig(**SIZES[name])
    one = jax.jit(_cogsim_runner(task, batch, steps))
    many = jax.jit(jax.vmap(_cogsim_runner(task, batch, steps)))
    keys = jax.random.split(jax.random.key(0), n_seeds)

    def sequential():
        return [one(k) for k in keys]

    jax.block_until_ready((sequential(), many(keys)))  # compile both
    seq = vm = float("inf")
    for _ in range(3):  # interleaved, so that both see the same machine load; fastest of each
        seq = min(seq, fastest(lambda: sequential(), repeats=1))
        vm = min(vm, fastest(many, keys, repeats=1))
    return {
        "size": name,
        "n_seeds": n_seeds,
        "steps": steps,
        "batch": batch,
        "sequential_network_steps_per_s": n_seeds * steps / seq,
        "vmapped_network_steps_per_s": n_seeds * steps / vm,
        "ratio": seq / vm,
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    ap.add_argument(
        "--out", default=None, help="result file (default results/induction_training.json; --quick: required)"
    )
    ap.add_argument(
        "--no-peer", action="store_true", help="run without PyTorch (no ratio); needs --out outside results/"
    )
    ap.add_argument("--note", default="", help="the conditions of the run (machine load, ...), stored as is")
    ap.add_argument(
        "--torch-device", default="auto", choices=("auto", "cpu", "cuda"), help="the peer's device"
    )
    args = ap.parse_args(argv)
    at_least(ap, steps=args.steps, batch=args.batch)
    if args.quick or args.no_peer:
        out = not_a_record(ap, args.out, "--quick" if args.quick else "--no-peer")
    else:
        out = writable(ap, args.out or RESULTS / "induction_training.json")
    if not args.no_peer:
        needs(ap, "torch", "the PyTorch peer", no_peer="--no-peer")
    device = torch_device(args.torch_device)
    steps = 20 if args.quick else args.steps
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    partial = out.with_suffix(".partial.json")  # what is done, should the run be stopped
    single, vmap, prof = [], [], []
    for rows, fn in ((single, lambda n: bench_single(n, steps, args.batch, device, not args.no_peer)),
                     (vmap, lambda n: bench_vmap(n, steps, args.batch)),
                     (prof, lambda n: bench_profile(n, steps, args.batch))):  # fmt: skip
        for n in SIZES:
            rows.append(fn(n))
            print(json.dumps(rows[-1]), flush=True)
            partial.write_text(json.dumps({"single_run_vs_torch": single, "vmap": vmap, "profile": prof}))
    # the arithmetic rate each target would need from the update alone (data generation left out, so a
    # lower bound), next to the large matmul's rate: a target above that rate cannot be met on this device
    for r in single:
        p = next(x for x in prof if x["size"] == r["size"])
        if r["torch_steps_per_s"]:
            r["update_gflop_per_s_for_target"] = (
                TARGETS["single"] * r["torch_steps_per_s"] * p["update_gflop_per_step"]
            )
    for r in vmap:
        p = next(x for x in prof if x["size"] == r["size"])
        r["update_gflop_per_s_for_target"] = (
            TARGETS["vmap"] * r["sequential_network_steps_per_s"] * p["update_gflop_per_step"]
        )
    res = {
        "benchmark": "induction_training",
        "device": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "jax": jax.__version__,
        "load_average_at_start": load,
        "single_run_vs_torch": single,
        "vmap_8_seeds_vs_sequential": vmap,
        "profile": prof,
        "targets": {"single_run_vs_torch": TARGETS["single"], "vmap_8_seeds_vs_sequential": TARGETS["vmap"]},
        "load_average_at_end": os.getloadavg() if load is not None else None,
        "conditions": args.note,
    }
    out.write_text(json.dumps(res, indent=2))
    partial.unlink(missing_ok=True)
    for r in single:
        print(
            f"{r['size']:>12}: cogsim {r['cogsim_steps_per_s']:.1f} steps/s, torch "
            f"{r['torch_steps_per_s'] or float('nan'):.1f} steps/s, ratio {r['ratio'] or float('nan'):.2f}"
        )
    for r in vmap:
        print(
            f"{r['size']:>12}: 8 seeds vmapped {r['vmapped_network_steps_per_s']:.1f} vs sequential "
            f"{r['sequential_network_steps_per_s']:.1f} network-steps/s, ratio {r['ratio']:.2f}"
        )
    for r in prof:
        print(
            f"{r['size']:>12}: data {r['data_ms_per_step']:.2f} ms/step, "
            f"update {r['update_ms_per_step']:.2f} "
            f"ms/step ({r['update_gflop_per_step']:.3f} GFLOP, {r['update_gflop_per_s']:.1f} GFLOP/s; "
            f"2048^3 matmul {r['jax_matmul_2048_gflop_per_s']:.1f} GFLOP/s)"
        )
    for name, rows in (("vs torch", single), ("vmapped", vmap)):
        for r in rows:
            if "update_gflop_per_s_for_target" in r:
                print(
                    f"{r['size']:>12}: the {name} target needs the update alone at "
                    f"{r['update_gflop_per_s_for_target']:.1f} GFLOP/s"
                )
    return res


if __name__ == "__main__":
    main()
