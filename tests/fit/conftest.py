"""Small models written for the fitting layer's tests: a Gaussian, a Laplace, and a von Mises + uniform
mixture (optionally fitted per set size), each with loglik, simulate and design."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim.fit import Param

_GRID = jnp.linspace(-math.pi, math.pi, 4097)[:-1]


class Gauss:
    name, by_set_size, requires = "gauss", False, ()
    params = (Param("mu", default=0.0), Param("sd", 0.0, default=1.0))

    def loglik(self, p, t):
        return jax.scipy.stats.norm.logpdf(t["x"], p["mu"], p["sd"])

    def simulate(self, p, t, *, key):
        return {"x": p["mu"] + p["sd"] * jax.random.normal(key, t["trial"].shape)}

    def design(self, n, *, key):
        return {"trial": jnp.arange(n)}


class Laplace(Gauss):
    name = "laplace"
    params = (Param("mu", default=0.0), Param("b", 0.0, default=1.0))

    def loglik(self, p, t):
        return -jnp.abs(t["x"] - p["mu"]) / p["b"] - jnp.log(2 * p["b"])

    def simulate(self, p, t, *, key):
        return {"x": p["mu"] + p["b"] * jax.random.laplace(key, t["trial"].shape)}


class VonMisesMixture:
    """p_mem von Mises(0, kappa) + (1 - p_mem) uniform on the circle; ``error_rad`` in [-pi, pi)."""

    name, requires = "vm_mixture", ()
    params = (Param("p_mem", 0.0, 1.0, default=0.5), Param("kappa", 0.0, default=5.0))

    def __init__(self, by_set_size: bool = False):
        self.by_set_size = by_set_size

    def loglik(self, p, t):
        x = t["error_rad"]
        log_vm = p["kappa"] * (jnp.cos(x) - 1.0) - jnp.log(2 * jnp.pi * jax.scipy.special.i0e(p["kappa"]))
        return jnp.logaddexp(jnp.log(p["p_mem"]) + log_vm, jnp.log1p(-p["p_mem"]) - jnp.log(2 * jnp.pi))

    def simulate(self, p, t, *, key):
        n = t["set_size"].shape
        k1, k2, k3, k4 = jax.random.split(key, 4)
        idx = jax.random.categorical(k1, p["kappa"] * jnp.cos(_GRID), shape=n)
        vm = _GRID[idx] + jax.random.uniform(k2, n, maxval=2 * jnp.pi / 4096)
        vm = jnp.mod(vm + jnp.pi, 2 * jnp.pi) - jnp.pi
        guess = jax.random.uniform(k3, n, minval=-jnp.pi, maxval=jnp.pi)
        return {"error_rad": jnp.where(jax.random.bernoulli(k4, p["p_mem"], n), vm, guess)}

    def design(self, n, *, key):
        return {"set_size": jax.random.choice(key, jnp.array([2, 6]), (n,))}


class Bounded:
    """The von Mises mixture with kappa bounded above too, so that uniform priors apply (the sampler's)."""

    name, by_set_size, requires = "vm_bounded", False, ()
    params = (Param("p_mem", 0.0, 1.0, default=0.5), Param("kappa", 0.0, 100.0, default=5.0))

    def __init__(self, base=None):
        self.base = base or VonMisesMixture()

    def loglik(self, p, t):
        return self.base.loglik(p, t)


def vm_loglik_np(p_mem: float, kappa: float, x: np.ndarray) -> float:
    """The mixture's summed log-likelihood in NumPy/SciPy (float64), for scipy.optimize."""
    from scipy import special

    log_vm = kappa * (np.cos(x) - 1.0) - np.log(2 * np.pi * special.i0e(kappa))
    return float(np.sum(np.logaddexp(np.log(p_mem) + log_vm, np.log1p(-p_mem) - np.log(2 * np.pi))))


def simulate_frame(model, truth: dict, n_trials, *, seed: int = 0) -> pd.DataFrame:
    """Trials of len(n_trials) participants (ids 1..), participant i with n_trials[i] trials and
    parameters {name: values[i]}."""
    frames = []
    key = jax.random.key(seed)
    for i, n in enumerate(n_trials):
        ki = jax.random.fold_in(key, i)
        design = {c: np.asarray(v) for c, v in model.design(n, key=jax.random.fold_in(ki, 0)).items()}
        vals = {k: jnp.float32(v[i]) for k, v in truth.items()}
        resp = model.simulate(
            vals, {c: jnp.asarray(v) for c, v in design.items()}, key=jax.random.fold_in(ki, 1)
        )
        frames.append(
            pd.DataFrame({"subject": i + 1, **design, **{c: np.asarray(v) for c, v in resp.items()}})
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def gauss():
    return Gauss()


@pytest.fixture
def laplace():
    return Laplace()


@pytest.fixture
def vm_mixture():
    return VonMisesMixture()


@pytest.fixture
def toy():
    """The helpers above, for test modules (which cannot import conftest under --import-mode=importlib)."""
    import types

    return types.SimpleNamespace(
        Gauss=Gauss,
        Laplace=Laplace,
        VonMisesMixture=VonMisesMixture,
        Bounded=Bounded,
        simulate_frame=simulate_frame,
        vm_loglik_np=vm_loglik_np,
    )


@pytest.fixture
def toy_paradigm(monkeypatch, toy):
    """A test-only paradigm `toy_estimation` in `cogsim fit`'s registry (monkeypatched)."""
    import types

    from cogsim import fitting_command
    from cogsim.fit import Column, Paradigm

    class PerSetSize(toy.VonMisesMixture):
        name = "vm_per_set_size"

    par = Paradigm(
        "toy_estimation",
        (
            Column("subject", "id"),
            Column("set_size", "int", low=1),
            Column("error_rad", "float", low=-np.pi, high=np.pi),
        ),
        models={"vm_mixture": toy.VonMisesMixture(), "vm_per_set_size": PerSetSize(by_set_size=True)},
        doc="toy delayed estimation",
    )
    reg = types.SimpleNamespace(names=lambda: ["toy_estimation"], get=lambda name: par)
    monkeypatch.setattr(fitting_command, "_registry", lambda: reg)
    return par


@pytest.fixture
def csv(tmp_path, toy):
    """Three participants' simulated trials in a CSV (string ids, an extra column, a byte-order mark)."""
    truth = {"p_mem": np.array([0.9, 0.6, 0.8]), "kappa": np.array([8.0, 3.0, 5.0])}
    df = toy.simulate_frame(toy.VonMisesMixture(), truth, [120, 100, 140], seed=11)
    df["subject"] = df["subject"].map({1: "P01", 2: "P02", 3: "P03"})
    df["note"] = "x"
    path = tmp_path / "my trials.csv"
    path.write_bytes(b"\xef\xbb\xbf" + df.to_csv(index=False).encode())
    return path


@pytest.fixture(scope="session")
def load_benchmark():
    """``load("fit")``: the module ``benchmarks/fit.py``, imported from its file (not a package)."""

    def load(name: str):
        path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"{name}_benchmark", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load


@pytest.fixture
def mixture_csv(tmp_path) -> Path:
    """A CSV of von Mises + uniform errors of 3 participants (a, b, c) at set sizes 1 and 4, 80 trials each
    (columns subject, set_size, error_rad; seed 0)."""
    rng = np.random.default_rng(0)
    rows = []
    for subject in ("a", "b", "c"):
        for set_size, p_mem, kappa in ((1, 0.95, 12.0), (4, 0.6, 4.0)):
            remembered = rng.random(80) < p_mem
            err = np.where(remembered, rng.vonmises(0.0, kappa, 80), rng.uniform(-np.pi, np.pi, 80))
            rows += [(subject, set_size, round(float(e), 6)) for e in err]
    path = tmp_path / "trials.csv"
    pd.DataFrame(rows, columns=["subject", "set_size", "error_rad"]).to_csv(path, index=False)
    return path
