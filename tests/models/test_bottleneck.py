import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from cogsim.errors import CogsimError, ConfigError
from cogsim.models import bottleneck as bn


def _qk(seed=0, b=3, n=9, d=6):
    kq, kk = jax.random.split(jax.random.key(seed))
    return jax.random.normal(kq, (b, 1, d)), jax.random.normal(kk, (b, n, d))


@pytest.mark.parametrize("top_k", [1, 3, 5])
def test_select_keeps_exactly_the_top_k_scores(top_k):
    q, k = _qk()
    sel = bn.select(q, k, k, top_k=top_k, noise=0.0, key=jax.random.key(1))
    scores = np.einsum("bqd,bnd->bqn", q, k)
    want = np.argsort(-scores, axis=-1)[..., :top_k]
    assert sel.indices.shape == (3, 1, top_k)
    np.testing.assert_array_equal(np.sort(np.asarray(sel.indices), -1), np.sort(want, -1))
    np.testing.assert_array_equal(np.asarray(sel.mask).sum(-1), top_k)
    w = np.exp(np.asarray(sel.log_weights)) * np.asarray(sel.mask)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)


def test_select_respects_the_mask_and_the_traced_keep():
    q, k = _qk(n=8)
    mask = jnp.arange(8)[None].repeat(3, 0) % 2 == 0  # only even slots may enter
    sel = bn.select(q, k, k, top_k=3, noise=0.5, key=jax.random.key(2), mask=mask)
    assert np.all(np.asarray(sel.indices) % 2 == 0)
    keep = jnp.array([1, 2, 3])
    kept = jax.jit(lambda kp: bn.select(q, k, k, top_k=3, noise=0.0, key=jax.random.key(0), keep=kp))(keep)
    np.testing.assert_array_equal(np.asarray(kept.mask).sum(-1)[:, 0], [1, 2, 3])
    full = bn.select(q, k, k, top_k=3, noise=0.0, key=jax.random.key(0))
    assert np.asarray(kept.indices)[0, 0, 0] == np.asarray(full.indices)[0, 0, 0]  # the best one is kept


def test_noise_changes_the_selection_and_the_seed_fixes_it():
    q, k = _qk(n=12)
    a = bn.select(q, k, k, top_k=3, noise=5.0, key=jax.random.key(0)).mask
    b = bn.select(q, k, k, top_k=3, noise=5.0, key=jax.random.key(0)).mask
    c = bn.select(q, k, k, top_k=3, noise=5.0, key=jax.random.key(7)).mask
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gradients_reach_the_selected_scores_only():
    q, k = _qk(n=7)
    sel = bn.select(q, k, k, top_k=2, noise=0.0, key=jax.random.key(0))
    chosen = np.asarray(sel.mask)[:, 0] > 0
    g = jax.grad(
        lambda kk: jnp.sum(bn.select(q, kk, kk, top_k=2, noise=0.0, key=jax.random.key(0)).out ** 2)
    )(k)
    norms = np.linalg.norm(np.asarray(g), axis=-1)
    assert np.all(norms[chosen] > 0)
    assert np.all(norms[~chosen] == 0)
    gq = jax.grad(
        lambda qq: jnp.sum(bn.select(qq, k, k, top_k=2, noise=0.0, key=jax.random.key(0)).out[..., 0])
    )(q)
    assert np.linalg.norm(np.asarray(gq)) > 0


