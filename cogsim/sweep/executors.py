"""Where sweep points run besides this process: all local devices, or a Slurm cluster through job arrays.

``devices``
    Each vectorised chunk is sharded over every local JAX device (a 1-D ``jax.sharding.Mesh`` with a
    ``NamedSharding`` on the point axis), so one process drives several GPUs.

``slurm``
    The driver (this process, e.g. on a login node) groups the pending points by their static fields, cuts
    them into tasks of ``points_per_task`` and submits them as Slurm job arrays through submitit. Each array
    task is a fresh process running the same Python (``sys.executable``), which evaluates its points with
    the local executor's core (:func:`cogsim.sweep.evaluate.evaluate_points`) and writes one shard per chunk
    into the run folder (:func:`cogsim.store.write_shard_file`). Tasks never open the SQLite index, which is
    not safe on the network file systems clusters share; the driver adopts their shards
    (:meth:`cogsim.store.Store.sync`) and watches the queue (``squeue``). A point (or chunk) whose
    evaluation raises is recorded with its own error in ``RUN/slurm/failures/<task>.json`` and the task goes
    on with its other points, then ends in error. When a task has left the queue, the points it recorded are
    marked ``failed`` with their own errors and the task's log path, and the points it did not finish (it
    raised otherwise, was cancelled, killed, ran out of time or memory, or lost its node) with the task's
    error; ``cogsim sweep --resume RUN`` submits only those. Killing the driver loses nothing:
    tasks keep writing shards, and ``--resume`` (or ``cogsim sweep status RUN``) adopts them and waits for
    tasks still queued.

Every executor gives the same numbers for the same root seed (keys are ``fold_in(key(root_seed), seed)`` per
point; chunk size, sharding and task boundaries change only the batching).

submitit is imported only when a Slurm sweep is submitted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cogsim import config as cfglib
from cogsim.config import field
from cogsim.errors import CogsimError, ConfigError
from cogsim.store import Store, atomic_write_text, write_point_comparison, write_shard_file
from cogsim.sweep import lease

_RESERVED_SBATCH = ("array", "output", "error", "open-mode", "signal", "wrap")


# ---------------------------------------------------------------------------------------------- devices
def local_devices() -> list[Any]:
    """The JAX devices of this process that the ``devices`` executor shards over.

    Example:
      >>> len(local_devices()) >= 1
      True
    """
    import jax

    return list(jax.local_devices())


# ------------------------------------------------------------------------------------------------ slurm
@dataclasses.dataclass(frozen=True)
class SlurmConfig:
    """How a sweep is submitted to Slurm (CLI flags ``--slurm-*``, a TOML file, or ``sweep.run(slurm=...)``).

    Example:
      >>> SlurmConfig(partition="gpu", time=120, gpus_per_task=1).time
      120
    """

    partition: str | None = field(None, doc="sbatch --partition; None: the cluster's default partition")
    time: int = field(60, low=1, doc="time limit of each array task, minutes (sbatch --time)")
    cpus_per_task: int | None = field(None, low=1, doc="CPUs per array task (sbatch --cpus-per-task)")
    gpus_per_task: int | None = field(None, low=0, doc="GPUs per array task (sbatch --gpus-per-node)")
    mem: str | None = field(None, doc="memory per array task, e.g. 16G (sbatch --mem)")
    array_parallelism: int = field(256, low=1, doc="array tasks running at once (sbatch --array=...%N)")
    points_per_task: int | None = field(None, low=1, doc="grid points per array task; None: the chunk size")
    job_name: str = field("cogsim-sweep", doc="sbatch --job-name")
    sbatch: tuple[str, ...] = field((), doc="extra sbatch options KEY=VALUE, e.g. account=mylab, qos=short")
    setup: tuple[str, ...] = field((), doc="shell lines run before each task, e.g. 'module load cuda'")
    python: str | None = field(None, doc="python command of the tasks; None: this interpreter")
    jax_cache: bool = field(True, doc="tasks share JAX's persistent compilation cache (RUN/jax_cache)")
    poll_s: float = field(5.0, low=0.05, high=3600.0, doc="seconds between the driver's looks at the queue")
    wait: bool = field(True, doc="wait for the tasks (False: submit, return; --resume collects later)")
    max_array_size: int = field(
        1000, low=1, doc="most tasks per job array (below the cluster's MaxArraySize)"
    )

    def __post_validate__(self):
        for opt in self.sbatch:
            key = _sbatch_key(opt)
            if not key:
                raise ConfigError("slurm.sbatch", opt, "sbatch options of the form KEY=VALUE or KEY")
            if key in _RESERVED_SBATCH:
                raise ConfigError(
                    "slurm.sbatch",
                    opt,
                    f"options other than {', '.join(_RESERVED_SBATCH)} (the executor sets these itself)",
                )


def _sbatch_key(opt: str) -> str:
    return opt.partition("=")[0].strip().lstrip("-").replace("_", "-")


def parse_time(text: str | int) -> int:
    """Minutes of a Slurm time limit: ``90``, ``"45:00"`` (MM:SS), ``"1:30:00"``, ``"2-00"``, ``"1-12:00"``.

    Example:
      >>> parse_time("1:30:00"), parse_time("2-00"), parse_time(45)
      (90, 2880, 45)
    """
    if isinstance(text, int) and not isinstance(text, bool) and text >= 1:
        return text
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(text).strip())
    if match is None:
        raise ConfigError("slurm.time", text, "minutes or a Slurm time: MM:SS, HH:MM:SS, D-HH, D-HH:MM:SS")
    days, *rest = match.groups()
    parts = [int(p) for p in rest if p is not None]
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        h, m, sec = (parts + [0, 0])[:3]
        h += 24 * int(days)
    elif len(parts) == 1:  # minutes
        h, m, sec = 0, parts[0], 0
    elif len(parts) == 2:  # MM:SS
        h, m, sec = 0, parts[0], parts[1]
    else:
        h, m, sec = parts
    minutes = h * 60 + m + (1 if sec > 0 else 0)
    if minutes < 1:
        raise ConfigError("slurm.time", text, "a time limit of at least one minute")
    return minutes


def load_slurm_config(path: str | os.PathLike) -> dict[str, Any]:
    """Reads Slurm settings from a TOML file: a ``[slurm]`` table (or top-level keys) of SlurmConfig fields.

    Example:
      >>> import tempfile, pathlib
      >>> p = pathlib.Path(tempfile.mkdtemp()) / "cluster.toml"
      >>> _ = p.write_text('[slurm]\\npartition = "gpu"\\ntime = "02:00:00"\\n')
      >>> load_slurm_config(p)
      {'partition': 'gpu', 'time': '02:00:00'}
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CogsimError(f"slurm config {str(path)!r}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CogsimError(f"slurm config {str(path)!r}: not valid TOML ({exc})") from None
    data = data.get("slurm", data)
    if not isinstance(data, dict):
        raise CogsimError(f"slurm config {str(path)!r}: [slurm] must be a table of settings")
    return data


def slurm_config(
    value: SlurmConfig | Mapping[str, Any] | None = None, *, stored: Mapping[str, Any] | None = None
) -> SlurmConfig:
    """The effective Slurm settings: defaults < ``$COGSIM_SLURM_CONFIG`` (a TOML file, for new runs) < the
    settings ``stored`` by an earlier run of the same sweep < ``value`` (a SlurmConfig, or a dict of fields).

    Example:
      >>> slurm_config({"time": "2:00:00"}, stored={"partition": "gpu"}).partition
      'gpu'
    """
    if isinstance(value, SlurmConfig):
        return cfglib.validate(value)
    merged: dict[str, Any] = {}
    if stored:
        merged.update(stored)
    elif os.environ.get("COGSIM_SLURM_CONFIG"):
        merged.update(load_slurm_config(os.environ["COGSIM_SLURM_CONFIG"]))
    if value is not None and not isinstance(value, Mapping):
        raise ConfigError("slurm", value, "a SlurmConfig or a dict of its fields")
    merged.update(value or {})
    if "time" in merged and merged["time"] is not None:
        merged["time"] = parse_time(merged["time"])
    for key in ("sbatch", "setup"):
        if isinstance(merged.get(key), str):
            merged[key] = (merged[key],)
    return cfglib.from_dict(SlurmConfig, merged)


def _submitit_parameters(cfg: SlurmConfig) -> dict[str, Any]:
    params: dict[str, Any] = {
        "job_name": cfg.job_name,
        "time": cfg.time,
        "array_parallelism": cfg.array_parallelism,
        "stderr_to_stdout": True,
        "wckey": None,  # submitit sets "--wckey=submitit" by default; not every cluster accepts it
    }
    if cfg.partition:
        params["partition"] = cfg.partition
    if cfg.cpus_per_task:
        params["cpus_per_task"] = cfg.cpus_per_task
    if cfg.gpus_per_task:
        params["gpus_per_node"] = cfg.gpus_per_task
    if cfg.mem:
        params["mem"] = cfg.mem
    if cfg.setup:
        params["setup"] = list(cfg.setup)
    extra = {}
    for opt in cfg.sbatch:
        key, sep, value = opt.partition("=")
        extra[_sbatch_key(key)] = value.strip() if sep else True
    if extra:
        params["additional_parameters"] = extra
    return params


def _import_submitit():
    try:
        import submitit
    except ImportError:  # pragma: no cover - submitit is a dependency
        raise CogsimError("slurm executor: submitit is not installed (pip install submitit)") from None
    return submitit


def check_slurm_commands() -> None:
    """Refuses the slurm executor where Slurm's commands are not on PATH (checked before a sweep creates or
    submits anything).

    Example:
      >>> import shutil
      >>> try:
      ...     check_slurm_commands()
      ...     refused = False
      ... except CogsimError:
      ...     refused = True
      >>> refused == any(shutil.which(c) is None for c in ("sbatch", "squeue", "srun"))
      True
    """
    missing = [c for c in ("sbatch", "squeue", "srun") if shutil.which(c) is None]
    if missing:
        raise CogsimError(
            f"slurm executor: {', '.join(f'`{c}`' for c in missing)} not found on PATH; run the sweep on a "
            "Slurm login node (or choose --executor local or devices)"
        )


def squeue_alive(task_ids: Sequence[str]) -> set[str] | None:
    """Which of the array tasks ``"JOB_INDEX"`` are still queued or running (``None``: cannot tell).

    Example:
      >>> squeue_alive([]) == set()
      True
    """
    if not task_ids:
        return set()
    if shutil.which("squeue") is None:
        return None
    jobs = sorted({t.split("_")[0] for t in task_ids})
    try:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-o", "%i", "-j", ",".join(jobs)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return set() if "Invalid job id" in out.stderr else None
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def task_log(folder: str | os.PathLike, task_id: str) -> Path:
    """The log file (stdout and stderr) of array task ``task_id`` (``"JOB_INDEX"``).

    Example:
      >>> task_log("slurm", "4021_7").as_posix()
      'slurm/4021_7_0_log.out'
    """
    return Path(folder) / f"{task_id}_0_log.out"


def task_failures(folder: str | os.PathLike, task_id: str) -> Path:
    """The file where array task ``task_id`` records the points whose evaluation raised (``{id: error}``).

    Example:
      >>> task_failures("slurm", "4021_7").as_posix()
      'slurm/failures/4021_7.json'
    """
    return Path(folder) / "failures" / f"{task_id}.json"


def _read_failures(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # none recorded (or unreadable): the task's error stands for all
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _task_outcome(folder: Path, task_id: str) -> tuple[str, Any] | None:
    path = folder / f"{task_id}_0_result.pkl"
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a broken result file is reported, not raised
        return ("error", f"unreadable result file {path}: {exc}")


#: what slurmstepd writes into a task's log when Slurm ends it -> the reason shown for its unfinished points
_SLURM_ENDS = (
    (
        ("DUE TO TIME LIMIT",),
        "out of time (Slurm's time limit; resume with a longer --slurm-time or fewer points per task)",
    ),
    (
        ("OOM-KILL", "OOM_KILL", "OUT OF MEMORY", "OUT-OF-MEMORY"),
        "out of memory (resume with more --slurm-mem or a smaller --chunk-size)",
    ),
    (("DUE TO PREEMPTION",), "preempted by Slurm"),
    (("DUE TO NODE FAILURE",), "its node failed"),
    (("CANCELLED AT",), "cancelled (scancel)"),
)


def _end_reason(log: Path) -> str:
    """Why an array task ended without a result, from what Slurm wrote into its log (the generic list of
    causes when it wrote nothing)."""
    try:
        with open(log, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 65536))
            tail = fh.read().decode(errors="replace")
    except FileNotFoundError:
        return "it never started (no log): cancelled while queued, or it could not be launched"
    except OSError:
        tail = ""
    said = " ".join(ln for ln in tail.splitlines() if "slurmstepd" in ln).upper()
    for marks, reason in _SLURM_ENDS:
        if any(m in said for m in marks):
            return reason
    return "cancelled, killed, out of time or memory, or its node failed"


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[-1] if lines else str(text)


def reconcile(
    store: Store,
    *,
    grace_s: float = 0.0,
    gone: dict[str, float] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, list[str]]:
    """Brings the index up to date with reality and returns the Slurm tasks still alive (``{task: ids}``).

    Adopts finished shards; marks ``failed`` (with the error and the log path) the unfinished points of array
    tasks that left the queue (each point the task recorded in :func:`task_failures` with its own error), and
    (``interrupted: ...``) those of local sweep processes that no longer exist (judged on their own machine)
    or have not renewed their lease for :data:`cogsim.sweep.lease.LEASE_S` seconds (any machine). A task is
    judged only after it has been out of the queue for ``grace_s`` seconds (``gone`` keeps that state between
    calls).

    Example:
      >>> # alive = reconcile(cogsim.store.load(run))
    """
    gone = {} if gone is None else gone
    store.sync()
    running = store.points("running")
    if running.empty:
        return {}
    folder = Path(store.get_meta("slurm_folder") or store.root / "slurm")
    workers = {w: list(g["point_id"]) for w, g in running.groupby(running["worker"].fillna(""))}
    logs = {
        w: g["log"].dropna().iloc[0] if g["log"].notna().any() else None
        for w, g in running.groupby(running["worker"].fillna(""))
    }
    # the last renewal of each worker's lease (local sweep processes renew theirs: cogsim.sweep.lease)
    renewed = running["updated"].fillna(0.0).groupby(running["worker"].fillna("")).max().to_dict()
    slurm_tasks = [w.split(":", 1)[1] for w in workers if w.startswith("slurm:")]
    queued = squeue_alive(slurm_tasks)
    alive: dict[str, list[str]] = {}
    now = time.time()
    host = socket.gethostname()
    for worker, ids in workers.items():
        kind, _, rest = worker.partition(":")
        if kind == "slurm":
            if queued is None or rest in queued:
                alive[rest] = ids
                gone.pop(rest, None)
                continue
            if now - gone.setdefault(rest, now) < grace_s:
                alive[rest] = ids
                continue
            outcome = _task_outcome(folder, rest)
            store.sync()  # shards written just before the task ended
            still = store.pending(ids)
            gone.pop(rest, None)
            if not still:
                continue
            log_path = logs.get(worker) or str(task_log(folder, rest))
            if outcome is None:
                error = f"array task {rest} ended without a result: {_end_reason(Path(log_path))}"
            elif outcome[0] == "error":
                error = f"array task {rest}: {_last_line(outcome[1])}"
            else:
                error = f"array task {rest} finished without writing these points"
            own = _read_failures(task_failures(folder, rest))
            by_error: dict[str, list[str]] = {}
            for pid in still:
                by_error.setdefault(own.get(pid, error), []).append(pid)
            for why, pids in by_error.items():
                store.mark(pids, "failed", error=why, log=log_path, held_by=worker)
                if log:
                    log(f"sweep: {len(pids)} point(s) failed: {why} (log: {log_path})")
        else:  # a local sweep process (local:HOST:PID): alive while its process exists and renews its lease
            w_host, _, pid = rest.rpartition(":")
            if kind == "local" and w_host == host and pid.isdigit() and not _pid_alive(int(pid)):
                why = f"interrupted: sweep process {pid} on {host} ended before finishing these points"
                why += " (killed?)"
                store.mark(store.pending(ids), "failed", error=why, held_by=worker)
            elif now - renewed.get(worker, 0.0) > lease.LEASE_S:  # killed elsewhere, or its pid reused
                age = _duration(now - renewed.get(worker, 0.0))
                why = (
                    f"interrupted: {worker or 'a worker'} has not renewed its lease on these points for "
                    f"{age} (killed, or its machine stopped)"
                )
                if not lease.expire(store, worker, before=now - lease.LEASE_S, error=why):
                    continue
            else:
                continue
            if log:
                log(f"sweep: {len(ids)} point(s) {why}")
    return alive


def _duration(seconds: float) -> str:
    """``seconds`` as a short duration: ``45 s``, ``12 min``, ``3.5 h``, ``2.0 days``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _task_worker() -> str:
    job, idx = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if job and idx:
        return f"slurm:{job}_{idx}"
    if os.environ.get("SLURM_JOB_ID"):
        return f"slurm:{os.environ['SLURM_JOB_ID']}"
    return f"local:{socket.gethostname()}:{os.getpid()}"


def run_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """The body of one array task: evaluates ``task["points"]`` and writes their shards into the run folder.

    ``task`` holds ``run_dir``, ``slurm_folder``, ``spec`` (the sweep spec as a dict), ``points``
    (``[point_id, params, seed]``) and ``chunk_size``; with ``jax_cache`` the tasks share a persistent
    compilation cache in the run folder. Runs in a fresh process; never opens the index. A point (or chunk)
    that raises is recorded with its own error in :func:`task_failures` (rewritten atomically after each) and
    the others go on; if any failed, the task raises at the end, so its outcome says so.

    Example:
      >>> # run_task({"run_dir": run, "spec": spec, "points": pts, "chunk_size": 64})
    """
    t0 = time.time()
    run_dir = Path(task["run_dir"])
    worker = _task_worker()
    import jax

    if task.get("jax_cache") and not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        with contextlib.suppress(Exception):
            jax.config.update("jax_compilation_cache_dir", str(run_dir / "jax_cache"))
    from cogsim import runner, scenario_registry
    from cogsim.sweep.evaluate import evaluate_points, point_error
    from cogsim.sweep.plan import spec_from_dict

    spec = spec_from_dict(task["spec"])
    mod = scenario_registry.get(spec.scenario)
    base = runner.make_config(spec.scenario, preset=spec.preset, overrides=spec.overrides)
    points = [(pid, dict(params), int(seed)) for pid, params, seed in task["points"]]
    devices = jax.local_devices()
    print(
        f"{worker}: {len(points)} point(s) of {run_dir.name} on {socket.gethostname()} "
        f"({len(devices)} device(s): {devices[0].platform})",
        flush=True,
    )
    written = 0

    def on_chunk(df, ids):
        nonlocal written
        write_shard_file(run_dir, df, worker=worker)
        written += len(ids)
        print(f"{worker}: {written}/{len(points)} points written ({time.time() - t0:.1f} s)", flush=True)

    failures: dict[str, str] = {}
    failures_file = task_failures(task.get("slurm_folder") or run_dir / "slurm", worker.partition(":")[2])

    def on_error(ids, exc):
        error = point_error(exc)
        failures.update(dict.fromkeys(ids, error))
        atomic_write_text(failures_file, json.dumps(failures))
        traceback.print_exception(exc)
        print(f"{worker}: {len(ids)} point(s) failed: {error}", flush=True)

    evaluate_points(
        mod,
        base,
        points,
        root_seed=spec.root_seed,
        chunk_size=int(task["chunk_size"]),
        on_chunk=on_chunk,
        devices=devices if len(devices) > 1 else None,
        on_comparison=lambda pid, comp: write_point_comparison(run_dir, pid, comp),
        on_error=on_error,
    )
    if failures:
        raise CogsimError(f"{worker}: {len(failures)} of {len(points)} point(s) failed (see {failures_file})")
    return {"worker": worker, "points": written, "seconds": round(time.time() - t0, 3)}


def _plan_tasks(store: Store, spec, ids: Sequence[str], per_task: int) -> list[list[list[Any]]]:
    """Cuts ``ids`` (grid order) into tasks of at most ``per_task`` points, never mixing static groups."""
    from cogsim import scenario_registry
    from cogsim.sweep.plan import group_points, vectorized

    mod = scenario_registry.get(spec.scenario)
    vec = vectorized(mod) if hasattr(mod, "sweep_point") else ()
    items = store.point_items(ids)
    tasks = []
    for group in group_points(items, vec).values():
        for i in range(0, len(group), per_task):
            tasks.append([list(p) for p in group[i : i + per_task]])
    return tasks


def _cluster_max_array_size() -> int | None:
    """The cluster's ``MaxArraySize`` (``scontrol show config``), or None when it cannot be read."""
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"^\s*MaxArraySize\s*=\s*(\d+)", out.stdout, re.MULTILINE)
    return int(match.group(1)) if match and out.returncode == 0 else None


