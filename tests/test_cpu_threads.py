"""``cogsim.cpu_threads``: the XLA CPU pool's size, and the condition ``cogsim fit``'s one-thread pool relies
on: no packaged paradigm's model calls back to the host (with one pool thread, a callback that reads its
argument can wait for the only thread forever; docs/architecture.md, "Tests")."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from cogsim import cpu_threads
from cogsim.models import paradigms


def _models():
    return [(p, n) for p in paradigms.names() for n in paradigms.get(p).models]


def _callbacks(jaxpr) -> set[str]:
    """Names of the host-callback primitives anywhere in ``jaxpr`` (sub-jaxprs of loops, conds, jits
    included)."""
    found = set()
    for eqn in jaxpr.eqns:
        if "callback" in eqn.primitive.name:
            found.add(eqn.primitive.name)
        for v in eqn.params.values():
            for sub in v if isinstance(v, (list, tuple)) else (v,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    found |= _callbacks(inner)
    return found


def test_the_walk_finds_a_callback():
    back = lambda v: jax.pure_callback(lambda a: a, jax.ShapeDtypeStruct((), jnp.float32), v)  # noqa: E731
    f = lambda x: jax.lax.cond(x > 0, back, lambda v: v, x)  # noqa: E731 - the callback inside a branch
    assert _callbacks(jax.make_jaxpr(f)(jnp.float32(1.0)).jaxpr) == {"pure_callback"}


@pytest.mark.parametrize(("paradigm", "name"), _models())
def test_no_packaged_model_calls_back_to_the_host(paradigm, name):
    model = paradigms.get(paradigm).models[name]
    key = jax.random.key(0)
    p = {q.name: jnp.float32(q.default) for q in model.params}
    trials = dict(model.design(16, key=key))
    sim = jax.make_jaxpr(lambda p, k: model.simulate(p, trials, key=k))(p, key)
    assert not _callbacks(sim.jaxpr), (paradigm, name, "simulate")
    trials.update(model.simulate(p, trials, key=key))
    ll = jax.make_jaxpr(jax.value_and_grad(lambda p: jnp.sum(model.loglik(p, trials))))(p)
    assert not _callbacks(ll.jaxpr), (paradigm, name, "loglik")


def _run(code: str, **env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in cpu_threads.ENV}
    cmd = [sys.executable, "-c", code]
    return subprocess.run(
        cmd, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=True
    ).stdout.strip()


def test_limit_sets_the_pool_before_the_first_computation_only():
    code = (
        "import os, jax.numpy as jnp\n"
        "from cogsim import cpu_threads\n"
        "a = cpu_threads.limit(1); v = os.environ.get('PJRT_NPROC')\n"
        "jnp.ones(2).block_until_ready()\n"
        "os.environ.pop('PJRT_NPROC'); b = cpu_threads.limit(1)\n"
        "print(a, v, b)"
    )
    assert _run(code) == "True 1 False"


def test_limit_keeps_the_users_setting_and_refuses_nonsense():
    assert _run("from cogsim import cpu_threads; import os; print(cpu_threads.limit(1), os.environ['NPROC'])",
                NPROC="2") == "False 2"  # fmt: skip
    with pytest.raises(ValueError, match="threads: 0"):
        cpu_threads.limit(0)


@pytest.mark.parametrize("name", cpu_threads.ENV)
@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5"])
def test_limit_refuses_an_invalid_pool_size_in_the_environment(monkeypatch, name, value):
    from cogsim.errors import CogsimError

    monkeypatch.delenv("PJRT_NPROC", raising=False)
    monkeypatch.delenv("NPROC", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(CogsimError, match=rf"{name}: got '{value}'; allowed: an integer >= 1"):
        cpu_threads.limit(1)
