"""The persistent compilation cache of cogsim's commands: where it lives, that a rerun loads what the first
run compiled, and that it changes no number."""

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from cogsim import compilation_cache


@pytest.mark.parametrize("value", ["off", "0", "", "No", "none"])
def test_environment_turns_the_cache_off(monkeypatch, value):
    monkeypatch.setenv("COGSIM_COMPILATION_CACHE", value)
    assert compilation_cache.default_directory() is None


def test_default_folder_and_explicit_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("COGSIM_COMPILATION_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compilation_cache.default_directory() == tmp_path / "xdg" / "cogsim" / "jax"
    monkeypatch.setenv("COGSIM_COMPILATION_CACHE", str(tmp_path / "mine"))
    assert compilation_cache.default_directory() == tmp_path / "mine"


# A fresh process (JAX settles its cache once per process): enables the cache from the environment, compiles
# a program that takes well over 0.1 s to compile, and reports the result and the persistent-cache hits.
PROGRAM = textwrap.dedent(
    """
    import jax, jax.numpy as jnp
    from cogsim import compilation_cache
    hits = []
    jax.monitoring.register_event_listener(
        lambda name, **kw: hits.append(name) if name == "/jax/compilation_cache/cache_hits" else None
    )
    print(compilation_cache.enable())

    @jax.jit
    def f(x):
        for i in range(150):
            x = jnp.sin(x @ x.T / 64.0 + i) if i % 3 else jnp.cumsum(x, axis=i % 2)
        return x.sum()

    print(float(f(jnp.linspace(0.0, 1.0, 64 * 64).reshape(64, 64))), len(hits))
    """
)


def _program(env_value):
    env = {**os.environ, "COGSIM_COMPILATION_CACHE": env_value}
    res = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == 0, res.stderr
    folder, line = res.stdout.strip().splitlines()
    value, hits = line.split()
    return folder, float(value), int(hits)


def test_second_process_loads_the_compiled_program_and_gets_the_same_number(tmp_path):
    cache = tmp_path / "cache"
    folder, first, hits = _program(str(cache))
    assert folder == str(cache) and hits == 0
    assert any(p.name.startswith("jit_f-") for p in cache.iterdir())
    _, again, hits = _program(str(cache))
    assert hits >= 1 and again == first
    folder, off, hits = _program("off")
    assert folder == "None" and hits == 0 and off == first


def test_a_folder_that_cannot_be_made_leaves_the_cache_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = subprocess.run(
        [sys.executable, "-c", "from cogsim import compilation_cache; print(compilation_cache.enable())"],
        capture_output=True,
        text=True,
        env={**os.environ, "COGSIM_COMPILATION_CACHE": str(blocker / "cache")},
        timeout=120,
    )
    assert res.returncode == 0 and res.stdout.strip() == "None"
    assert "compilation cache off" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_cogsim_run_fills_the_cache_and_a_rerun_gives_the_same_results(tmp_path):
    cache = tmp_path / "cache"
    args = ["run", "change_detection", "--set", "n_boot=20", "--set", "fit_steps=300", "--set",
            "per_participant=false", "--set", "models=fixed_capacity"]  # fmt: skip
    tables = []
    for i in range(2):
        res = subprocess.run(
            [sys.executable, "-m", "cogsim", *args, "--out", str(tmp_path / f"out{i}")],
            capture_output=True,
            text=True,
            env={**os.environ, "COGSIM_COMPILATION_CACHE": str(cache)},
            timeout=300,
        )
        assert res.returncode == 0, res.stderr
        if i == 0:
            assert any(cache.iterdir())
        tables.append(
            pd.read_parquet(tmp_path / f"out{i}" / "change_detection" / "latest" / "results.parquet")
        )
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_the_folder_is_kept_under_its_size_limit(tmp_path):
    # eight programs of about 3.6 kB each into a 12 kB cache: the least recently used ones are dropped
    program = textwrap.dedent(
        f"""
        import jax, jax.numpy as jnp
        from cogsim import compilation_cache
        compilation_cache.MIN_COMPILE_TIME_S = 0.0
        compilation_cache.enable({str(tmp_path / "cache")!r}, max_size_bytes=12_000)
        for k in range(8):
            jax.jit(lambda x, k=k: jnp.sin(x * (k + 1.5)).sum() + jnp.cos(x @ x.T).max())(jnp.ones((16, 16)))
        """
    )
    res = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    entries = [p for p in (tmp_path / "cache").iterdir() if p.name.endswith("-cache")]
    assert 0 < sum(p.stat().st_size for p in entries) <= 12_000
    assert 1 <= sum(p.name.startswith("jit__lambda-") for p in entries) < 8