def array_size(cfg: SlurmConfig) -> int:
    """Most tasks in one submitted job array: ``cfg.max_array_size``, at most the cluster's ``MaxArraySize``
    (an array's indices run from 0 to MaxArraySize - 1; 0 or 1: tasks are submitted as single jobs).

    Example:
      >>> array_size(SlurmConfig(max_array_size=1))  # whatever the cluster allows
      1
    """
    cluster = _cluster_max_array_size()
    return max(1, min(cfg.max_array_size, cfg.max_array_size if cluster is None else cluster))


def _submit(
    store: Store,
    spec,
    tasks: list,
    *,
    chunk_size: int,
    cfg: SlurmConfig,
    folder: Path,
    log: Callable[[str], None],
) -> dict[str, list[str]]:
    submitit = _import_submitit()
    check_slurm_commands()
    python = cfg.python or shlex.quote(sys.executable)
    ex = submitit.SlurmExecutor(folder=folder, python=python)
    try:
        ex.update_parameters(**_submitit_parameters(cfg))
    except ValueError as exc:
        raise CogsimError(f"slurm executor: bad Slurm settings: {exc}") from None
    run_dir = str(store.root.resolve())
    spec_d = dataclasses.asdict(spec)
    submitted: dict[str, list[str]] = {}
    size = array_size(cfg)
    for start in range(0, len(tasks), size):
        batch = tasks[start : start + size]
        payloads = [
            {
                "run_dir": run_dir,
                "slurm_folder": str(folder),
                "spec": spec_d,
                "points": t,
                "chunk_size": chunk_size,
                "jax_cache": cfg.jax_cache,
            }
            for t in batch
        ]
        try:
            jobs = (
                ex.map_array(run_task, payloads) if len(payloads) > 1 else [ex.submit(run_task, payloads[0])]
            )
        except Exception as exc:  # noqa: BLE001 - sbatch's refusal, with its own message
            why = " ".join(str(exc).split())
            if submitted:  # the arrays submitted before run on: say so, or the user may think none was
                why += (
                    f"; the {len(submitted)} task(s) submitted before it run on, and `cogsim sweep --resume "
                    f"{store.root}` waits for them and submits the rest"
                )
            raise CogsimError(f"slurm executor: sbatch refused the job array: {why}") from None
        for job, task in zip(jobs, batch, strict=True):
            ids = [p[0] for p in task]
            store.mark(ids, "running", worker=f"slurm:{job.job_id}", log=str(task_log(folder, job.job_id)))
            submitted[job.job_id] = ids
        array = str(jobs[0].job_id).split("_")[0]
        log(
            f"sweep: submitted Slurm job {array}: {len(batch)} task(s), {sum(len(t) for t in batch)} points; "
            f"logs {folder}/{array}_*_0_log.out"
        )
    return submitted


