import jax
import jax.numpy as jnp
import optax
import pytest

from cogsim import train
from cogsim.errors import CogsimError

W = jnp.array([2.0, -1.0])


def batch_fn(key, step):
    x = jax.random.normal(key, (16, 2))
    return x, x @ W + 0.1 * jax.random.normal(jax.random.fold_in(key, 1), (16,))


def loss_fn(w, batch, key):
    x, y = batch
    loss = jnp.mean((x @ w - y) ** 2)
    return loss, {"mse": loss}


def fit(**kw):
    args = dict(batch_fn=batch_fn, key=jax.random.key(0), num_steps=120, log_every=40, progress=False)
    args.update(kw)
    return train.fit(loss_fn, jnp.zeros(2), optax.sgd(0.05), **args)


def test_learns_and_logs():
    res = fit(eval_fn=lambda w, key: {"err": jnp.sum((w - W) ** 2)})
    assert list(res.history.step) == [40, 80, 120]
    assert res.history.err.iloc[-1] < 0.01 < res.history.err.iloc[0] or res.history.err.iloc[-1] < 0.01
    assert res.history.loss.iloc[-1] < res.history.loss.iloc[0]


def test_chunking_does_not_change_results():
    a = fit(log_every=40).params
    b = fit(log_every=7).params
    assert jnp.array_equal(a, b)


def test_checkpoint_resume_matches_uninterrupted(tmp_path):
    full = fit(num_steps=120).params
    fit(num_steps=80, checkpoint_dir=tmp_path)
    resumed = fit(num_steps=120, checkpoint_dir=tmp_path)
    assert int(resumed.state.step) == 120
    assert list(resumed.history.step) == [40, 80, 120]
    assert jnp.allclose(full, resumed.params, atol=1e-6)


def test_vmap_over_seeds_equals_separate_runs():
    opt = optax.sgd(0.05)
    update = train.make_update(loss_fn, opt, batch_fn=batch_fn)
    keys = jax.random.split(jax.random.key(1), 3)
    init = train.init(jnp.zeros(2), opt)
    states, _ = jax.vmap(lambda k: train.run_steps(update, init, k, 30))(keys)
    for i in range(3):
        single, _ = train.run_steps(update, init, keys[i], 30)
        assert jnp.allclose(states.params[i], single.params, atol=1e-6)


def test_post_update_hook_and_bad_args():
    res = fit(post_update=lambda w, step, key: w.at[0].set(0.0))
    assert float(res.params[0]) == 0.0
    with pytest.raises(CogsimError, match="log_every"):
        fit(log_every=0)
