"""The Mosaic GPU forward's schedule (jnp emulation, ``interpret=True``) against the jnp reference.

Mosaic GPU kernels run on Hopper only, so on the CPU the kernel's arithmetic is checked through its
emulation (the same 64-row query tiles, unmasked and masked key-block loops, base-2 online softmax and
entropy sum); the gradients go through the Triton backward (interpreted) fed with the emulated residuals.

Set ``COGSIM_TEST_COMPILED=1`` on a Hopper GPU to run the same tests on the compiled Mosaic kernel
(``benchmarks/gpu_check.sh`` does).
"""

from __future__ import annotations

import doctest
import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.kernels import mosaic_attention, reference_flash_attention

COMPILED = os.environ.get("COGSIM_TEST_COMPILED", "") == "1"
INTERPRET = not COMPILED
if COMPILED:
    _cc = str(getattr(jax.devices()[0], "compute_capability", "")) if jax.default_backend() == "gpu" else ""
    if not _cc.startswith("9."):
        pytest.skip("COGSIM_TEST_COMPILED=1 needs a Hopper (sm_90) GPU for Mosaic", allow_module_level=True)

TOL = {"bfloat16": 2e-2, "float16": 4e-3}  # relative to the largest reference magnitude


def _inputs(seed, b, nq, nk, hq, hk, d, dtype):
    rng = np.random.default_rng(seed)
    shapes = ((b, nq, hq, d), (b, nk, hk, d), (b, nk, hk, d))
    return tuple(jnp.asarray(rng.standard_normal(s, np.float32), dtype) for s in shapes)


def _close(got, want, tol, what):
    got, want = np.asarray(got, np.float32), np.asarray(want, np.float32)
    assert np.array_equal(np.isinf(got), np.isinf(want)), f"{what}: -inf rows differ"
    got, want = np.where(np.isinf(want), 0.0, got), np.where(np.isinf(want), 0.0, want)
    err = np.abs(got - want).max() / max(1.0, np.abs(want).max())
    assert err < tol, f"{what}: relative error {err:.2e} >= {tol}"


# (b, nq, nk, hq, hk, d, causal, dtype): aligned and ragged lengths, q_len > k_len (rows with no key),
# grouped-query attention, head dims padded to 64 and 128
CASES = {
    "bf16-causal-d64": (1, 128, 256, 2, 2, 64, True, jnp.bfloat16),
    "f16-ragged-gqa-d32": (2, 70, 300, 4, 2, 32, False, jnp.float16),
    "bf16-causal-qlong-d96": (1, 200, 130, 2, 1, 96, True, jnp.bfloat16),
}


@pytest.mark.parametrize("case", list(CASES))
def test_forward_and_statistics_match_the_reference(case):
    b, nq, nk, hq, hk, d, causal, dtype = CASES[case]
    q, k, v = _inputs(1, b, nq, nk, hq, hk, d, dtype)
    got = mosaic_attention(q, k, v, is_causal=causal, return_stats=True, interpret=INTERPRET)
    want = reference_flash_attention(q, k, v, is_causal=causal, return_stats=True)
    tol = TOL[jnp.dtype(dtype).name]
    for what, x, y in zip(("out", "lse", "entropy"), got, want, strict=True):
        _close(x, y, tol, what)
    if causal and nq > nk:  # the first nq - nk queries see no key: zeros, -inf, 0
        assert float(jnp.abs(got[0][:, : nq - nk]).max()) == 0.0
        assert bool(jnp.all(jnp.isneginf(got[1][:, :, : nq - nk])))


def test_gradients_through_the_triton_backward_match_the_reference():
    q, k, v = _inputs(2, 1, 70, 90, 2, 1, 32, jnp.float16)

    def loss(f):
        def g(q, k, v):
            out, lse, ent = f(q, k, v, is_causal=True, return_stats=True)
            return (out.astype(jnp.float32) ** 2).sum() + lse.sum() + 0.5 * ent.sum()

        return jax.grad(g, argnums=(0, 1, 2))

    got = loss(lambda *a, **kw: mosaic_attention(*a, interpret=INTERPRET, **kw))(q, k, v)
    want = loss(reference_flash_attention)(q, k, v)
    for what, x, y in zip(("dq", "dk", "dv"), got, want, strict=True):
        _close(x, y, 1e-2, what)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dtype": jnp.float32}, "dtype float32"),
        ({"block_k": 32}, "block_k=32"),
        ({"num_stages": 0}, "num_stages=0"),
    ],
)
def test_refuses_what_the_kernel_does_not_take(kwargs, field):
    dtype = kwargs.pop("dtype", jnp.bfloat16)
    q, k, v = _inputs(0, 1, 8, 8, 1, 1, 64, dtype)
    with pytest.raises(CogsimError, match=field):
        mosaic_attention(q, k, v, interpret=INTERPRET, **kwargs)


def test_docstring_example():
    module = importlib.import_module("cogsim.kernels.mosaic_attention")
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