def run_slurm(
    store: Store,
    spec,
    *,
    chunk_size: int,
    config: SlurmConfig,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Runs the store's pending points as Slurm array tasks and (unless ``config.wait`` is False) waits.

    Tasks of an earlier driver that are still queued or running are waited for, not submitted again.

    Example:
      >>> # run_slurm(store, spec, chunk_size=64, config=SlurmConfig(partition="gpu"))
    """
    folder = store.root.resolve() / "slurm"
    store.set_meta("slurm_folder", str(folder))
    alive = reconcile(store, log=log)
    held = {i for ids in alive.values() for i in ids}
    todo = [pid for pid in store.pending() if pid not in held]
    counts = store.counts()
    log(
        f"sweep {store.root.name}: {counts['done']} done, {len(held)} in {len(alive)} running task(s), "
        f"{len(todo)} to submit"
    )
    watching = dict(alive)
    if todo:
        tasks = _plan_tasks(store, spec, todo, config.points_per_task or chunk_size)
        watching.update(
            _submit(store, spec, tasks, chunk_size=chunk_size, cfg=config, folder=folder, log=log)
        )
    if not watching:
        return
    if not config.wait:
        log(
            f"sweep: not waiting; follow with `cogsim sweep status {store.root}`; collect and resubmit "
            f"failures with `cogsim sweep --resume {store.root}`"
        )
        return
    _watch(store, watching, config=config, progress=progress, log=log)


def _watch(store: Store, watching: Mapping[str, list[str]], *, config: SlurmConfig, progress, log) -> None:
    from cogsim import progress as progress_lib
    from cogsim.sweep.plan import failed_note

    ids = {i for v in watching.values() for i in v}
    show = sys.stderr.isatty() if progress is None else progress
    bar = progress_lib.bar(len(ids), desc="sweep points (slurm)", show=show)
    gone: dict[str, float] = {}
    last = None
    try:
        while True:
            alive = reconcile(store, grace_s=max(2.0, 2 * config.poll_s), gone=gone, log=log)
            mine = [t for t in alive if t in watching]
            pts = store.points()
            mine_pts = pts[pts["point_id"].isin(ids)]
            done = int((mine_pts["status"] == "done").sum())
            failed = int((mine_pts["status"] == "failed").sum())
            bar.update(done - bar.n)  # the bar counts finished points; failed ones are reported apart
            state = (done, failed, len(mine))
            if state != last and not show:
                log(f"sweep: {done}/{len(ids)} done, {failed} failed, {len(mine)} task(s) queued or running")
            last = state
            if not mine:
                break
            time.sleep(config.poll_s)
    except KeyboardInterrupt:
        log(
            f"sweep: driver stopped; submitted tasks keep running. `cogsim sweep --resume {store.root}` "
            "waits for them and runs what is missing (scancel the job to stop them)"
        )
        raise
    finally:
        bar.close()
    note = failed_note(store)
    if note:
        log(note)


__all__ = [
    "SlurmConfig",
    "array_size",
    "check_slurm_commands",
    "load_slurm_config",
    "local_devices",
    "parse_time",
    "reconcile",
    "run_slurm",
    "run_task",
    "slurm_config",
    "squeue_alive",
    "task_failures",
    "task_log",
]
