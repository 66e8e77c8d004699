"""The devices and slurm executors: settings, bookkeeping, and real runs that must match the local one."""

from __future__ import annotations

import json
import os
import pickle
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from cogsim import cli, executors, sweep, sweep_command
from cogsim.errors import CogsimError, ConfigError
from cogsim.store import Store, load
from cogsim.sweep import lease

SCENARIO = "change_detection"
GRID = {"sim_K": [1.0, 2.0, 3.0], "sim_trials": [30, 60]}  # sim_trials is static: two compiled groups
GRID_ARGS = ["--grid", "sim_K=1.0,2.0,3.0", "--grid", "sim_trials=30,60"]
SEEDS = 2  # 12 points


def _quiet(*_):
    pass


@pytest.fixture(scope="module")
def local_ref(tmp_path_factory) -> pd.DataFrame:
    return sweep.run(
        SCENARIO, grid=GRID, seeds=SEEDS, out=tmp_path_factory.mktemp("local"), chunk_size=6, log=_quiet
    ).to_pandas()


# ------------------------------------------------------------------------------------------- settings


def _sweep_status(run_dir) -> str:
    """What ``cogsim sweep status RUN`` prints."""
    cmd = [sys.executable, "-m", "cogsim", "sweep", "status", str(run_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


def test_parse_time_reads_slurm_formats():
    assert executors.parse_time(45) == 45
    assert executors.parse_time("90") == 90
    assert executors.parse_time("45:30") == 46  # MM:SS, rounded up
    assert executors.parse_time("02:00:00") == 120
    assert executors.parse_time("1-12") == 36 * 60
    assert executors.parse_time("2-00:30:00") == 2 * 1440 + 30
    for bad in ("abc", "1:2:3:4", "0", "-5", "1-", 0):
        with pytest.raises(ConfigError, match="slurm.time"):
            executors.parse_time(bad)


def test_slurm_config_precedence_file_stored_and_explicit(tmp_path, monkeypatch):
    f = tmp_path / "cluster.toml"
    f.write_text('[slurm]\npartition = "gpu"\ntime = "04:00:00"\nsbatch = ["account=lab"]\n')
    monkeypatch.setenv("COGSIM_SLURM_CONFIG", str(f))
    cfg = executors.slurm_config({"time": "30"})
    assert (cfg.partition, cfg.time, cfg.sbatch) == ("gpu", 30, ("account=lab",))
    # settings stored by an earlier run of the sweep win over the file; explicit values win over both
    cfg = executors.slurm_config({"cpus_per_task": 4}, stored={"partition": "cpu", "time": 15})
    assert (cfg.partition, cfg.time, cfg.cpus_per_task, cfg.sbatch) == ("cpu", 15, 4, ())
    with pytest.raises(ConfigError, match="partitoin"):
        executors.slurm_config({"partitoin": "gpu"})
    with pytest.raises(ConfigError, match="array"):
        executors.slurm_config({"sbatch": ["array=0-3"]})
    with pytest.raises(ConfigError, match="array_parallelism"):
        executors.slurm_config({"array_parallelism": 0})
    (tmp_path / "bad.toml").write_text("partition = ")
    with pytest.raises(CogsimError, match="not valid TOML"):
        executors.load_slurm_config(tmp_path / "bad.toml")


def test_sbatch_script_carries_the_options_users_set(tmp_path):
    from submitit.slurm.slurm import _make_sbatch_string

    cfg = executors.slurm_config(
        {
            "partition": "gpu",
            "time": "1:30:00",
            "cpus_per_task": 8,
            "gpus_per_task": 1,
            "mem": "32G",
            "array_parallelism": 20,
            "sbatch": ("account=mylab", "--qos=short", "exclusive"),
            "setup": ("module load cuda/12.4",),
        }
    )
    text = _make_sbatch_string(
        command="python -m x", folder=tmp_path, map_count=50, **executors._submitit_parameters(cfg)
    )
    for line in (
        "--partition=gpu",
        "--time=90",
        "--cpus-per-task=8",
        "--gpus-per-node=1",
        "--mem=32G",
        "--array=0-49%20",
        "--account=mylab",
        "--qos=short",
        "#SBATCH --exclusive",
        "module load cuda/12.4",
    ):
        assert line in text, line
    assert "--error" not in text  # one log per task: stderr goes with stdout
    assert "--wckey" not in text


def test_cli_slurm_flags_override_the_config_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('partition = "cpu"\ntime = 20\nsetup = "source ~/env.sh"\n')
    args = cli._parser().parse_args(
        [
            "sweep",
            SCENARIO,
            "--grid",
            "sim_K=1",
            "--slurm-config",
            str(f),
            "--slurm-partition",
            "gpu",
            "--slurm-gpus",
            "2",
            "--slurm-opt",
            "qos=long",
            "--slurm-opt",
            "account=x",
            "--slurm-no-wait",
        ]
    )
    s = sweep_command.slurm_settings(args)
    assert s["partition"] == "gpu" and s["time"] == 20 and s["gpus_per_task"] == 2
    assert s["sbatch"] == ("qos=long", "account=x") and s["wait"] is False
    cfg = executors.slurm_config(s)
    assert cfg.setup == ("source ~/env.sh",)
    assert sweep_command.slurm_settings(cli._parser().parse_args(["sweep", SCENARIO])) is None


def test_submitit_and_jax_are_not_imported_by_the_cli_or_the_executors_module():
    code = (
        "import sys, cogsim.cli, cogsim.executors, cogsim.store; "
        "print(sorted(m for m in ('submitit', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_tasks_are_cut_within_static_groups(tmp_path):
    spec = sweep.SweepSpec(SCENARIO, {"sim_K": (1.0, 2.0, 3.0), "sim_trials": (30, 60)}, (0, 1, 2))
    s = Store(tmp_path / "run")
    s.add_points(spec.points())
    tasks = executors._plan_tasks(s, spec, s.pending(), per_task=4)
    assert sum(len(t) for t in tasks) == 18
    assert all(len(t) <= 4 for t in tasks)
    for t in tasks:
        assert len({p[1]["sim_trials"] for p in t}) == 1  # one static group per task: one compilation
    assert sorted(p[0] for t in tasks for p in t) == sorted(s.pending())


# --------------------------------------------------------------------------------------- bookkeeping
def _running_store(tmp_path, worker: str, n: int = 3) -> tuple[Store, list[str]]:
    s = Store(tmp_path / "run")
    s.add_points([({"x": float(i)}, 0) for i in range(n)])
    ids = s.pending()
    s.set_meta("slurm_folder", str(tmp_path / "run" / "slurm"))
    (tmp_path / "run" / "slurm").mkdir()
    s.mark(ids, "running", worker=worker, log=str(executors.task_log(tmp_path / "run" / "slurm", "41_2")))
    return s, ids


def test_reconcile_reports_a_task_that_raised_with_its_error_and_log(tmp_path, monkeypatch):
    s, ids = _running_store(tmp_path, "slurm:41_2")
    with open(tmp_path / "run" / "slurm" / "41_2_0_result.pkl", "wb") as fh:
        pickle.dump(("error", "Traceback (most recent call last):\n  ...\nValueError: boom\n"), fh)
    monkeypatch.setattr(executors, "squeue_alive", lambda ids: {"41_1"})
    assert executors.reconcile(s) == {}
    pts = s.points()
    assert (pts["status"] == "failed").all()
    assert pts["error"].iloc[0] == "array task 41_2: ValueError: boom"
    assert pts["log"].iloc[0].endswith("slurm/41_2_0_log.out")


def test_reconcile_gives_the_points_a_task_recorded_their_own_errors(tmp_path, monkeypatch):
    s, ids = _running_store(tmp_path, "slurm:41_2")
    folder = tmp_path / "run" / "slurm"
    (folder / "failures").mkdir()
    executors.task_failures(folder, "41_2").write_text(json.dumps({ids[0]: "ValueError: bad point"}))
    from cogsim.store import write_shard_file

    write_shard_file(s.root, pd.DataFrame({"point_id": ids[1:2], "y": [1.0]}), worker="slurm:41_2")
    monkeypatch.setattr(executors, "squeue_alive", lambda ids: set())
    lines: list[str] = []
    assert executors.reconcile(s, log=lines.append) == {}  # no result file: killed after its first failure
    pts = s.points().set_index("point_id")
    assert list(pts.loc[ids, "status"]) == ["failed", "done", "failed"]
    assert pts.loc[ids[0], "error"] == "ValueError: bad point"
    assert pts.loc[ids[2], "error"].startswith("array task 41_2 ended without a result")
    assert pts.loc[[ids[0], ids[2]], "log"].str.endswith("slurm/41_2_0_log.out").all()
    assert [ln.split(": ", 1)[1][:25] for ln in lines] == [
        "1 point(s) failed: ValueE",
        "1 point(s) failed: array ",
    ]


def test_a_task_that_slurm_ended_or_never_started_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "squeue_alive", lambda ids: set())
    cancelled = "slurmstepd-n1: error: *** JOB 41 ON n1 CANCELLED AT 2026-01-01T00:00:00"
    ends = {
        f"{cancelled} DUE TO TIME LIMIT ***": "out of time (Slurm's time limit; resume with a longer",
        "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=41.batch.": "out of memory (resume with",
        f"{cancelled} ***": "cancelled (scancel)",
        "": "cancelled, killed, out of time or memory, or its node failed",
        None: "it never started (no log): cancelled while queued",
    }
    for i, (said, why) in enumerate(ends.items()):
        s, ids = _running_store(tmp_path / str(i), "slurm:41_2")
        if said is not None:
            executors.task_log(tmp_path / str(i) / "run" / "slurm", "41_2").write_text(
                f"task output\n{said}\n"
            )
        executors.reconcile(s)
        error = s.points()["error"].iloc[0]
        assert error.startswith(f"array task 41_2 ended without a result: {why}"), error


def test_arrays_are_cut_to_the_clusters_max_array_size(monkeypatch):
    cfg = executors.slurm_config({})
    for cluster, size in ((None, 1000), (5000, 1000), (101, 101), (0, 1)):
        monkeypatch.setattr(executors, "_cluster_max_array_size", lambda c=cluster: c)
        assert executors.array_size(cfg) == size


def test_without_slurm_commands_the_slurm_executor_stops_before_anything_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(CogsimError, match="`sbatch`, `squeue`, `srun` not found on PATH.*--executor local"):
        sweep.run(SCENARIO, grid=GRID, out=tmp_path / "runs", executor="slurm", log=_quiet)
    assert not (tmp_path / "runs").exists()


def test_reconcile_marks_a_vanished_task_failed_but_keeps_live_ones(tmp_path, monkeypatch):
    s, ids = _running_store(tmp_path, "slurm:41_2")
    monkeypatch.setattr(executors, "squeue_alive", lambda ids: {"41_2"})
    assert executors.reconcile(s) == {"41_2": ids}
    monkeypatch.setattr(executors, "squeue_alive", lambda ids: None)  # squeue cannot answer: assume alive
    assert executors.reconcile(s) == {"41_2": ids}
    monkeypatch.setattr(executors, "squeue_alive", lambda ids: set())
    gone: dict[str, float] = {}
    assert executors.reconcile(s, grace_s=60, gone=gone) == {"41_2": ids}  # within the grace period
    assert s.counts()["running"] == 3
    # the task wrote one point before it was killed: that point is done, the others failed
    from cogsim.store import write_shard_file

    write_shard_file(s.root, pd.DataFrame({"point_id": ids[:1], "y": [1.0]}), worker="slurm:41_2")
    assert executors.reconcile(s) == {}
    assert s.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 2}
    assert "ended without a result" in s.points()["error"].iloc[1]


def test_the_points_of_a_dead_local_process_count_as_interrupted(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    s, ids = _running_store(tmp_path, f"local:{os.uname().nodename}:{dead.pid}")
    assert s.counts()["running"] == 3  # the index as it stands
    executors.reconcile(s)
    assert s.counts() == {"pending": 0, "running": 0, "done": 0, "failed": 3}
    assert s.points()["error"].str.startswith(f"interrupted: sweep process {dead.pid} on ").all()
    assert s.pending() == ids  # resume runs them again
    s2 = Store(tmp_path / "other")
    s2.add_points([({"x": 1.0}, 0)])
    s2.mark(s2.pending(), "running", worker=sweep.local_worker())  # this very process: alive
    executors.reconcile(s2)
    assert s2.counts()["running"] == 1


def test_points_whose_lease_ran_out_count_as_interrupted_a_renewed_lease_keeps_them(tmp_path, monkeypatch):
    # a sweep process on another machine (no pid to check from here), one on this machine whose pid is now
    # another process's (this one's), and one on another machine that renews its lease
    s = Store(tmp_path / "run")
    s.add_points([({"x": float(i)}, 0) for i in range(4)])
    ids = s.pending()
    workers = ["local:elsewhere:123", sweep.local_worker(), "local:elsewhere:456"]
    for pid, worker in zip(ids[:3], workers, strict=True):
        s.mark([pid], "running", worker=worker)
    with s._transaction() as con:
        old = time.time() - lease.LEASE_S - 120
        con.execute("UPDATE points SET updated = ? WHERE status = 'running'", (old,))
    assert lease.renew(s, "local:elsewhere:456") == 1
    lines: list[str] = []
    assert executors.reconcile(s, log=lines.append) == {}
    assert s.counts() == {"pending": 1, "running": 1, "done": 0, "failed": 2}
    pts = s.points().set_index("point_id")
    assert pts.loc[ids[0], "error"] == (
        "interrupted: local:elsewhere:123 has not renewed its lease on these points for 7 min (killed, or "
        "its machine stopped)"
    )
    assert pts.loc[ids[1], "error"].startswith(f"interrupted: {sweep.local_worker()} has not renewed")
    assert pts.loc[ids[2], "status"] == "running" and len(lines) == 2
    assert s.pending() == ids  # resume runs the interrupted points again (and the others not done)
    status = _sweep_status(s.root)
    assert "failed: 1 point(s) in local:elsewhere:123: interrupted: " in status, status
    assert "running: 1 point(s) in local:elsewhere:456 (lease renewed " in status, status
    # a sweep process renews its lease from a thread while it computes
    monkeypatch.setattr(lease, "HEARTBEAT_S", 0.05)
    s.mark(ids[3:], "running", worker="local:here:1")
    with s._transaction() as con:
        con.execute("UPDATE points SET updated = 0 WHERE point_id = ?", (ids[3],))
    renewing = lease.Lease(s, "local:here:1")
    try:
        _wait(lambda: s.points().set_index("point_id").loc[ids[3], "updated"] > 0, 10, "a renewal")
    finally:
        renewing.stop()


# ------------------------------------------------------------------------------------------- devices
def test_devices_executor_shards_over_two_cpu_devices_and_matches_local(tmp_path):
    # the sharded sweep and its local reference in one process without the tests' XLA_FLAGS (XLA's older CPU
    # emitters, tests/conftest.py; with them the two differed in one value's last place): a bit-for-bit claim
    # about the code generation users run
    code = (
        "import json, sys\n"
        "from cogsim import sweep\n"
        f"ref = sweep.run({SCENARIO!r}, grid={GRID!r}, seeds={SEEDS}, out=sys.argv[2], chunk_size=6,\n"
        "                log=lambda *_: None)\n"
        f"s = sweep.run({SCENARIO!r}, grid={GRID!r}, seeds={SEEDS}, out=sys.argv[1], chunk_size=3,\n"
        "              executor='devices', log=lambda *_: None)\n"
        "print(json.dumps(s.get_meta('executor')))\n"
    )
    test_flags = os.environ.get("COGSIM_TEST_XLA_FLAGS", "").strip()
    user_flags = os.environ.get("XLA_FLAGS", "").replace(test_flags, "")  # "" leaves it as it is
    env = {**os.environ, "XLA_FLAGS": f"{user_flags} --xla_force_host_platform_device_count=2".strip()}
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "devices"), str(tmp_path / "local")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    meta = json.loads(out.stdout.strip().splitlines()[-1])
    assert meta["name"] == "devices" and len(meta["devices"]) == 2
    (run_dir,), (ref_dir,) = (tmp_path / "devices").iterdir(), (tmp_path / "local").iterdir()
    pd.testing.assert_frame_equal(load(run_dir).to_pandas(), load(ref_dir).to_pandas())


# --------------------------------------------------------------------------------- a real Slurm cluster
def _squeue(name: str) -> dict[str, str]:
    out = subprocess.run(
        ["squeue", "-h", "-r", "-n", name, "-o", "%i %T"], capture_output=True, text=True, timeout=30
    )
    return dict(line.split() for line in out.stdout.splitlines() if line.strip())


def _wait(pred, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.slurm
def test_slurm_array_survives_a_killed_task_and_a_killed_driver(slurm_cluster, local_ref, tmp_path):
    name = f"cogsim-test-{uuid.uuid4().hex[:8]}"
    gate = tmp_path / "gate"
    out = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "cogsim",
        "sweep",
        SCENARIO,
        *GRID_ARGS,
        "--seeds",
        str(SEEDS),
        "--chunk-size",
        "6",
        "--out",
        str(out),
        "--executor",
        "slurm",
        "--slurm-job-name",
        name,
        "--slurm-time",
        "10",
        "--slurm-poll",
        "0.3",
        "--slurm-setup",
        f"while [ ! -e {gate} ]; do sleep 0.1; done",
    ]
    if slurm_cluster["partition"]:
        cmd += ["--slurm-partition", slurm_cluster["partition"]]
    driver_log = tmp_path / "driver.log"
    with open(driver_log, "w") as log:
        driver = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        # two array tasks (one per static group of 6 points), held at the gate in their setup line
        tasks = _wait(
            lambda: (q := _squeue(name)) and len(q) == 2 and "RUNNING" in q.values() and q,
            90,
            f"two array tasks, one running ({driver_log.read_text()[-2000:]})",
        )
        victim = max(t for t, state in tasks.items() if state == "RUNNING")
        (survivor,) = set(tasks) - {victim}
        subprocess.run(["scancel", "--signal=KILL", "--full", victim], check=True, timeout=30)
        _wait(lambda: "point(s) failed" in driver_log.read_text(), 60, "the driver to report the killed task")
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
        gate.touch()
    (run_dir,) = out.iterdir()
    text = driver_log.read_text()
    assert f"6 point(s) failed: array task {victim} ended without a result" in text, text
    status = _sweep_status(run_dir)
    log_path = executors.task_log(run_dir.resolve() / "slurm", victim)
    assert f"failed: 6 point(s) in slurm:{victim}" in status and str(log_path) in status, status
    assert log_path.exists()
    # resume: waits for the surviving task (not submitted again) and submits only the killed task's points
    res = subprocess.run(
        [sys.executable, "-m", "cogsim", "sweep", "--resume", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert (
        "6 to submit" in res.stdout
        and "submitted Slurm job" in res.stdout
        and ": 1 task(s), 6 points" in res.stdout
    )
    store = load(run_dir)
    assert store.counts() == {"pending": 0, "running": 0, "done": 12, "failed": 0}
    df = store.to_pandas()
    assert df["point_id"].is_unique and len(df) == 12
    pd.testing.assert_frame_equal(df, local_ref)
    stored = store.get_meta("executor")
    assert stored["name"] == "slurm" and stored["slurm"]["job_name"] == name and "wait" not in stored["slurm"]
    workers = store.points().set_index("point_id")["worker"]
    assert (workers == f"slurm:{survivor}").sum() == 6  # the survivor's points were never resubmitted
    assert not (workers == f"slurm:{victim}").any()


@pytest.mark.slurm
def test_a_failing_point_of_an_array_task_fails_alone_and_resume_retries_only_it(slurm_cluster, tmp_path):
    # one task of two points, one chunk each, the first failing: the task's python makes sim_K=2.0 raise
    from tests.tools import failing_task_python

    tool = Path(__file__).parent / "tools" / "failing_task_python.py"
    name = f"cogsim-test-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "cogsim", "sweep", SCENARIO, "--grid", "sim_K=2.0,1.0", "--chunk-size", "1"]
    cmd += ["--out", str(out), "--executor", "slurm", "--slurm-job-name", name, "--slurm-time", "10"]
    cmd += ["--slurm-poll", "0.3", "--slurm-points-per-task", "2"]
    if slurm_cluster["partition"]:
        cmd += ["--slurm-partition", slurm_cluster["partition"]]
    python = f"{shlex.quote(sys.executable)} {shlex.quote(str(tool))}"
    res = subprocess.run([*cmd, "--slurm-python", python], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 task(s), 2 points" in res.stdout and "1 point(s) failed" in res.stdout, res.stdout
    (run_dir,) = out.iterdir()
    store = load(run_dir)
    assert store.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 1}
    pts = store.points().set_index("point_id")
    bad = pts.index[pts["status"] == "failed"].item()
    good = pts.index[pts["status"] == "done"].item()
    assert json.loads(pts.loc[bad, "params"]) == {"sim_K": 2.0}
    task = pts.loc[bad, "worker"].split(":", 1)[1]
    log_path = executors.task_log(run_dir.resolve() / "slurm", task)
    assert pts.loc[bad, "error"] == failing_task_python.ERROR and pts.loc[bad, "log"] == str(log_path)
    assert f"1 point(s) failed: {failing_task_python.ERROR} (log: {log_path})" in res.stdout
    status = _sweep_status(run_dir)
    assert f"failed: 1 point(s) in slurm:{task}: {failing_task_python.ERROR} (log: {log_path})" in status, (
        status
    )
    assert "task(s) failed" not in status and "array task" not in status
    shard = pts.loc[good, "shard"]
    # resume with the usual python: only the failed point is submitted; the done one is kept
    res = subprocess.run(
        [sys.executable, "-m", "cogsim", "sweep", "--resume", str(run_dir), "--slurm-python", sys.executable],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 to submit" in res.stdout and ": 1 task(s), 1 points" in res.stdout, res.stdout
    store = load(run_dir)
    assert store.counts() == {"pending": 0, "running": 0, "done": 2, "failed": 0}
    assert store.points().set_index("point_id").loc[good, "shard"] == shard


@pytest.mark.slurm
def test_a_task_that_slurm_cancels_counts_as_failed_with_its_cause(slurm_cluster, tmp_path):
    # submitted without a driver; the task is held at a gate, then cancelled: reconcile sees it gone
    name = f"cogsim-test-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "cogsim", "sweep", SCENARIO, "--grid", "sim_K=1.0,2.0", "--out", str(out)]
    cmd += ["--executor", "slurm", "--slurm-job-name", name, "--slurm-time", "10", "--slurm-no-wait"]
    cmd += ["--slurm-setup", f"while [ ! -e {tmp_path / 'gate'} ]; do sleep 0.1; done"]
    if slurm_cluster["partition"]:
        cmd += ["--slurm-partition", slurm_cluster["partition"]]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "1 task(s), 2 points" in res.stdout, res.stdout + res.stderr
    (run_dir,) = out.iterdir()
    try:
        task = _wait(
            lambda: next((t for t, st in _squeue(name).items() if st == "RUNNING"), None), 90, "a start"
        )
        store = load(run_dir)
        assert store.counts()["running"] == 2
        subprocess.run(["scancel", task], check=True, timeout=30)
        _wait(lambda: not _squeue(name), 60, "the task to leave the queue")
    finally:
        subprocess.run(["scancel", "-n", name], timeout=30)
    executors.reconcile(store)
    assert store.counts() == {"pending": 0, "running": 0, "done": 0, "failed": 2}
    assert set(store.points()["error"]) == {f"array task {task} ended without a result: cancelled (scancel)"}
    assert "--resume" in _sweep_status(run_dir)
