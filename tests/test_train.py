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


def test_step_wise_loop_uses_the_same_steps_as_the_scan():
    scanned = fit()
    stepped = fit(scan=False)
    assert jnp.allclose(scanned.params, stepped.params, atol=1e-6)
    assert list(stepped.history.step) == [40, 80, 120]
    assert abs(stepped.history.mse.iloc[-1] - scanned.history.mse.iloc[-1]) < 1e-5


def test_checkpoint_names_arrays_by_pytree_path(tmp_path):
    import numpy as np

    params = {"w": jnp.ones(2), "layers": [{"b": jnp.zeros(3)}]}
    state = train.init(params, optax.adam(0.1))
    train.save_checkpoint(tmp_path, state, [{"step": 0}])
    with np.load(tmp_path / "state.npz") as z:
        names = set(z.files)
    assert {"params/w", "params/layers/0/b", "step", "opt_state/0/mu/w"} <= names
    # reordered dict keys restore by name; a renamed leaf is an error that names it
    restored, history = train.load_checkpoint(
        tmp_path, train.init({"layers": [{"b": jnp.ones(3)}], "w": jnp.zeros(2)}, optax.adam(0.1))
    )
    assert restored.params["w"].tolist() == [1.0, 1.0] and history == [{"step": 0}]
    with pytest.raises(CogsimError, match="params/v"):
        train.load_checkpoint(
            tmp_path, train.init({"v": jnp.ones(2), "layers": [{"b": jnp.zeros(3)}]}, optax.adam(0.1))
        )
    with pytest.raises(CogsimError, match="shape"):
        train.load_checkpoint(
            tmp_path, train.init({"w": jnp.ones(3), "layers": [{"b": jnp.zeros(3)}]}, optax.adam(0.1))
        )


def test_pytree_round_trip_keeps_prng_keys_and_dtypes(tmp_path):
    tree = {"key": jax.random.key(3), "n": jnp.arange(3, dtype=jnp.int32), "x": jnp.float32(2.5)}
    train.save_pytree(tmp_path / "t.npz", tree)
    like = {"key": jax.random.key(0), "n": jnp.zeros(3, jnp.int32), "x": jnp.float32(0)}
    back = train.load_pytree(tmp_path / "t.npz", like)
    assert jnp.array_equal(jax.random.key_data(back["key"]), jax.random.key_data(tree["key"]))
    assert back["n"].dtype == jnp.int32 and float(back["x"]) == 2.5


def _noisy_fit(**kw):
    # the score falls while the weights approach W, then jumps to 10 once they are close
    def eval_fn(w, key):
        return {"score": jnp.where(jnp.sum((w - W) ** 2) < 1.0, 10.0, jnp.sum((w - W) ** 2))}

    return fit(**{"num_steps": 400, "log_every": 20, "eval_fn": eval_fn, **kw})


def test_early_stopping_returns_the_best_parameters_and_stops():
    res = _noisy_fit(early_stopping=train.EarlyStopping("score", patience=3))
    scores = res.history.score.to_numpy()
    best = int(res.history.step[scores.argmin()])
    assert res.best_step == best
    assert int(res.history.step.iloc[-1]) == best + 3 * 20 < 400
    again = fit(num_steps=best, log_every=20)
    assert jnp.array_equal(res.params, again.params)
    with pytest.raises(CogsimError, match="patience"):
        train.EarlyStopping("score", patience=0)


def test_early_stopping_resumes_from_a_checkpoint(tmp_path):
    es = train.EarlyStopping("score", patience=3)
    full = _noisy_fit(early_stopping=es)
    _noisy_fit(early_stopping=es, checkpoint_dir=tmp_path, num_steps=40)
    resumed = _noisy_fit(early_stopping=es, checkpoint_dir=tmp_path)
    assert resumed.best_step == full.best_step
    assert list(resumed.history.step) == list(full.history.step)
    assert jnp.allclose(resumed.params, full.params, atol=1e-6)


def test_resume_refuses_early_stopping_the_checkpoint_was_written_without(tmp_path):
    # before: the best parameters of the checkpoint's points were unknown, so fit returned the initial ones
    fit(num_steps=80, checkpoint_dir=tmp_path)
    es = train.EarlyStopping("mse", patience=1, mode="max")
    with pytest.raises(CogsimError, match="early_stopping=.*'mse', 'max'.*logged points are unknown"):
        fit(num_steps=120, checkpoint_dir=tmp_path, early_stopping=es)
    (tmp_path / "meta.json").unlink()  # a checkpoint of an older cogsim: the same refusal
    with pytest.raises(CogsimError, match="early_stopping"):
        fit(num_steps=120, checkpoint_dir=tmp_path, early_stopping=es)


def test_resume_refuses_another_early_stopping_metric(tmp_path):
    _noisy_fit(early_stopping=train.EarlyStopping("score", patience=3), checkpoint_dir=tmp_path, num_steps=40)
    with pytest.raises(CogsimError, match="early_stopping"):
        _noisy_fit(early_stopping=train.EarlyStopping("mse", patience=3), checkpoint_dir=tmp_path)


def test_resume_refuses_another_key_and_fewer_steps(tmp_path):
    fit(num_steps=80, checkpoint_dir=tmp_path)
    with pytest.raises(CogsimError, match="key .* differs"):
        fit(num_steps=120, checkpoint_dir=tmp_path, key=jax.random.key(5))
    with pytest.raises(CogsimError, match="num_steps=40 is below the 80 steps already done"):
        fit(num_steps=40, checkpoint_dir=tmp_path)
    assert int(fit(num_steps=80, checkpoint_dir=tmp_path).state.step) == 80


def test_python_evaluation_and_callback():
    seen = []
    res = fit(
        eval_fn=lambda w, key: {"norm": float(jnp.linalg.norm(w))},
        jit_eval=False,
        callback=lambda step, row: seen.append(step),
    )
    assert seen == [40, 80, 120] and res.history.norm.iloc[-1] > 1.0
