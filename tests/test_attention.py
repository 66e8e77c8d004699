"""cogsim.attention.dot_product_attention: dispatch, agreement with jax.nn, statistics, errors.

On a GPU XLA's default float32 dot is TF32, and so is the kernels' default ``f32_precision``: there every
test runs under ``jax.default_matmul_precision("highest")`` and the compiled kernels at
``f32_precision="ieee"`` where they meet a float32 bound (tests/kernels/tf32_bounds.py), so the bounds
mean on the GPU what they mean on the CPU.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.attention import AttentionStats, dot_product_attention
from cogsim.errors import CogsimError
from tests.kernels.tf32_bounds import highest_precision_context

ON_GPU = jax.default_backend() == "gpu"
EXACT = {"f32_precision": "ieee"} if ON_GPU else {}  # the compiled kernels' float32 dots, exact


@pytest.fixture(autouse=True)
def _exact_xla_dots_on_gpu():
    with highest_precision_context(ON_GPU):
        yield


def _inputs(seed, b, nq, nk, hq, hk, d, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    return tuple(
        jnp.asarray(rng.standard_normal(s, np.float32), dtype)
        for s in ((b, nq, hq, d), (b, nk, hk, d), (b, nk, hk, d))
    )


@functools.partial(jax.jit, static_argnames=("implementation", "is_causal", "return_stats"))
def _ours(q, k, v, bias, mask, *, implementation, is_causal=False, return_stats=False):
    return dot_product_attention(
        q,
        k,
        v,
        bias=bias,
        mask=mask,
        is_causal=is_causal,
        implementation=implementation,
        return_stats=return_stats,
    )


@functools.partial(jax.jit, static_argnames=("is_causal",))
def _jax_nn(q, k, v, bias, mask, *, is_causal=False):
    return jax.nn.dot_product_attention(
        q, k, v, bias=bias, mask=mask, is_causal=is_causal, implementation="xla"
    )


@pytest.mark.parametrize("implementation", ["xla", "interpret"])
@pytest.mark.parametrize(
    "case",
    [
        dict(nq=9, nk=9, hq=2, hk=2, causal=True, bias=False, mask=False),
        dict(nq=13, nk=21, hq=4, hk=2, causal=False, bias=True, mask=True),
    ],
    ids=["causal", "gqa-bias-mask"],
)
def test_matches_jax_nn_dot_product_attention(implementation, case):
    q, k, v = _inputs(0, 2, case["nq"], case["nk"], case["hq"], case["hk"], 16)
    rng = np.random.default_rng(1)
    bias = (
        jnp.asarray(rng.standard_normal((1, case["hq"], case["nq"], case["nk"]), np.float32))
        if case["bias"]
        else None
    )
    mask = None
    if case["mask"]:
        mask = rng.random((2, 1, case["nq"], case["nk"])) < 0.7
        mask[:, :, :, 0] = True  # every row keeps a key (jax.nn does not zero fully masked rows)
    got = _ours(q, k, v, bias, mask, implementation=implementation, is_causal=case["causal"])
    want = _jax_nn(q, k, v, bias, mask, is_causal=case["causal"])
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-5, rtol=2e-5)


def test_causal_with_more_keys_is_bottom_right_aligned():
    """q_len < k_len: query i sees keys j <= i + (k_len - q_len), i.e. jax.nn's mask shifted to the right.

    (jax.nn.dot_product_attention itself aligns a non-square causal mask to the top-left.)
    """
    nq, nk = 5, 11
    q, k, v = _inputs(2, 1, nq, nk, 2, 2, 16)
    shifted = jnp.tril(jnp.ones((nq, nk), bool), k=nk - nq)[None, None]
    want = _jax_nn(q, k, v, None, shifted)
    for implementation in ("xla", "interpret"):
        got = _ours(q, k, v, None, None, implementation=implementation, is_causal=True)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-5, rtol=2e-5)


def test_statistics_agree_between_implementations():
    q, k, v = _inputs(3, 2, 12, 30, 2, 1, 16)
    mask = np.random.default_rng(4).random((2, 2, 12, 30)) < 0.6
    mask[1, 0, 4] = False  # one fully masked row
    out_x, st_x = _ours(q, k, v, None, mask, implementation="xla", return_stats=True)
    out_i, st_i = _ours(q, k, v, None, mask, implementation="interpret", return_stats=True)
    assert isinstance(st_i, AttentionStats) and st_i.probs is None
    assert st_i.logsumexp.shape == st_i.entropy.shape == (2, 2, 12)
    np.testing.assert_allclose(np.asarray(out_i), np.asarray(out_x), atol=2e-5)
    np.testing.assert_allclose(np.asarray(st_i.logsumexp), np.asarray(st_x.logsumexp), atol=2e-5)
    np.testing.assert_allclose(np.asarray(st_i.entropy), np.asarray(st_x.entropy), atol=2e-5)
    assert np.isneginf(float(st_i.logsumexp[1, 0, 4])) and float(st_i.entropy[1, 0, 4]) == 0.0
    np.testing.assert_array_equal(np.asarray(out_i[1, 4, 0]), 0.0)


def test_gradients_agree_between_implementations():
    q, k, v = _inputs(5, 1, 10, 14, 2, 2, 16)
    bias = jnp.asarray(np.random.default_rng(6).standard_normal((1, 1, 10, 14), np.float32))

    def loss(implementation, q, k, v, bias):
        out, stats = dot_product_attention(
            q, k, v, bias=bias, is_causal=True, implementation=implementation, return_stats=True
        )
        return jnp.sum(jnp.sin(out)) + jnp.sum(stats.entropy)

    argnums = (0, 1, 2, 3)
    got = jax.jit(jax.grad(functools.partial(loss, "interpret"), argnums=argnums))(q, k, v, bias)
    want = jax.jit(jax.grad(functools.partial(loss, "xla"), argnums=argnums))(q, k, v, bias)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=5e-5)


def test_default_implementation_follows_the_backend():
    q, k, v = _inputs(7, 1, 6, 6, 1, 1, 8)
    auto = dot_product_attention(q, k, v)
    explicit = dot_product_attention(q, k, v, implementation="pallas" if ON_GPU else "xla")
    np.testing.assert_array_equal(np.asarray(auto), np.asarray(explicit))


@pytest.mark.skipif(ON_GPU, reason="the CPU-only error")
def test_pallas_without_gpu_names_the_alternatives():
    q = jnp.ones((1, 4, 1, 16))
    with pytest.raises(CogsimError, match="implementation='pallas' needs a GPU.*'interpret'"):
        dot_product_attention(q, q, q, implementation="pallas")


@pytest.mark.skipif(ON_GPU, reason="the CPU-only error")
def test_mosaic_without_gpu_names_the_alternatives():
    q = jnp.ones((1, 4, 1, 64), jnp.bfloat16)
    with pytest.raises(CogsimError, match="implementation='mosaic' needs a GPU.*'interpret'"):
        dot_product_attention(q, q, q, implementation="mosaic")


# (arch, dtype, bias?, implementation asked) -> path taken, on a (pretended) GPU
DISPATCH = [
    ((9, 0), jnp.bfloat16, False, None, "pallas"),  # Mosaic is opt-in until its compiled tests pass
    ((9, 0), jnp.float16, False, None, "pallas"),
    ((9, 0), jnp.float32, False, None, "pallas"),  # float32 (every model today): Triton, TF32
    ((9, 0), jnp.bfloat16, True, None, "pallas"),  # a bias: Triton
    ((8, 0), jnp.bfloat16, False, None, "pallas"),  # no wgmma before Hopper
    ((10, 0), jnp.bfloat16, False, None, "pallas"),  # nor after (Blackwell has tcgen05)
    ((9, 0), jnp.float32, False, "mosaic", "pallas"),  # asked, but Mosaic does not take float32
    ((9, 0), jnp.bfloat16, False, "mosaic", "mosaic"),
    ((9, 0), jnp.bfloat16, False, "pallas", "pallas"),
]


@pytest.mark.parametrize(("arch", "dtype", "with_bias", "asked", "taken"), DISPATCH)
def test_dispatch_runs_mosaic_on_hopper_only_when_asked_for_the_calls_it_takes(
    monkeypatch, arch, dtype, with_bias, asked, taken
):
    import cogsim.attention as attention

    monkeypatch.setattr(attention.jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(attention, "_gpu_arch", lambda: arch)
    q = jnp.ones((1, 8, 2, 64), dtype)
    bias = jnp.zeros((1, 2, 8, 8)) if with_bias else None
    assert attention._resolve(asked, q, q, where="attention", v=q, bias=bias) == taken
    assert attention._resolve(asked, q, q, where="topk_attention", top_k=2) != "mosaic"


def test_mosaic_refuses_pre_hopper_gpus(monkeypatch):
    import cogsim.attention as attention

    monkeypatch.setattr(attention.jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(attention, "_gpu_arch", lambda: (8, 0))
    q = jnp.ones((1, 8, 2, 64), jnp.bfloat16)
    with pytest.raises(CogsimError, match=r"implementation='mosaic' needs a Hopper GPU \(sm_90\); .* sm_80"):
        attention._resolve("mosaic", q, q, where="attention", v=q)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(implementation="cudnn"), r"implementation='cudnn' is not allowed"),
        (dict(q=jnp.ones((1, 4, 16))), "q must be"),
        (dict(k=jnp.ones((1, 5, 2, 16))), "k and v must have the same shape"),
        (dict(q=jnp.ones((1, 4, 3, 16))), "multiple of k/v heads"),
        (dict(bias=jnp.ones((1, 1, 4, 3))), r"bias shape .* does not broadcast"),
        (dict(mask=jnp.ones((1, 1, 4), bool)), "mask must be"),
    ],
)
def test_bad_input_raises_clear_error(kwargs, match):
    args = dict(q=jnp.ones((1, 4, 2, 16)), k=jnp.ones((1, 4, 2, 16)), v=jnp.ones((1, 4, 2, 16)))
    args.update(kwargs)
    q, k, v = args.pop("q"), args.pop("k"), args.pop("v")
    with pytest.raises(CogsimError, match=match):
        dot_product_attention(q, k, v, **args)


def test_kernel_errors_surface_through_the_dispatcher():
    q = jnp.ones((1, 4, 1, 512))  # head_dim beyond the kernel's limit: the XLA path still works
    assert dot_product_attention(q, q, q, implementation="xla").shape == q.shape
    with pytest.raises(CogsimError, match="head_dim=512"):
        dot_product_attention(q, q, q, implementation="interpret")


def test_topk_dispatch_is_shared_with_the_bottleneck_and_accepts_pallas_consistently():
    from cogsim.attention import topk_attention
    from cogsim.kernels import reference_topk_attention
    from cogsim.models import bottleneck

    assert bottleneck.topk_attention is topk_attention
    q, k, v = _inputs(8, 1, 5, 12, 2, 1, 16)
    got = topk_attention(q, k, v, top_k=3, **EXACT)
    want = reference_topk_attention(q, k, v, top_k=3)
    np.testing.assert_array_equal(np.asarray(got[1]), np.asarray(want[1]))
    if ON_GPU:  # the compiled kernel's attention over its choice: exact dots, another summation order
        np.testing.assert_allclose(np.asarray(got[0]), np.asarray(want[0]), atol=2e-5, rtol=2e-5)
    else:
        np.testing.assert_array_equal(np.asarray(got[0]), np.asarray(want[0]))
    interp = topk_attention(q, k, v, top_k=3, implementation="interpret")
    np.testing.assert_array_equal(np.asarray(interp[1]), np.asarray(want[1]))
    if not ON_GPU:
        with pytest.raises(CogsimError, match="topk_attention: implementation='pallas' needs a GPU"):
            topk_attention(q, k, v, top_k=3, implementation="pallas")
    with pytest.raises(CogsimError, match="f32_precision='fp8'"):
        topk_attention(q, k, v, top_k=3, f32_precision="fp8")


def test_kernels_do_not_import_the_library_layer():
    import ast
    import pathlib

    import cogsim.kernels

    for path in pathlib.Path(cogsim.kernels.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for name in names:
                    assert (
                        not name
                        or not name.startswith("cogsim.")
                        or name.startswith(("cogsim.kernels", "cogsim.errors"))
                    ), (path.name, name)


@pytest.mark.parametrize("fn", ["dense", "topk"])
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(q=jnp.ones((1, 4, 2, 16), jnp.int32)), r"q has dtype int32; allowed: a floating dtype"),
        (dict(v=jnp.ones((1, 4, 2, 16), jnp.int32)), r"v has dtype int32"),
        (dict(mask=jnp.zeros((1, 1, 4, 4))), r"mask has dtype float32; allowed: bool .* goes in bias"),
        (dict(mask=jnp.ones((1, 1, 4, 4), jnp.int32)), r"mask has dtype int32"),
        (dict(bias=jnp.ones((1, 1, 4, 4), bool)), r"bias has dtype bool; allowed: a floating dtype"),
        (dict(k=jnp.ones((1, 0, 2, 16)), v=jnp.ones((1, 0, 2, 16))), r"k and v have k_len 0 .* one key"),
        (dict(q=jnp.ones((1, 4, 2, 0)), k=jnp.ones((1, 4, 2, 0)), v=jnp.ones((1, 4, 2, 0))), "head_dim is 0"),
        (dict(scale=float("nan")), r"scale=nan is not allowed; use None .* finite number >= 0"),
        (dict(scale=float("inf")), r"scale=inf is not allowed"),
        (dict(scale=-1.0), r"scale=-1.0 is not allowed"),
        (dict(scale="a"), r"scale='a' is not allowed"),
        (dict(scale=True), r"scale=True is not allowed"),
        (dict(scale=jnp.ones(2)), r"scale has shape \(2,\); allowed: a scalar"),
        (dict(q="abc"), r"q of type str is not an array"),
    ],
)
def test_static_argument_checks(fn, kwargs, match):
    from cogsim.attention import topk_attention

    args = dict(q=jnp.ones((1, 4, 2, 16)), k=jnp.ones((1, 4, 2, 16)), v=jnp.ones((1, 4, 2, 16)))
    args.update(kwargs)
    q, k, v = args.pop("q"), args.pop("k"), args.pop("v")
    where = "attention" if fn == "dense" else "topk_attention"
    with pytest.raises(CogsimError, match=f"^{where}: {match}"):
        if fn == "dense":
            dot_product_attention(q, k, v, **args)
        else:
            topk_attention(q, k, v, top_k=2, **args)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(is_causal="no"), r"is_causal='no' is not allowed; use True or False"),
        (dict(is_causal=None), r"is_causal=None is not allowed"),
        (dict(return_stats=1), r"return_stats=1 is not allowed"),
        (dict(return_probs=True), r"return_probs=True needs return_stats=True"),
    ],
)
def test_flags_must_be_bools(kwargs, match):
    q = jnp.ones((1, 4, 2, 16))
    with pytest.raises(CogsimError, match=match):
        dot_product_attention(q, q, q, **kwargs)


def test_array_likes_scalar_scales_and_numpy_bools_are_accepted():
    q, k, v = _inputs(0, 1, 5, 7, 2, 2, 8)
    want = dot_product_attention(q, k, v, is_causal=True, scale=0.5)
    got = dot_product_attention(
        np.asarray(q).tolist(), np.asarray(k), v, is_causal=np.bool_(True), scale=np.float32(0.5)
    )
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    traced = jax.jit(lambda s: dot_product_attention(q, k, v, is_causal=True, scale=s))(0.5)
    np.testing.assert_allclose(np.asarray(traced), np.asarray(want), rtol=1e-6, atol=1e-6)
    out, stats = dot_product_attention(q, k, v, return_stats=True, return_probs=True)
    assert stats.probs.shape == (1, 2, 5, 7)
    assert dot_product_attention(q, k, v, scale=0).shape == q.shape  # uniform attention


def test_hook_and_capture_arguments_are_checked():
    from cogsim.attention import attention_hook, capturing

    with pytest.raises(CogsimError, match=r"attention_hook: hook=None is not callable"):
        with attention_hook(None):
            pass
    with pytest.raises(CogsimError, match=r"capturing: names='a\.b' is not allowed; .* \['a\.b'\]"):
        with capturing("a.b"):  # a string would silently capture nothing (its letters)
            pass
    with pytest.raises(CogsimError, match="not a hook-point name"):
        with capturing(["a/b"]):
            pass
    q = jnp.ones((1, 2, 1, 4))
    with capturing(("a",)) as cap:
        dot_product_attention(q, q, q, name="a")
    assert set(cap) == {"a"}


@pytest.fixture
def simulated_gpu(monkeypatch):
    """An sm_80 GPU as the dispatcher sees it; the kernels it calls run interpreted (this is a CPU)."""
    import importlib

    import cogsim.attention as attention

    flash_module = importlib.import_module("cogsim.kernels.flash_attention")  # (the package's attribute
    topk_module = importlib.import_module("cogsim.kernels.topk_attention")  # of that name is the function)
    if ON_GPU:
        pytest.skip("simulates a GPU on the CPU")
    monkeypatch.setattr(attention.jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(attention, "_gpu_arch", lambda: (8, 0))
    for module, name in ((flash_module, "flash_attention"), (topk_module, "topk_attention")):
        kernel = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _k=kernel, **kw: _k(*a, **{**kw, "interpret": True}))
    return attention


def test_gpu_default_path_takes_masks_and_biases_broadcast_over_q_len(simulated_gpu):
    from cogsim.attention import topk_attention

    q, k, v = _inputs(7, 2, 5, 6, 2, 2, 8)
    mask = jnp.array([[1, 1, 0, 1, 1, 1], [1, 0, 1, 1, 0, 1]], bool)[:, None, None, :]  # as models pass
    bias = jnp.linspace(-1.0, 1.0, 6)[None, None, None, :]
    assert simulated_gpu._resolve(None, q, k, where="attention", v=v, bias=bias, mask=mask) == "pallas"
    got = jax.grad(lambda b: dot_product_attention(q, k, v, bias=b, mask=mask).sum() ** 2)(bias)
    want = jax.grad(
        lambda b: dot_product_attention(q, k, v, bias=b, mask=mask, implementation="xla").sum() ** 2
    )(bias)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=5e-5, atol=5e-5)
    out, idx = topk_attention(q, k, v, top_k=np.int64(3), bias=bias, mask=mask)
    ref_out, ref_idx = topk_attention(q, k, v, top_k=3, bias=bias, mask=mask, implementation="xla")
    np.testing.assert_array_equal(np.asarray(idx), np.asarray(ref_idx))
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref_out), rtol=2e-5, atol=2e-5)


def test_a_traced_scale_takes_the_xla_path_by_default_and_is_refused_by_the_kernels(simulated_gpu):
    q, k, v = _inputs(8, 1, 4, 4, 2, 2, 8)
    traced = jax.jit(lambda s: dot_product_attention(q, k, v, scale=s))(0.5)  # GPU default: falls back
    want = dot_product_attention(q, k, v, scale=0.5, implementation="xla")
    np.testing.assert_allclose(np.asarray(traced), np.asarray(want), rtol=1e-6, atol=1e-6)
    assert float(jax.grad(lambda s: dot_product_attention(q, k, v, scale=s).sum())(0.5)) != 0.0
    with pytest.raises(
        CogsimError, match=r"flash_attention: scale is a traced value .* implementation='xla'"
    ):
        jax.jit(lambda s: dot_product_attention(q, k, v, scale=s, implementation="interpret"))(0.5)


def test_top_k_is_checked_before_the_gpu_dispatch_compares_it(simulated_gpu):
    from cogsim.attention import topk_attention

    q = jnp.ones((1, 4, 2, 16))
    with pytest.raises(CogsimError, match=r"topk_attention: got top_k='3'; allowed: an integer from 1 to 4"):
        topk_attention(q, q, q, top_k="3")


@pytest.mark.parametrize("shape", [(1, 0, 2, 8), (0, 4, 2, 8)])
def test_no_query_rows_give_the_same_empty_result_on_every_path(shape):
    from cogsim.attention import topk_attention

    q, k = jnp.ones(shape), jnp.ones((shape[0], 4, 2, 8))
    for impl in ("xla", "interpret"):
        out, stats = dot_product_attention(q, k, k, implementation=impl, return_stats=True)
        assert out.shape == shape and stats.logsumexp.shape == (shape[0], 2, shape[1]), impl
        out, idx = topk_attention(q, k, k, top_k=2, implementation=impl)
        assert out.shape == shape and idx.shape == (shape[0], 2, shape[1], 2), impl
