"""The cost of writing many programs into the persistent compilation cache: one fresh process turns the cache
on in an empty folder (``cogsim.compilation_cache.enable``, as cogsim's commands do) and compiles ``n``
small distinct programs, timing each compilation with its write; reports the mean time per program of the
first and of the last 500 and their ratio (docs/fitting_log.md, "Every compiled program into the persistent
cache, the size kept by cogsim"). With the current settings programs that compile in under
``MIN_COMPILE_TIME_S`` are not written, so it times their compilation alone; the result of record
(``benchmarks/results/cache_writes_size_kept_by_cogsim.json``) is from the candidate that wrote every
program (commit 7097b43, reverted).

Run: ``python benchmarks/cache_writes.py --n 3000 --out benchmarks/results/cache_writes.json``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import emit, machine, writable  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="programs to compile (>= 1000)")
    parser.add_argument("--out", default=None, help="JSON file for the result")
    args = parser.parse_args(argv)
    if args.n < 1000:
        parser.error(f"--n: got {args.n}; allowed: at least 1000 (two windows of 500)")
    writable(parser, args.out)

    import jax
    import jax.numpy as jnp

    from cogsim import compilation_cache

    folder = Path(tempfile.mkdtemp(prefix="cache_writes_"))
    compilation_cache.enable(folder)
    x = jnp.ones((8,), jnp.float32)
    times = []
    for k in range(args.n):
        f = jax.jit(lambda v, k=k: jnp.sin(v * (k + 0.5)).sum())  # a distinct constant: a distinct program
        t = time.perf_counter()
        f(x).block_until_ready()
        times.append(time.perf_counter() - t)
    files = [p for p in folder.iterdir() if p.name.endswith("-cache")]
    folder_bytes = sum(p.stat().st_size for p in files)
    shutil.rmtree(folder, ignore_errors=True)
    first, last = sum(times[:500]) / 500, sum(times[-500:]) / 500
    result = {
        "n_programs": args.n,
        "mean_first_500_ms": round(1e3 * first, 2),
        "mean_last_500_ms": round(1e3 * last, 2),
        "ratio_last_to_first": round(last / first, 3),
        "files_written": len(files),
        "folder_bytes": folder_bytes,
        "min_compile_time_s": compilation_cache.MIN_COMPILE_TIME_S,
        "jax_size_limit": jax.config.jax_compilation_cache_max_size,
        "machine": machine(jax=jax.__version__),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
