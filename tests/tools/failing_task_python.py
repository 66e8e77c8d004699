"""A Python for the Slurm tests' array tasks in which change_detection's vectorised sweep raises for every
chunk holding ``sim_K == 2.0``: a failure that reaches the task process, where monkeypatching cannot.

submitit starts a task as ``PYTHON -u -m submitit.core._submit FOLDER``; with ``--slurm-python
"python tests/tools/failing_task_python.py"`` this file patches :func:`cogsim.sweep.evaluate._compiled`, then
runs that module as the task.
"""

from __future__ import annotations

import runpy
import sys

import numpy as np

from cogsim.sweep import evaluate

FAILING_K = 2.0
ERROR = "FloatingPointError: nan in the likelihood at sim_K=2.0"

_real = evaluate._compiled


def _compiled(mod, cfg, vec, root_seed):
    fn = _real(mod, cfg, vec, root_seed)

    def maybe_fail(seeds, vals):
        if FAILING_K in np.asarray(vals["sim_K"]):
            raise FloatingPointError(ERROR.split(": ", 1)[1])
        return fn(seeds, vals)

    return maybe_fail


if __name__ == "__main__":
    evaluate._compiled = _compiled
    args = [a for a in sys.argv[1:] if a != "-u"]  # -m MODULE ARGS...
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