def test_select_rejects_bad_input():
    q, k = _qk(n=4)
    with pytest.raises(CogsimError, match="top_k=5"):
        bn.select(q, k, k, top_k=5, noise=0.0, key=jax.random.key(0))
    with pytest.raises(CogsimError, match="PRNG key"):
        bn.select(q, k, k, top_k=2, noise=1.0)
    with pytest.raises(ConfigError, match="top_k"):
        bn.Workspace(bn.BottleneckConfig(n_slots=3, top_k=4), in_features=1, rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def traces():
    out = {}
    x = jax.random.normal(jax.random.key(0), (4, 3, 6, 2))
    c = jax.random.normal(jax.random.key(1), (4, 3, 5))
    for v in bn.VARIANTS:
        cfg = bn.BottleneckConfig(variant=v, n_slots=6, slot_dim=8, top_k=2, noise=0.5, n_workspace=2)
        ws = bn.Workspace(cfg, in_features=2, context_features=5, rngs=nnx.Rngs(0))
        out[v] = (ws, ws.unroll(x, c, key=jax.random.key(2)))
    return out


def test_workspace_variants_and_the_dense_baseline(traces):
    ws_b, tr_b = traces["bottleneck"]
    ws_d, tr_d = traces["dense"]
    assert tr_b.slots.shape == tr_d.slots.shape == (4, 3, 6, 8)
    np.testing.assert_array_equal(np.asarray(tr_b.selected).sum(-1), 2)  # top_k slots at every step
    np.testing.assert_array_equal(np.asarray(tr_d.selected), 1)  # the baseline reads everything
    np.testing.assert_allclose(
        tr_b.gate, tr_b.selected, atol=1e-6
    )  # straight-through gate: forward = selection
    assert bn.count_params(ws_b) == bn.count_params(ws_d)  # same parameter budget
    ws_w, tr_w = traces["workspace"]
    assert tr_w.memory.shape == (4, 3, 2, 8) and tr_w.indices.shape == (4, 3, 2, 2)


def test_verifier_and_gate_carry_gradients(traces):
    ws, _ = traces["bottleneck"]
    graphdef, params = nnx.split(ws)
    x = jax.random.normal(jax.random.key(0), (4, 3, 6, 2))

    def loss(p):
        m = nnx.merge(graphdef, p)
        tr = m.unroll(x, None, key=jax.random.key(3))
        return m.verifier_loss(tr) + jnp.sum(tr.gate * jnp.arange(6.0))

    val, grads = jax.value_and_grad(loss)(params)
    assert np.isfinite(float(val))
    assert float(jnp.abs(grads["key"]["kernel"][...]).sum()) > 0  # selection scores learn
    assert float(jnp.abs(grads["predict"]["kernel"][...]).sum()) > 0  # the verifier learns


def test_precision_recall():
    p, r = bn.precision_recall(jnp.array([[1.0, 1.0, 0.0]]), jnp.array([[1.0, 0.0, 1.0]]))
    assert float(p[0]) == 0.5 and float(r[0]) == 0.5


def test_select_takes_values_of_another_width():
    q = jax.random.normal(jax.random.key(2), (2, 3, 4))
    k = jax.random.normal(jax.random.key(0), (2, 5, 4))
    v = jax.random.normal(jax.random.key(1), (2, 5, 7))
    kw = dict(top_k=2, noise=1.0, key=jax.random.key(1))
    wide = bn.select(q, k, v, **kw)  # before: "k and v must have the same shape"
    narrow = bn.select(q, k, v[..., 4:], **kw)
    same = bn.select(q, k, v[..., :4], **kw)
    assert wide.out.shape == (2, 3, 7) and narrow.out.shape == (2, 3, 3)
    np.testing.assert_array_equal(np.asarray(narrow.indices), np.asarray(same.indices))
    np.testing.assert_array_equal(np.asarray(wide.indices), np.asarray(same.indices))
    np.testing.assert_allclose(np.asarray(wide.out), np.concatenate([same.out, narrow.out], -1), atol=1e-6)
    with pytest.raises(CogsimError, match="select: q"):
        bn.select(q[..., :3], k, v, **kw)


def test_select_noise_zero_needs_no_key_and_negative_noise_is_refused():
    q = jnp.array([[[0.0, 1.0, 1.0, 0.0]]])
    k = jnp.eye(4)[None]
    s = bn.select(q, k, k, top_k=2, noise=0.0)  # before: "give a PRNG key or gumbel draws"
    ref = bn.select(q, k, k, top_k=2, noise=0.0, key=jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(s.indices), np.asarray(ref.indices))
    np.testing.assert_array_equal(np.asarray(s.out), np.asarray(ref.out))
    with pytest.raises(CogsimError, match="noise=-1.0"):
        bn.select(q, k, k, top_k=2, noise=-1.0, key=jax.random.key(0))
    with pytest.raises(CogsimError, match="PRNG key"):
        bn.select(q, k, k, top_k=2, noise=0.5)
