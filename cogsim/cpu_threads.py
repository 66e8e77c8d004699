"""How many threads XLA's CPU client runs computations on.

JAX's CPU client keeps one pool of worker threads per process, by default one per core, and spreads each
compiled program's independent operations over it. The fitting layer's programs are long ``while_loop``\\s
of small operations (one L-BFGS iteration on a chunk of units is well under a millisecond of work), so on a
machine with few cores the pool's threads compete with the main thread: on 2 cores a second fit of the
workspace model to van den Berg et al.'s 32 participants took 2.8-5.8 s of wall time (up to 9.1 s of CPU)
with the default pool, and 3.2-3.3 s of both with one pool thread (the same estimates; the measurements are
in the fitting log, "One XLA CPU thread for the fitting command").

The pool's size is read once, when JAX creates its CPU client (at the process's first computation), from
``PJRT_NPROC`` (or ``NPROC``); later changes have no effect. ``cogsim fit`` calls :func:`limit` before it
computes anything; in a script or notebook, set ``PJRT_NPROC=1`` in the environment before starting Python
(or call :func:`limit` before the first computation). ``PJRT_NPROC`` or ``NPROC`` set by the user is never
overridden, but it must be a whole number of threads, at least 1: :func:`limit` refuses any other value (an
empty one counts as unset) with a :class:`cogsim.errors.CogsimError` naming the variable, so ``cogsim fit``
stops with exit status 2 and one line instead of leaving the pool's size to a value JAX may read otherwise.

One pool thread is unsafe for programs that call back to the host: a ``jax.pure_callback`` that reads its
argument can wait forever for the only pool thread, which is running the callback (seen with the host
argsort of ``WORKSPACE_SORTED``; docs/architecture.md, "Tests"). None of the packaged paradigms' models calls
back to the host (tests/test_cpu_threads.py checks each one's log-likelihood and simulator); a model of your
own that does must run with the default pool (``PJRT_NPROC`` set to the number of cores).
"""

from __future__ import annotations

import os
import sys

#: the variables JAX's CPU client reads for its pool size, in the order it reads them
ENV = ("PJRT_NPROC", "NPROC")

#: the pool's size that ``cogsim fit`` asks for
FIT_THREADS = 1


def limit(threads: int = 1) -> bool:
    """Asks for a pool of ``threads`` threads, unless ``PJRT_NPROC`` or ``NPROC`` is already set or JAX's
    backends already exist (then nothing changes). Returns whether the pool will have that size.

    Args:
      threads: worker threads of XLA's CPU client (at least 1).

    Raises:
      ValueError: ``threads`` is below 1.
      CogsimError: ``PJRT_NPROC`` or ``NPROC`` is set to something other than an integer >= 1.

    Example:
      >>> import os
      >>> from unittest import mock
      >>> with mock.patch.dict(os.environ, {"PJRT_NPROC": "4"}):  # the user's setting is kept
      ...     limit(1), os.environ["PJRT_NPROC"]
      (False, '4')
    """
    if int(threads) < 1:
        raise ValueError(f"threads: {threads!r} is not allowed; use an integer >= 1")
    given = {name: os.environ.get(name, "").strip() for name in ENV}
    for name, text in given.items():
        if text and not (text.isascii() and text.isdigit() and int(text) >= 1):
            from cogsim.errors import CogsimError

            raise CogsimError(
                f"environment variable {name}: got {text!r}; allowed: an integer >= 1 (threads of XLA's CPU "
                "pool), or unset"
            )
    if any(given.values()) or _backends_exist():
        return False
    os.environ[ENV[0]] = str(int(threads))
    return True


def _backends_exist() -> bool:
    """Whether JAX has created its backends (then the pool's size is fixed), without creating them."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    if bridge is None:  # JAX not imported yet: nothing created
        return False
    check = getattr(bridge, "backends_are_initialized", None)
    return bool(check()) if check is not None else True  # unknown JAX: assume too late
