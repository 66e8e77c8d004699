"""OAT throughput on the CPU: training (scanpaths/s) and sampled decoding, batched vs looped.

Run: ``python benchmarks/oat.py`` (``--paper`` also times training at the published size; ``--out`` sets
the JSON). Writes ``benchmarks/results/oat.json``.

- Training: teacher-forced steps of the book-cover scenario (training collages, batch 20), timed per epoch
  after the first (compiling) epoch.
- Decoding: 100 sampled scanpaths for each of the 16 validation collages, drawn (a) in one call, batched over
  the samples (what the scenario does), (b) by a Python loop over the samples (one sample per call; each call
  decodes all 16 collages), and (c) one scanpath per call; all three run the same cached decoder and draw the
  same scanpaths. (d) The original algorithm: one scanpath at a time, re-encoding the display and
  re-decoding the whole prefix at every step with a host round-trip (timed on 2 collages x 8 samples). The
  ratios are the speed-ups of (a). A call decodes until its longest scanpath ends, dropping ended
  scanpaths from the batch every 12 steps, so the benchmark also reports the decoding steps each variant
  runs and the time per scanpath-step (``row_steps``: scanpaths x steps computed, finished scanpaths and
  padding included).
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
import jax.numpy as jnp
import numpy as np

from cogsim.models import oat
from cogsim.models.oat._decoding import _row_keys
from cogsim.scenarios import book_cover_scanpaths as bc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import at_least, writable  # noqa: E402

SIZES = {
    "quick": {"d_model": 64, "n_heads": 4, "d_ff": 64, "n_layers": 2},
    "paper": {"d_model": 512, "n_heads": 4, "d_ff": 512, "n_layers": 4},
}


def _data(longest_cap: int | None = None):
    fix, trials = bc.load_collages()
    by_trial = bc.scanpaths_by_trial(fix)
    ids = [t for t in range(1, 65) if t in by_trial]
    pairs = [(t, p) for t in ids for p in by_trial[t]]
    keep = oat.length_filter([len(p) for _, p in pairs])
    pairs = [x for x, k in zip(pairs, keep, strict=True) if k]
    longest = max(len(p) for _, p in pairs)
    index = {t: i for i, t in enumerate(ids)}
    train = oat.TrainData(
        bc.displays_for(trials, ids),
        oat.encode_scanpaths([p for _, p in pairs], bc.N_OBJECTS, longest),
        np.array([index[t] for t, _ in pairs]),
    )
    evals = list(range(65, 81))
    return train, bc.displays_for(trials, evals), longest


def bench_training(size: str, train, *, epochs: int) -> dict:
    cfg = bc.model_config(bc.Config(**SIZES[size]))
    model = oat.OAT(cfg, key=jax.random.key(0))
    stamps = []
    t0 = time.perf_counter()
    oat.fit(
        model,
        train,
        key=jax.random.key(1),
        epochs=epochs,
        batch_size=20,
        lr=1e-3,
        log=lambda _: stamps.append(time.perf_counter()),
    )
    steps_per_epoch = len(train.seqs) // 20
    per_epoch = np.diff([t0, *stamps])
    steady = per_epoch[1:] if len(per_epoch) > 1 else per_epoch
    return {
        "size": size,
        **SIZES[size],
        "scanpaths_per_epoch": steps_per_epoch * 20,
        "first_epoch_s (compile + run)": float(per_epoch[0]),
        "epoch_s_median": float(np.median(steady)),
        "train_scanpaths_per_s": float(steps_per_epoch * 20 / np.median(steady)),
    }


def _row_steps(steps: np.ndarray, max_len: int, *, every: int = 12) -> float:
    """Scanpath-steps one decoding call computes for scanpaths needing ``steps`` (``[displays, samples]``):
    the batch steps until its longest scanpath ends or the segment does; every ``every`` steps each display
    keeps its unfinished scanpaths, padded to the next power of two of the most any display keeps (as
    ``oat.sample`` does)."""
    total, t, width = 0.0, 0, steps.shape[1]
    active = np.ones(steps.shape, bool)
    while active.any():
        t_end = min(t + every, max_len)
        total += steps.shape[0] * width * (min(t_end, steps[active].max()) - t)
        active &= steps > t_end
        most = int(active.sum(axis=1).max())
        t, width = t_end, 1 << (most - 1).bit_length() if most else 0
    return total


def bench_decoding(size: str, train, displays, longest: int, *, n_samples: int, repeats: int) -> dict:
    cfg = bc.model_config(bc.Config(**SIZES[size]))
    model = oat.fit(
        oat.OAT(cfg, key=jax.random.key(0)), train, key=jax.random.key(1), epochs=1, batch_size=20, lr=1e-3
    ).model
    key = jax.random.key(2)
    max_len = longest + 1
    n_disp = int(np.shape(displays.rows)[0])
    out = {"size": size, "displays": n_disp, "samples_per_display": n_samples, "max_len": max_len}
    reference = None
    for name, loop, reps in (
        ("batched", "none", repeats),
        ("loop_samples", "samples", 1),
        ("loop_scanpaths", "scanpaths", 1),
    ):
        # warm-up with the shapes the timed call uses (batched: all samples at once; loops: one call)
        t = time.perf_counter()
        warm_d = displays if loop != "scanpaths" else displays.take(np.array([0]))
        oat.sample(
            model, warm_d, key=key, n_samples=n_samples if loop == "none" else 1, max_len=max_len, loop=loop
        )
        out[f"{name}_compile_and_first_call_s"] = time.perf_counter() - t
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            paths = oat.sample(model, displays, key=key, n_samples=n_samples, max_len=max_len, loop=loop)
            times.append(time.perf_counter() - t)
        if reference is None:
            reference = paths
        assert paths == reference, "the decoding variants must draw the same scanpaths"
        out[f"{name}_s"] = float(np.median(times))
        out[f"{name}_scanpaths_per_s"] = n_disp * n_samples / out[f"{name}_s"]
    lengths = np.array([[len(p) for p in per] for per in reference])  # [display, sample]
    out["mean_length"] = float(lengths.mean())
    # steps a scanpath needs: its fixations and EOS, at most max_len
    steps = np.minimum(lengths + 1, max_len)
    row_steps = {
        "batched": _row_steps(steps, max_len),
        "loop_samples": float(sum(_row_steps(steps[:, s : s + 1], max_len) for s in range(n_samples))),
        "loop_scanpaths": float(steps.sum()),
    }
    for name, rs in row_steps.items():
        out[f"{name}_row_steps"] = float(rs)
        out[f"{name}_us_per_row_step"] = 1e6 * out[f"{name}_s"] / rs
    out["steps_needed"] = float(steps.sum())
    out["speedup_batched_over_sample_loop"] = out["loop_samples_s"] / out["batched_s"]
    out["speedup_batched_over_scanpath_loop"] = out["loop_scanpaths_s"] / out["batched_s"]
    return out


def _original_algorithm(model, displays, key, *, n_samples: int, max_len: int) -> list[list[list[int]]]:
    """Sampling as the original implementation does it: one scanpath at a time, and at every step the display
    is encoded again and the whole prefix decoded again (no cache), with a host round-trip per step."""
    n = int(np.shape(displays.rows)[1])
    keys = _row_keys(key, n_samples, int(np.shape(displays.rows)[0]))
    out = []
    for i in range(int(np.shape(displays.rows)[0])):
        one = displays.take(np.array([i]))
        per = []
        for s in range(n_samples):
            seq = np.full((1, max_len), n + 1, np.int32)
            seq[0, 0] = n + 2
            path = []
            u = jax.random.uniform(keys[s, i], (max_len,))  # the draws oat.sample makes (inverse CDF)
            for t in range(max_len):
                logits = oat.teacher_forced_logits(model, one, seq)[0, t]
                cdf = jnp.cumsum(jax.nn.softmax(logits))
                nxt = min(int(jnp.sum(cdf < u[t] * cdf[-1])), n)
                if nxt >= n:
                    break
                path.append(nxt)
                if t + 1 < max_len:
                    seq[0, t + 1] = nxt
            per.append(path)
        out.append(per)
    return out


def bench_original_algorithm(
    size: str, train, displays, longest: int, *, n_displays: int, n_samples: int
) -> dict:
    cfg = bc.model_config(bc.Config(**SIZES[size]))
    model = oat.fit(
        oat.OAT(cfg, key=jax.random.key(0)), train, key=jax.random.key(1), epochs=1, batch_size=20, lr=1e-3
    ).model
    sub = displays.take(np.arange(n_displays))
    key = jax.random.key(2)
    _original_algorithm(model, sub.take(np.array([0])), key, n_samples=1, max_len=longest + 1)  # compile
    t = time.perf_counter()
    paths = _original_algorithm(model, sub, key, n_samples=n_samples, max_len=longest + 1)
    dt = time.perf_counter() - t
    cached = oat.sample(model, sub, key=key, n_samples=n_samples, max_len=longest + 1)
    same = np.mean(
        [a == b for pa, pb in zip(paths, cached, strict=True) for a, b in zip(pa, pb, strict=True)]
    )
    return {
        "size": size,
        "scanpaths_timed": n_displays * n_samples,
        "seconds": dt,
        "scanpaths_per_s": n_displays * n_samples / dt,
        "share_identical_to_cached_decoding": float(same),
        "mean_length": float(np.mean([len(p) for per in paths for p in per])),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper", action="store_true", help="also time training at the published model size")
    ap.add_argument("--epochs", type=int, default=4, help="training epochs timed (the first compiles)")
    ap.add_argument("--samples", type=int, default=100, help="sampled scanpaths per collage")
    ap.add_argument("--repeats", type=int, default=3, help="timed repetitions of each decoding variant")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "oat.json"))
    args = ap.parse_args(argv)
    at_least(ap, epochs=args.epochs, samples=args.samples, repeats=args.repeats)
    writable(ap, args.out)
    train, displays, longest = _data()
    sizes = ["quick", "paper"] if args.paper else ["quick"]
    result = {
        "benchmark": "oat",
        "device": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "training": [bench_training(s, train, epochs=args.epochs if s == "quick" else 2) for s in sizes],
        "decoding": [
            bench_decoding("quick", train, displays, longest, n_samples=args.samples, repeats=args.repeats)
        ],
        "decoding_original_algorithm": bench_original_algorithm(
            "quick", train, displays, longest, n_displays=2, n_samples=8
        ),
        "load_average_at_end": list(os.getloadavg()),
    }
    dec, orig = result["decoding"][0], result["decoding_original_algorithm"]
    result["speedup_batched_over_original_algorithm"] = (
        dec["batched_scanpaths_per_s"] / orig["scanpaths_per_s"]
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
