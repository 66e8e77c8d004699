"""A probe, not a benchmark of record: fits four delayed-estimation models to van den Berg et al.'s trials in
one fresh process, one model after another (``seq``) or each in its own thread (``thr``), and prints wall and
process CPU time with each model's summed log-likelihood (docs/fitting_log.md, "Models fitted in threads").

Run: ``COGSIM_COMPILATION_CACHE=off python benchmarks/fit_threads.py seq`` (or ``thr``), each in a fresh
process.
"""

from __future__ import annotations

import argparse
import threading
import time

MODELS = ("mixture2p", "vp", "slots_averaging", "workspace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("seq", "thr"))
    mode = parser.parse_args().mode

    from cogsim import cpu_threads

    cpu_threads.limit(cpu_threads.FIT_THREADS)  # as `cogsim fit`, before JAX starts
    import jax

    from cogsim import fit
    from cogsim.models import paradigms
    from cogsim.scenarios.delayed_estimation import trials

    df = trials("vandenberg2012")
    models = paradigms.get("delayed_estimation").models
    res: dict[str, tuple[float, float]] = {}

    def one(i: int, name: str) -> None:
        t = time.time()
        r = fit.fit(models[name], df, by=("experiment", "subject"), ci=None, key=jax.random.key(i))
        res[name] = (round(time.time() - t, 1), round(float(r.summary.loglik.sum()), 3))

    t0, c0 = time.time(), time.process_time()
    if mode == "seq":
        for i, name in enumerate(MODELS):
            one(i, name)
    else:
        threads = [threading.Thread(target=one, args=(i, name)) for i, name in enumerate(MODELS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    wall, cpu = time.time() - t0, time.process_time() - c0
    print(f"{mode}: wall {wall:.1f} s, CPU {cpu:.1f} s; per model (wall s, summed loglik): {res}")


if __name__ == "__main__":
    main()
