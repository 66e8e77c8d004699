"""The sweep store: atomic shards, the index, adoption of orphan shards, concurrent writers, loading."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from cogsim import store as store_mod
from cogsim.errors import CogsimError
from cogsim.store import Store, load, write_shard_file


def _points(n: int, seeds=(0,)):
    return [({"x": float(i)}, s) for i in range(n) for s in seeds]


def _frame(s: Store, ids, *, tag: str = "a") -> pd.DataFrame:
    pts = s.points().set_index("point_id")
    rows = []
    for pid in ids:
        params = pd.read_json(pd.io.common.StringIO(f"[{pts.at[pid, 'params']}]")).iloc[0].to_dict()
        rows.append(
            {**params, "seed": int(pts.at[pid, "seed"]), "point_id": pid, "y": params["x"] * 2, "tag": tag}
        )
    return pd.DataFrame(rows)


def test_add_points_is_idempotent_and_keeps_grid_order(tmp_path):
    s = Store(tmp_path / "run")
    assert s.add_points(_points(3, seeds=(0, 1))) == 6
    assert s.add_points(_points(4, seeds=(0, 1))) == 2  # only x=3 is new
    assert s.counts() == {"pending": 8, "running": 0, "done": 0, "failed": 0}
    xs = [p for p in s.points()["params"]]
    assert xs[:2] == ['{"x": 0.0}', '{"x": 0.0}'] and xs[-1] == '{"x": 3.0}'


def test_write_shard_marks_done_and_results_come_back_in_grid_order(tmp_path):
    s = Store(tmp_path / "run")
    s.add_points(_points(6))
    ids = s.pending()
    s.write_shard(_frame(s, ids[3:]), ids[3:], worker="w1")
    s.write_shard(_frame(s, ids[:3]), ids[:3], worker="w2")
    assert s.counts()["done"] == 6 and s.pending() == []
    df = s.to_pandas()
    assert list(df["x"]) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert df["point_id"].is_unique


def test_a_point_finished_twice_is_returned_once_with_the_first_result(tmp_path):
    s = Store(tmp_path / "run")
    s.add_points(_points(4))
    ids = s.pending()
    s.write_shard(_frame(s, ids[:3], tag="first"), ids[:3])
    assert s.write_shard(_frame(s, ids[:2], tag="second"), ids[:2]) is None  # all done already: not kept
    s.write_shard(_frame(s, ids[2:], tag="third"), ids[2:])  # overlaps one done point
    df = s.to_pandas()
    assert len(df) == 4 and df["point_id"].is_unique
    assert list(df["tag"]) == ["first", "first", "first", "third"]


def test_orphan_shards_are_adopted_once(tmp_path):
    s = Store(tmp_path / "run")
    s.add_points(_points(5))
    ids = s.pending()
    write_shard_file(s.root, _frame(s, ids[:2]), worker="slurm:7_0")
    write_shard_file(s.root, _frame(s, ids[1:4], tag="late"), worker="slurm:7_1")  # overlaps ids[1]
    assert s.counts()["done"] == 0  # the index does not know yet
    assert s.sync() == 4
    assert s.sync() == 0
    assert s.counts() == {"pending": 1, "running": 0, "done": 4, "failed": 0}
    df = s.to_pandas()
    assert len(df) == 4 and df["point_id"].is_unique
    assert s.pending() == ids[4:]


def test_shard_without_point_ids_cannot_bypass_the_index(tmp_path):
    s = Store(tmp_path / "run")
    with pytest.raises(CogsimError, match="point_id"):
        write_shard_file(s.root, pd.DataFrame({"x": [1.0]}))


def test_sync_between_shard_rename_and_index_commit_loses_nothing(tmp_path, monkeypatch):
    """A concurrent sync() may adopt a shard before its writer commits; the writer must not delete it."""
    s = Store(tmp_path / "run")
    s.add_points(_points(3))
    ids = s.pending()
    real = store_mod.atomic_write_parquet

    def write_then_sync(path, df):
        real(path, df)
        Store(s.root).sync()  # another process adopts the fresh shard right now

    monkeypatch.setattr(store_mod, "atomic_write_parquet", write_then_sync)
    path = s.write_shard(_frame(s, ids), ids)
    assert path is not None and path.exists()
    assert s.counts()["done"] == 3
    assert len(s.to_pandas()) == 3


def test_mark_records_failures_with_log_and_never_downgrades_done(tmp_path):
    s = Store(tmp_path / "run")
    s.add_points(_points(3))
    ids = s.pending()
    s.write_shard(_frame(s, ids[:1]), ids[:1])
    s.mark(ids, "failed", worker="slurm:3_1", error="boom", log="/logs/3_1_0_log.out")
    pts = s.points().set_index("point_id")
    assert pts.at[ids[0], "status"] == "done"
    assert (pts.loc[ids[1:], "status"] == "failed").all()
    assert (pts.loc[ids[1:], "log"] == "/logs/3_1_0_log.out").all()
    assert s.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 2}
    assert s.pending() == ids[1:]  # failed points run again
    s.mark(ids[1:], "running", worker="slurm:4_0")  # resubmitted
    s.mark(ids[1:], "failed", error="stale verdict", held_by="slurm:3_1")  # no longer held by 3_1: no change
    assert s.counts()["running"] == 2
    with pytest.raises(CogsimError, match="status"):
        s.mark(ids, "bogus")


def test_to_xarray_has_one_dimension_per_swept_field_and_seed(tmp_path):
    s = Store(tmp_path / "run")
    pts = [({"a": a, "b": b}, seed) for a in (1.0, 2.0) for b in (10, 20, 30) for seed in (0, 1)]
    s.add_points(pts)
    s.set_meta("dims", ["a", "b"])
    ids = s.pending()
    df = pd.DataFrame(
        [
            {**p, "seed": seed, "point_id": i, "m": p["a"] * p["b"] + seed}
            for (p, seed), i in zip(pts, ids, strict=True)
        ]
    )
    s.write_shard(df, ids)
    ds = s.to_xarray()
    assert dict(ds.sizes) == {"a": 2, "b": 3, "seed": 2}
    assert float(ds["m"].sel(a=2.0, b=30, seed=1)) == 61.0
    s2 = Store(tmp_path / "long")
    s2.add_points(pts[:1])
    s2.set_meta("dims", ["a", "b"])
    (pid,) = s2.pending()
    s2.write_shard(
        pd.DataFrame({"a": [1.0, 1.0], "b": [10, 10], "seed": [0, 0], "point_id": [pid, pid]}), [pid]
    )
    with pytest.raises(CogsimError, match="to_pandas"):
        s2.to_xarray()


def test_load_needs_an_existing_run(tmp_path):
    with pytest.raises(CogsimError, match="index.sqlite"):
        load(tmp_path / "nothing")


_WRITER = textwrap.dedent(
    """
    import sys, pandas as pd
    from cogsim.store import Store, write_shard_file
    root, order, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    s = Store(root)
    ids = s.pending()
    ids = ids if order == "fwd" else ids[::-1]
    for i in range(0, len(ids), 3):
        chunk = ids[i : i + 3]
        df = pd.DataFrame({"point_id": chunk, "y": [len(p) for p in chunk], "writer": order})
        if mode == "index":
            s.write_shard(df, chunk, worker=order)
        else:
            write_shard_file(root, df, worker=order)
            s.sync()
    """
)


@pytest.mark.parametrize("mode", ["index", "files"])
def test_two_processes_writing_one_store_do_not_corrupt_it(tmp_path, mode):
    s = Store(tmp_path / "run")
    s.add_points(_points(120))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(s.root), order, mode], stderr=subprocess.PIPE, text=True
        )
        for order in ("fwd", "rev")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    s.sync()
    with sqlite3.connect(s.root / "index.sqlite") as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert s.counts() == {"pending": 0, "running": 0, "done": 120, "failed": 0}
    df = s.to_pandas()
    assert len(df) == 120 and df["point_id"].is_unique
    assert list(df["point_id"]) == list(s.points()["point_id"])
    assert set(df["writer"]) <= {"fwd", "rev"}


def test_provenance_keeps_the_commit_read_when_the_run_started():
    """A run passes the SHA it read before computing; run.json must not re-read HEAD at write time."""
    from cogsim.store import git_sha, provenance

    rec = provenance(config={"a": 1}, seed=3, git_sha="0" * 40)
    assert rec["git_sha"] == "0" * 40 and rec["seed"] == 3
    assert provenance()["git_sha"] == git_sha()


def test_provenance_records_the_cpu_its_vector_extensions_and_the_xla_flags(monkeypatch):
    """CPU results differ between machines and ISA limits; run.json says which CPU and flags made them."""
    import platform

    from cogsim.store import provenance

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=AVX")
    rec = provenance()
    assert rec["xla_flags"] == "--xla_cpu_max_isa=AVX"
    cpu = rec["cpu"]
    assert cpu["usable_cores"] >= 1
    assert set(cpu["flags"]) <= {
        "sse4_2",
        "avx",
        "avx2",
        "fma",
        "avx512f",
        "avx512bw",
        "avx512_vnni",
        "avx512_bf16",
        "amx_tile",
    }
    if platform.system() == "Linux" and platform.machine() == "x86_64":
        assert cpu["model"] and "sse4_2" in cpu["flags"]  # every x86-64 CPU that runs jaxlib has SSE4.2


def test_a_latest_link_to_a_moved_run_says_so(tmp_path):
    from cogsim.store import resolve_run_folder

    run = tmp_path / "change_detection" / "20260101-000000-quick-s0-abc"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{}")
    (tmp_path / "change_detection" / "latest").symlink_to(run.name)
    assert resolve_run_folder(tmp_path / "change_detection" / "latest") == run.resolve()
    run.rename(tmp_path / "elsewhere")
    with pytest.raises(CogsimError, match=r"latest' points at '20260101-000000-quick-s0-abc', which no"):
        resolve_run_folder(tmp_path / "change_detection" / "latest")


def test_a_run_that_fails_on_its_data_leaves_no_empty_folders(tmp_path):
    from cogsim import data, runner

    graph = tmp_path / "graph"  # the packaged graph's first triples, and an empty test split
    graph.mkdir()
    for split, n in (("train", 300), ("valid", 30)):
        lines = (data.folder("umls") / f"{split}.txt").read_text().splitlines()[:n]
        (graph / f"{split}.txt").write_text("\n".join(lines) + "\n")
    (graph / "test.txt").write_text("")
    out = tmp_path / "runs" / "mine"
    with pytest.raises(CogsimError, match="test.txt: no triples"):  # refused while simulating
        runner.run("kg_semantic_memory", overrides=[f"graph={graph}"], out=out)
    assert not (tmp_path / "runs").exists()
    (out / "kg_semantic_memory").mkdir(parents=True)  # folders that were there before are kept
    with pytest.raises(CogsimError):
        runner.run("kg_semantic_memory", overrides=[f"graph={graph}"], out=out)
    assert list((out / "kg_semantic_memory").iterdir()) == []


def _done_store(root, pts, *, dims, value=lambda p, seed: p["a"] * 10 + seed, spec=None):
    """A store holding ``pts`` (params, seed), every one finished with the metric ``m``."""
    s = Store(root)
    s.add_points(pts)
    s.set_meta("dims", dims)
    if spec is not None:
        s.set_meta("spec", spec)
    ids = s.pending()
    rows = [
        {**p, "seed": seed, "point_id": i, "m": value(p, seed)} for (p, seed), i in zip(pts, ids, strict=True)
    ]
    s.write_shard(pd.DataFrame(rows), ids)
    return s


def test_to_xarray_takes_one_name_as_a_string_and_names_bad_dims_and_metrics(tmp_path):
    s = _done_store(tmp_path / "run", [({"a": a}, seed) for a in (1.0, 2.0) for seed in (0, 1)], dims=["a"])
    assert list(s.to_xarray(metrics="m").data_vars) == ["m"]
    one = _done_store(tmp_path / "one", [({"a": 1.0}, seed) for seed in (0, 1)], dims=["a"])
    assert dict(one.to_xarray(dims="seed").sizes) == {"seed": 2}  # one name, not its letters
    for kwargs, named in (
        ({"metrics": ["nope"]}, "nope"),
        ({"metrics": "a"}, "'a'"),  # a dim is not a metric
        ({"dims": ["a", "zz"]}, "zz"),
        ({"dims": 3}, "dims"),
        ({"dims": []}, "dims"),
        ({"metrics": 5}, "metrics"),
    ):
        with pytest.raises(CogsimError, match=named) as info:
            s.to_xarray(**kwargs)
        assert "allowed" in str(info.value), kwargs


def test_to_xarray_names_the_swept_dims_left_out_of_dims(tmp_path):
    s = _done_store(tmp_path / "run", [({"a": a}, seed) for a in (1.0, 2.0) for seed in (0, 1)], dims=["a"])
    with pytest.raises(CogsimError, match=r"leaves out the swept dims \['seed'\]") as info:
        s.to_xarray(dims=["a"])
    assert "sweep_point" not in str(info.value)
    assert dict(s.to_xarray(dims=["a", "seed"]).sizes) == {"a": 2, "seed": 2}


def test_to_xarray_of_a_partial_sweep_keeps_every_grid_value_with_nan_for_missing_points(tmp_path):
    spec = {"scenario": "x", "grid": {"a": [1.0, 2.0, 3.0]}, "seeds": [0, 1]}
    done = [({"a": 1.0}, 0), ({"a": 2.0}, 1)]
    s = _done_store(tmp_path / "run", done, dims=["a"], value=lambda p, seed: int(p["a"]), spec=spec)
    s.add_points([({"a": a}, seed) for a in (1.0, 2.0, 3.0) for seed in (0, 1)])  # the rest pending
    ds = s.to_xarray()
    assert ds["a"].values.tolist() == [1.0, 2.0, 3.0] and ds["seed"].values.tolist() == [0, 1]
    assert float(ds["m"].sel(a=2.0, seed=1)) == 2.0 and ds["m"].isnull().sum() == 4
    assert ds["m"].dtype == float  # int metric with NaN for the missing points (documented)
    full = _done_store(tmp_path / "full", [({"a": 1.0}, 0)], dims=["a"], value=lambda p, seed: 7)
    assert full.to_xarray()["m"].dtype.kind == "i"  # finished: dtype kept


def test_empty_results_have_the_documented_columns(tmp_path):
    s = Store(tmp_path / "run")
    s.set_meta("dims", ["a"])
    assert list(s.to_pandas().columns) == ["a", "seed", "point_id"] and len(s.to_pandas()) == 0
    cmp = s.comparisons()
    assert list(cmp.columns) == list(store_mod.COMPARISON_COLUMNS)
    assert cmp.query("kind == 'metric'").empty


@pytest.mark.parametrize("text", ["{bad", "[1, 2]"])
def test_a_damaged_comparison_file_is_named(tmp_path, text):
    s = Store(tmp_path / "run")
    (tmp_path / "run" / "comparisons").mkdir()
    (tmp_path / "run" / "comparisons" / "x.json").write_text(text)
    with pytest.raises(CogsimError, match=r"comparison file .*x\.json.* is damaged"):
        s.comparisons()


def test_wrong_argument_types_are_named(tmp_path):
    s = Store(tmp_path / "run")
    s.add_points(_points(1))
    for bad in (123, None, [str(tmp_path)]):
        with pytest.raises(CogsimError, match="run"):
            load(bad)
    calls = {
        "df": lambda: write_shard_file(s.root, {"point_id": ["x"]}),
        "ids": lambda: s.write_shard(pd.DataFrame({"point_id": ["x"]}), "x"),
        "pid": lambda: store_mod.write_point_comparison(s.root, 5, {"metrics": []}),
        "comparison": lambda: store_mod.write_point_comparison(s.root, "p", None),
        "not points of": lambda: s.point_items(["nope"]),
        "point_items: ids": lambda: s.point_items(s.pending()[0]),
        "seed": lambda: store_mod.point_id({"x": 1.0}, 1.7),
    }
    for named, call in calls.items():
        with pytest.raises(CogsimError, match=named):
            call()
    with pytest.raises(CogsimError, match="point_id column"):
        s.write_shard(pd.DataFrame({"x": [0.0]}), s.pending())  # every row carries its point id
    with pytest.raises(CogsimError, match="seed"):
        store_mod.point_id({"x": 1.0}, "x")


def test_point_ids_of_numpy_values_are_those_of_the_python_values():
    np = pytest.importorskip("numpy")
    known = '{"params":{"sim_K":2.0,"sim_a":[1,2]},"seed":0}'  # ids stored by earlier sweeps do not change
    assert store_mod.point_id({"sim_a": [1, 2], "sim_K": 2.0}, 0) == known
    for k in (np.float32(2.0), np.float64(2.0), np.array(2.0)):
        assert store_mod.point_id({"sim_K": k, "sim_a": [np.int64(1), 2]}, np.int64(0)) == known


def test_a_foreign_parquet_file_in_place_of_a_shard_is_damaged(tmp_path):
    s = _done_store(tmp_path / "run", [({"a": 1.0}, 0), ({"a": 2.0}, 0)], dims=["a"])
    (shard,) = (tmp_path / "run" / "shards").glob("*.parquet")
    pd.DataFrame({"z": [1]}).to_parquet(shard)
    with pytest.raises(CogsimError, match="is damaged"):
        s.to_pandas()
    pd.DataFrame({"point_id": [s.points()["point_id"][0]], "m": [1.0]}).to_parquet(shard)  # one point short
    with pytest.raises(CogsimError, match="is damaged"):
        s.to_pandas()
    from cogsim.sweep import repair

    assert list(repair.damaged_shards(s).values()) == [(2, "lacks 1 of its points")]


def test_load_creates_nothing_and_a_missing_shards_folder_is_damage(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CogsimError, match="index.sqlite"):
        load(tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []
    s = _done_store(tmp_path / "run", [({"a": 1.0}, 0)], dims=["a"])
    before = sorted(p.name for p in s.root.iterdir())
    import shutil

    shutil.rmtree(s.root / "shards")
    with pytest.raises(CogsimError, match="shards folder is missing"):
        load(s.root)
    assert sorted(p.name for p in s.root.iterdir()) == sorted(set(before) - {"shards"})
