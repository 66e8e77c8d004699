"""Leases: how a local sweep process shows that it is alive, so that the points of one that was killed are
seen as interrupted instead of running forever.

A local or devices sweep (worker ``local:HOST:PID``) marks its points ``running`` and renews its lease on them
(their ``updated`` time in the index) every :data:`HEARTBEAT_S` seconds from a daemon thread (:class:`Lease`;
JAX's compilations and computations release the GIL). :func:`cogsim.sweep.executors.reconcile` (run by
``cogsim sweep status`` and every sweep command) marks ``failed``
(``interrupted: ...``) the running points of a worker whose process is gone (judged on its own machine) or
whose lease is older than :data:`LEASE_S` (any machine), so ``--resume`` computes them again. Slurm array
tasks never open the index; ``squeue`` tells whether they are alive.
"""

from __future__ import annotations

import contextlib
import threading
import time

from cogsim.store import Store

#: seconds between the renewals of a local sweep process's lease on the points it runs
HEARTBEAT_S = 30.0
#: the running points of a local sweep process whose lease was not renewed for this long are interrupted
LEASE_S = 300.0


def renew(store: Store, worker: str) -> int:
    """Renews ``worker``'s lease on the points it runs (their ``updated`` time); returns how many.

    Example:
      >>> import tempfile
      >>> s = Store(tempfile.mkdtemp()); s.add_points([({"x": 1.0}, 0)])
      1
      >>> s.mark(s.pending(), "running", worker="local:h:1"); renew(s, "local:h:1")
      1
    """
    with store._transaction() as con:
        cur = con.execute(
            "UPDATE points SET updated = ? WHERE worker = ? AND status = 'running'", (time.time(), worker)
        )
        return cur.rowcount


def expire(store: Store, worker: str, *, before: float, error: str) -> int:
    """Marks ``failed`` (with ``error``) the running points of ``worker`` whose lease was last renewed before
    the time ``before``; a renewal that lands first keeps them running. Returns how many."""
    with store._transaction() as con:
        cur = con.execute(
            "UPDATE points SET status = 'failed', error = ?, updated = ? "
            "WHERE COALESCE(worker, '') = ? AND status = 'running' AND COALESCE(updated, 0) < ?",
            (error, time.time(), worker, before),
        )
        return cur.rowcount


class Lease:
    """Renews ``worker``'s lease on its running points every :data:`HEARTBEAT_S` seconds from a daemon
    thread, until :meth:`stop`.

    Example:
      >>> # lease = Lease(store, worker); ...; lease.stop()
    """

    def __init__(self, store: Store, worker: str):
        self._stopped = threading.Event()

        def beat() -> None:
            while not self._stopped.wait(HEARTBEAT_S):
                with contextlib.suppress(Exception):  # a busy or vanished index: the next renewal may do
                    renew(store, worker)

        threading.Thread(target=beat, name="cogsim-sweep-lease", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
