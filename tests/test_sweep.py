"""Local sweeps: grid parsing, vectorised evaluation, chunking, seeds, crashes, SIGKILL and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cogsim import cli, executors, runner, sweep
from cogsim.errors import CogsimError
from cogsim.store import Store, load

SCENARIO = "change_detection"
GRID = {"sim_K": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0], "sim_a": [0.7, 0.85, 1.0]}
SEEDS = 4  # 10 x 3 x 4 = 120 points, one static group (all swept fields are vectorised)
GRID_ARGS = ["--grid", "sim_K=" + ",".join(map(str, GRID["sim_K"])), "--grid", "sim_a=0.7,0.85,1.0"]


def _quiet(*_):
    pass


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pd.DataFrame:
    store = sweep.run(
        SCENARIO, grid=GRID, seeds=SEEDS, out=tmp_path_factory.mktemp("ref"), chunk_size=64, log=_quiet
    )
    return store.to_pandas()


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_grid_types_values_and_rejects_bad_input():
    base = runner.make_config(SCENARIO)
    assert sweep.parse_grid(["sim_K=1,2.5", "sim_trials=10,20"], base) == {
        "sim_K": (1.0, 2.5),
        "sim_trials": (10, 20),
    }
    with pytest.raises(CogsimError, match="field=v1,v2"):
        sweep.parse_grid(["sim_K"], base)
    with pytest.raises(CogsimError, match="sim_KK"):
        sweep.parse_grid(["sim_KK=1,2"], base)
    with pytest.raises(CogsimError, match="sim_K"):
        sweep.parse_grid(["sim_K=1,99"], base)  # above the field's range
    with pytest.raises(CogsimError, match="twice"):
        sweep.parse_grid(["sim_K=1", "sim_K=2"], base)


def test_a_grid_over_a_field_of_several_values_takes_each_value_in_brackets(tmp_path):
    base = runner.make_config(SCENARIO)
    grid = sweep.parse_grid(["models=(fixed_capacity),(fixed_capacity,workspace)", "sim_K=1,2"], base)
    assert grid == {"models": (("fixed_capacity",), ("fixed_capacity", "workspace")), "sim_K": (1.0, 2.0)}
    assert sweep.parse_grid(["models=fixed_capacity,workspace"], base) == {
        "models": (("fixed_capacity",), ("workspace",))  # no brackets: one item per value, as before
    }
    models = [("fixed_capacity",), ["fixed_capacity", "workspace"]]  # a Python grid: tuples (or lists)
    with pytest.raises(CogsimError, match="'models' not read by change_detection.sweep_point"):
        sweep.run(SCENARIO, grid={"models": models}, out=tmp_path, log=_quiet)  # parsed, then refused
    with pytest.raises(CogsimError, match=r"grid\['data'\]: got 'a,b.csv'; allowed: values without commas"):
        sweep.run(SCENARIO, grid={"data": ["a,b.csv", "c.csv"]}, out=tmp_path, log=_quiet)
    assert not any(tmp_path.iterdir())
    for bad in ("models=(fixed_capacity", "models=fixed_capacity),(workspace"):
        with pytest.raises(CogsimError, match=r"brackets do not match; allowed: .* field=\(a,b\),\(c\)"):
            sweep.parse_grid([bad], base)


def test_non_finite_grid_values_are_rejected_before_anything_runs(tmp_path):
    with pytest.raises(CogsimError, match="'sim_K': got nan; allowed: a finite number"):
        sweep.run(SCENARIO, grid=["sim_K=nan,2"], out=tmp_path, log=_quiet)
    assert not any(tmp_path.iterdir())


def test_a_swept_field_that_sweep_point_ignores_stops_the_sweep(tmp_path, capsys):
    with pytest.raises(CogsimError, match="'fit_steps' not read by change_detection.sweep_point"):
        sweep.run(SCENARIO, grid=["fit_steps=50,60", "sim_K=1,2"], out=tmp_path, log=_quiet)
    assert not any(tmp_path.iterdir())
    code, _, err = _cli(["sweep", SCENARIO, "--grid", "fit_steps=50,60", "--out", str(tmp_path)], capsys)
    assert code == 2 and "not read by" in err and len(err.strip().splitlines()) == 1


def test_a_set_field_that_sweep_point_ignores_stops_the_sweep(tmp_path, capsys):
    with pytest.raises(CogsimError, match="'n_boot' not read by change_detection.sweep_point, so --set"):
        sweep.run(SCENARIO, grid=["sim_K=1,2"], overrides=["n_boot=10"], out=tmp_path, log=_quiet)
    assert not any(tmp_path.iterdir())


def test_resume_refuses_settings_it_would_ignore(tmp_path, capsys):
    s = sweep.run(SCENARIO, grid=["sim_K=1,2"], out=tmp_path, log=_quiet)
    capsys.readouterr()  # the sweep's progress lines
    for extra in (["--seeds", "5"], ["--root-seed", "7"], ["--preset", "paper"], ["--set", "sim_a=0.9"],
                  ["--out", str(tmp_path / "elsewhere")], ["--chunk-size", "0"]):  # fmt: skip
        code, _, err = _cli(["sweep", "--resume", str(s.root), *extra], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, (extra, err)
        assert extra[0] in err or "chunk_size=0" in err, (extra, err)
    assert not (tmp_path / "elsewhere").exists()
    code, out, _ = _cli(["sweep", "--resume", str(s.root), "--chunk-size", "1"], capsys)
    assert code == 0 and "2 of 2 points done" in out
    # the sweep's own command with --resume: continues it; with another seed count or grid it is another
    # sweep, which --resume refuses (naming the sweep there) instead of starting it from scratch
    command = ["sweep", SCENARIO, "--grid", "sim_K=1,2", "--out", str(tmp_path), "--resume"]
    code, out, _ = _cli(command, capsys)
    assert code == 0 and "2 of 2 points done" in out
    for changed in (["--seeds", "2"], ["--grid", "sim_a=0.5,0.9"], ["--root-seed", "3"]):
        code, _, err = _cli([*command, *changed], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, (changed, err)
        assert "no earlier run of this sweep" in err and str(s.root) in err, (changed, err)
    assert [p.name for p in tmp_path.iterdir()] == [s.root.name]
    assert load(s.root).counts()["done"] == 2


def test_grid_values_allowed_alone_but_not_together_stop_the_sweep_before_anything_runs(tmp_path):
    grid = {"n_entities": [2, 12], "typical_per_subject": [1, 20]}  # 20 pairs need n_entities >= 5
    with pytest.raises(CogsimError, match="grid point n_entities=2, typical_per_subject=20 is not allowed"):
        sweep.run("episodic_recall", grid=grid, out=tmp_path, log=_quiet)
    assert not any(tmp_path.iterdir())


def test_sweeps_too_large_for_the_memory_stop_before_anything_runs(tmp_path, monkeypatch):
    from cogsim.scenarios import change_detection, iconic_memory

    per_point = change_detection.sweep_point_bytes(change_detection.PRESETS["quick"])
    monkeypatch.setenv("COGSIM_MEMORY_BYTES", str(10 * per_point))
    with pytest.raises(CogsimError, match="chunk_size: got 11 points at once.*at most 10$"):
        sweep.run(SCENARIO, grid=["sim_K=1,2"], seeds=6, chunk_size=11, out=tmp_path, log=_quiet)
    need = iconic_memory.memory_bytes(iconic_memory.PRESETS["quick"])
    monkeypatch.setenv("COGSIM_MEMORY_BYTES", str(max(need.values())))
    with pytest.raises(CogsimError, match="'n_fit_trials': got 400; allowed: a size whose arrays fit"):
        sweep.run("iconic_memory", grid=["n_fit_trials=200,400"], out=tmp_path, log=_quiet)
    assert not any(tmp_path.iterdir())


def test_seed_counts_and_root_seeds_out_of_range_are_rejected(tmp_path):
    for kwargs in ({"seeds": 0}, {"seeds": 10**12}, {"seeds": [-1]}, {"root_seed": 2**40}):
        with pytest.raises(CogsimError, match="seed"):
            sweep.run(SCENARIO, grid=["sim_K=1,2"], out=tmp_path, log=_quiet, **kwargs)


def test_local_sweep_covers_the_grid_once_with_one_row_per_point(reference):
    assert len(reference) == 10 * 3 * SEEDS
    assert reference["point_id"].is_unique
    assert sorted(reference["seed"].unique()) == [0, 1, 2, 3]
    # the likelihood of the real data does not depend on the seed; the simulated observer does
    ll = reference.groupby(["sim_K", "sim_a"])["loglik"].nunique()
    assert (ll == 1).all()
    acc = reference.groupby(["sim_K", "sim_a"])["accuracy_n5"].nunique()
    assert (acc > 1).any()
    # a larger capacity gives a better simulated accuracy at set size 8 (averaged over seeds and a)
    by_k = reference.groupby("sim_K")["accuracy_n8"].mean()
    assert by_k.loc[6.0] > by_k.loc[0.5] + 0.1


def test_results_do_not_depend_on_chunk_size(reference, tmp_path):
    df = sweep.run(SCENARIO, grid=GRID, seeds=SEEDS, out=tmp_path, chunk_size=40, log=_quiet).to_pandas()
    pd.testing.assert_frame_equal(df, reference)  # 3 chunks of 40 vs 2 of 64 (the last one padded)


def test_same_root_seed_same_numbers_other_root_seed_other_numbers(reference, tmp_path):
    df1 = sweep.run(
        SCENARIO, grid=GRID, seeds=SEEDS, root_seed=1, out=tmp_path, chunk_size=40, log=_quiet
    ).to_pandas()
    assert df1["point_id"].tolist() == reference["point_id"].tolist()
    assert (df1["loglik"] == reference["loglik"]).all()  # no randomness in the likelihood of the data
    assert (df1["accuracy_n5"] != reference["accuracy_n5"]).mean() > 0.5  # other simulated observers
    assert len(list(tmp_path.iterdir())) == 1


def test_rerunning_a_finished_sweep_computes_nothing(reference, tmp_path):
    out = tmp_path / "runs"
    s = sweep.run(SCENARIO, grid=GRID, seeds=SEEDS, out=out, chunk_size=40, log=_quiet)
    shards = sorted(p.name for p in (s.root / "shards").iterdir())
    lines: list[str] = []
    s2 = sweep.run(SCENARIO, grid=GRID, seeds=SEEDS, out=out, chunk_size=40, log=lines.append)
    assert s2.root == s.root and "120 done, 0 to run" in lines[0]
    assert sorted(p.name for p in (s.root / "shards").iterdir()) == shards
    other = sweep.run(SCENARIO, grid=GRID, seeds=SEEDS, root_seed=5, out=out, chunk_size=40, log=_quiet)
    assert other.root != s.root  # the root seed is part of the run's identity


def test_a_crash_mid_sweep_keeps_finished_chunks_and_resume_runs_the_rest(
    reference, tmp_path, monkeypatch, capsys
):
    calls = {"n": 0}
    real = Store.write_shard

    def crash_on_third(self, df, ids, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real(self, df, ids, **kw)

    monkeypatch.setattr(Store, "write_shard", crash_on_third)
    with pytest.raises(RuntimeError, match="disk on fire"):
        sweep.run(SCENARIO, grid=GRID, seeds=SEEDS, out=tmp_path, chunk_size=40, log=_quiet)
    monkeypatch.setattr(Store, "write_shard", real)
    (run_dir,) = tmp_path.iterdir()
    s = load(run_dir)
    assert s.counts() == {"pending": 0, "running": 0, "done": 80, "failed": 40}
    code, out, _ = _cli(["sweep", "status", str(run_dir)], capsys)
    assert code == 0 and "failed: 40" in out and "disk on fire" in out and "--resume" in out
    code, out, err = _cli(["sweep", "--resume", str(run_dir)], capsys)
    assert code == 0, err
    assert "120 of 120 points done" in out
    pd.testing.assert_frame_equal(s.to_pandas(), reference)


def test_sigkill_mid_sweep_then_the_same_command_finishes_every_point_once(reference, tmp_path):
    # 10 values of sim_K x sim_a = 0.7 x 4 seeds = 40 points, one shard each: a subset of the reference grid
    cmd = [
        sys.executable,
        "-m",
        "cogsim",
        "sweep",
        SCENARIO,
        GRID_ARGS[0],
        GRID_ARGS[1],
        "--grid",
        "sim_a=0.7",
        "--seeds",
        str(SEEDS),
        "--chunk-size",
        "1",
        "--out",
        str(tmp_path),
    ]
    n = 40
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path.parent / f"{tmp_path.name}-jaxcache")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None:
            runs = list(tmp_path.iterdir())
            if runs and (runs[0] / "index.sqlite").exists():
                try:
                    if Store(runs[0]).counts()["done"] >= 3:
                        break
                except Exception:  # noqa: BLE001 - the index may be mid-creation
                    pass
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    (run_dir,) = tmp_path.iterdir()
    s = load(run_dir)
    s.sync()  # a shard renamed into place just before the kill, but not yet in the index, counts as done
    killed_at = s.counts()
    assert 3 <= killed_at["done"] < n, f"the sweep was not killed mid-run: {killed_at}"
    assert killed_at["running"] == n - killed_at["done"]  # the index as the dead process left it
    executors.reconcile(s)
    assert s.counts()["failed"] == n - killed_at["done"]  # its points: interrupted, not running
    out = subprocess.run(
        [sys.executable, "-m", "cogsim", "sweep", "status", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert f"failed: {n - killed_at['done']}" in out and "killed" in out  # status sees the process is gone
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr
    assert f"{killed_at['done']} done, {n - killed_at['done']} to run" in again.stdout
    s = load(run_dir)
    assert s.counts() == {"pending": 0, "running": 0, "done": n, "failed": 0}
    df = s.to_pandas()
    assert df["point_id"].is_unique and len(df) == n
    expected = reference[reference["sim_a"] == 0.7].reset_index(drop=True)
    pd.testing.assert_frame_equal(df, expected)


def test_cli_sweep_reports_bad_input_with_status_2(tmp_path, capsys):
    code, _, err = _cli(["sweep"], capsys)
    assert code == 2 and "scenario name" in err
    code, _, err = _cli(
        [
            "sweep",
            SCENARIO,
            "--grid",
            "sim_K=1",
            "--slurm-partition",
            "gpu",
            "--executor",
            "local",
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 2 and "--executor slurm" in err
    code, _, err = _cli(["sweep", "--resume", str(tmp_path / "nope")], capsys)
    assert code == 2 and "no sweep run" in err
    code, _, err = _cli(
        ["sweep", SCENARIO, "--grid", "sim_K=1", "--chunk-size", "0", "--out", str(tmp_path)], capsys
    )
    assert code == 2 and "chunk_size" in err
    code, _, err = _cli(
        [
            "sweep",
            SCENARIO,
            "--grid",
            "sim_K=1",
            "--executor",
            "slurm",
            "--slurm-time",
            "soon",
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 2 and "slurm.time" in err
    assert not list(Path(tmp_path).iterdir())  # nothing was created by bad commands


def test_a_point_by_point_sweep_stores_each_points_comparison_with_the_human_data(tmp_path):
    # iconic_memory has no sweep_point: every point runs simulate, then compare with Sperling's data
    tiny = ["n_trials=60", "n_fit_trials=30", "tau_grid=0.1,0.3", "k_grid=4.0,5.0", "n_boot=20"]
    store = sweep.run("iconic_memory", grid=["noise=0.2,0.8"], overrides=tiny, out=tmp_path, log=_quiet)
    comps = store.comparisons()
    results = store.to_pandas()
    assert set(comps["point_id"]) == set(results["point_id"]) and comps["point_id"].nunique() == 2
    assert set(comps["kind"]) == {"metric", "check"}
    assert (comps["data_kind"] == "published_means").all()
    assert comps["verdict"].isin(["match", "partial", "mismatch", "demonstration"]).all()
    # the comparison follows the point: the two noise levels give different fitted metrics
    metric = comps[comps["kind"] == "metric"].pivot_table(index="name", columns="point_id", values="value")
    assert (metric.iloc[:, 0] != metric.iloc[:, 1]).any()
    # a comparison file damaged from outside: named, then set aside by resume, which computes its point again
    files = sorted((store.root / "comparisons").glob("*.json"))
    kept = files[1].read_bytes()
    files[0].write_text('{"verdict": "mat')
    with pytest.raises(CogsimError, match=r"is damaged .*`cogsim sweep --resume` sets it aside"):
        store.comparisons()
    lines: list[str] = []
    sweep.resume(store.root, log=lines.append)
    assert sum("is damaged" in ln and "its point is computed again" in ln for ln in lines) == 1, lines
    assert "1 to run" in " ".join(lines) and store.counts()["done"] == 2
    assert files[1].read_bytes() == kept and files[0].with_name(files[0].name + ".damaged").exists()
    pd.testing.assert_frame_equal(store.comparisons(), comps)
    pd.testing.assert_frame_equal(store.to_pandas(), results)


def test_a_field_read_under_one_value_of_a_static_swept_field_counts_as_read():
    import dataclasses
    import types

    import jax.numpy as jnp

    from cogsim.sweep.plan import check_fields_read

    @dataclasses.dataclass(frozen=True)
    class Config:
        mode: str = "a"
        x: float = 1.0

    def sweep_point(config, *, key):
        return {"y": jnp.float32(config.x if config.mode == "b" else 0.0)}  # x matters only in mode "b"

    mod = types.SimpleNamespace(Config=Config, sweep_point=sweep_point, SWEEP_VECTORIZED=())
    with pytest.raises(CogsimError, match="'x' not read by toy.sweep_point, so --set"):
        check_fields_read(mod, Config(), ["x"], scenario="toy", given="set")
    check_fields_read(mod, Config(), ["x"], scenario="toy", given="set", grid={"mode": ("a", "b")})
    check_fields_read(
        mod, Config(), ["x", "mode"], scenario="toy", grid={"mode": ("a", "b"), "x": (1.0, 2.0)}
    )


def test_a_data_file_edited_between_runs_is_another_sweep_and_resume_refuses_it(tmp_path, capsys):
    from cogsim.scenarios import change_detection as cd

    t = cd.trials("adam2015")
    path = tmp_path / "mine.csv"
    t[t.subject.isin([1, 2])].to_csv(path, index=False)
    over, out = [f"data={path}"], tmp_path / "runs"
    grid = {"sim_K": [1.0, 3.0]}
    first = sweep.run(SCENARIO, grid=grid, seeds=1, overrides=over, out=out, log=_quiet)
    again = sweep.run(SCENARIO, grid=grid, seeds=1, overrides=over, out=out, log=_quiet)
    assert again.root == first.root  # the same file: the same sweep
    t[t.subject.isin([1, 3])].to_csv(path, index=False)  # other trials under the same name
    edited = sweep.run(SCENARIO, grid=grid, seeds=1, overrides=over, out=out, log=_quiet)
    assert edited.root != first.root
    old, new = (s.to_pandas().sort_values("sim_K").loglik.to_numpy() for s in (first, edited))
    assert (old != new).all()  # computed on the edited trials, not reused
    with pytest.raises(CogsimError, match=r"sweep: the run's data file .* changed since the run"):
        sweep.resume(first.root, log=_quiet)


TINY_ICONIC = ["n_trials=60", "n_fit_trials=30", "tau_grid=0.1,0.3", "k_grid=4.0,5.0", "n_boot=20"]


def test_a_failing_point_is_recorded_alone_the_others_run_and_resume_retries_only_it(
    tmp_path, monkeypatch, capsys
):
    # point by point (no sweep_point): the first point raises where no validation can see it
    from cogsim.scenarios import iconic_memory

    real = iconic_memory.simulate

    def simulate(config, **kw):
        if config.noise == 0.2:
            raise ValueError("no trials left at this noise")
        return real(config, **kw)

    monkeypatch.setattr(iconic_memory, "simulate", simulate)
    args = ["sweep", "iconic_memory", "--grid", "noise=0.2,0.8", "--out", str(tmp_path)]
    for o in TINY_ICONIC:
        args += ["--set", o]
    code, out, err = _cli(args, capsys)
    assert code == 1 and "Traceback" not in err, err
    assert "1 of 2 points done; 1 failed" in out
    assert "1 point(s) failed: ValueError: no trials left at this noise" in out
    assert "cogsim sweep status" in out
    (run_dir,) = tmp_path.iterdir()
    s = load(run_dir)
    assert s.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 1}
    pts = s.points()
    good = pts.loc[pts["status"] == "done", "point_id"].item()
    assert pts.loc[pts["status"] == "failed", "params"].item() == '{"noise": 0.2}'
    code, out, _ = _cli(["sweep", "status", str(run_dir)], capsys)
    assert code == 0 and "done: 1  failed: 1" in out
    assert "failed: 1 point(s) in local:" in out and "no trials left at this noise" in out
    shard = pts.set_index("point_id").loc[good, "shard"]

    monkeypatch.setattr(iconic_memory, "simulate", real)
    code, out, err = _cli(["sweep", "--resume", str(run_dir)], capsys)
    assert code == 0, err
    assert "1 done, 1 to run" in out and "2 of 2 points done" in out and "failed" not in out
    assert load(run_dir).points().set_index("point_id").loc[good, "shard"] == shard  # kept, not recomputed


def test_a_failing_chunk_of_a_vectorised_sweep_is_recorded_alone_and_the_others_run(tmp_path, monkeypatch):
    from cogsim.sweep import evaluate

    real = evaluate._compiled

    def compiled(mod, cfg, vec, root_seed):
        fn = real(mod, cfg, vec, root_seed)
        if cfg.sim_trials != 30:
            return fn

        def broken(seeds, vals):
            raise FloatingPointError("nan in the likelihood")

        return broken

    monkeypatch.setattr(evaluate, "_compiled", compiled)
    lines: list[str] = []
    grid = {"sim_trials": [30, 60], "sim_K": [1.0, 2.0]}  # two static groups of 2 points, chunks of 1
    s = sweep.run(SCENARIO, grid=grid, out=tmp_path, chunk_size=1, log=lines.append)
    assert s.counts() == {"pending": 0, "running": 0, "done": 2, "failed": 2}
    pts = s.points()
    assert all('"sim_trials": 30' in p for p in pts.loc[pts["status"] == "failed", "params"])
    assert set(pts.loc[pts["status"] == "failed", "error"]) == {"FloatingPointError: nan in the likelihood"}
    assert sum("1 point(s) failed: FloatingPointError" in ln for ln in lines) == 2  # one per chunk
    assert "2 point(s) failed; see `cogsim sweep status" in lines[-1]
    monkeypatch.setattr(evaluate, "_compiled", real)
    lines.clear()
    s = sweep.resume(s.root, log=lines.append)
    assert "2 done, 2 to run" in lines[0]
    assert s.counts()["done"] == 4 and len(s.to_pandas()) == 4


def test_numpy_grids_and_seeds_give_the_same_points_and_numbers(reference, tmp_path):
    np = pytest.importorskip("numpy")
    grid = {k: np.asarray(v) for k, v in GRID.items()}
    df = sweep.run(SCENARIO, grid=grid, seeds=np.arange(SEEDS), out=tmp_path, log=_quiet).to_pandas()
    pd.testing.assert_frame_equal(df, reference)
    from cogsim.sweep.driver import _seed_list

    assert _seed_list(np.int64(2)) == _seed_list(2) == (0, 1)
    assert _seed_list([np.int64(3), 5]) == (3, 5)
    for bad in (True, [np.bool_(True)], [1.5], np.array([[1, 2]])):
        with pytest.raises(CogsimError, match="seed"):
            _seed_list(bad)


def test_resume_names_a_run_dir_that_is_not_a_path():
    with pytest.raises(CogsimError, match="run_dir: got 5"):
        sweep.resume(5)
