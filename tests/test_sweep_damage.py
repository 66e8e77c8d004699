"""Damaged sweep run folders, through the real command line: a garbage index stops with one line; a truncated
shard is reported by `status` and recomputed by `--resume`, keeping every other finished point."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from cogsim import store


def cogsim(*args):
    return subprocess.run(
        [sys.executable, "-m", "cogsim", *args], capture_output=True, text=True, timeout=300
    )


def _one_clean_line(res):
    assert "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


@pytest.fixture
def sweep_dir(tmp_path):
    args = ["sweep", "change_detection", "--grid", "sim_K=1,2,3", "--chunk-size", "1", "--quiet"]
    res = cogsim(*args, "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return folder


def _pages_overwritten(data: bytes) -> bytes:
    """The file with every byte between the leading magic and the footer overwritten (footer intact)."""
    footer = int.from_bytes(data[-8:-4], "little")
    end = len(data) - 8 - footer
    return data[:4] + b"\xab" * (end - 4) + data[end:]


@pytest.mark.parametrize(
    "damage", [lambda b: b[:40], _pages_overwritten], ids=["truncated", "pages_overwritten_footer_intact"]
)
def test_a_damaged_shard_is_reported_and_resume_recomputes_only_its_points(sweep_dir, damage):
    before = store.load(sweep_dir).to_pandas()
    shards = sorted((sweep_dir / "shards").glob("*.parquet"))
    assert len(shards) == 3
    damaged, kept = shards[0], shards[1:]
    kept_bytes = {p.name: p.read_bytes() for p in kept}
    damaged.write_bytes(damage(damaged.read_bytes()))

    with pytest.raises(store.CogsimError, match="is damaged"):
        store.load(sweep_dir).to_pandas()
    res = cogsim("sweep", "status", str(sweep_dir))
    assert res.returncode == 0, res.stderr
    assert f"damaged: shard '{damaged}'" in res.stdout and "--resume" in res.stdout

    res = cogsim("sweep", "--resume", str(sweep_dir))
    assert res.returncode == 0, res.stderr
    assert "1 of 3" not in res.stdout and "3 of 3 points done" in res.stdout
    assert "is damaged" in res.stdout and "1 point(s) are computed again" in res.stdout
    assert (damaged.parent / (damaged.name + ".damaged")).exists()  # kept aside, not deleted
    assert {p.name: p.read_bytes() for p in kept} == kept_bytes  # finished points untouched
    pd.testing.assert_frame_equal(store.load(sweep_dir).to_pandas(), before)
    res = cogsim("sweep", "status", str(sweep_dir))
    assert res.returncode == 0 and "damaged" not in res.stdout, res.stdout


def test_status_does_not_count_the_points_of_a_deleted_shard_as_done(sweep_dir):
    shards = sorted((sweep_dir / "shards").glob("*.parquet"))
    shards[0].unlink()
    res = cogsim("sweep", "status", str(sweep_dir))
    assert res.returncode == 0, res.stderr
    assert "done: 2 (+1 in damaged shards, computed again on resume)" in res.stdout, res.stdout
    assert "done: 3" not in res.stdout and "total: 3" in res.stdout
    assert f"damaged: shard '{shards[0]}' (1 done point(s)) cannot be read: missing" in res.stdout


def test_a_garbage_index_stops_status_and_resume_with_one_line(sweep_dir):
    index = sweep_dir / "index.sqlite"
    for extra in sweep_dir.glob("index.sqlite-*"):  # WAL and shared-memory files of the good index
        extra.unlink()
    index.write_bytes(b"garbage" * 100)
    for args in (["sweep", "status", str(sweep_dir)], ["sweep", "--resume", str(sweep_dir)]):
        res = cogsim(*args)
        assert res.returncode == 2, res.stderr
        assert f"'{index}' is damaged" in res.stderr
        _one_clean_line(res)
    assert json.loads((sweep_dir / "run.json").read_text())["kind"] == "sweep"
    assert len(list((sweep_dir / "shards").glob("*.parquet"))) == 3  # nothing removed
