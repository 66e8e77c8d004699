"""The attention-only network on Reddy's task, its training, forgetting schedules and the phenomenological
model (the task itself: tests/tasks/test_reddy_sequences.py)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.errors import ConfigError
from cogsim.models import induction as ind

TASK = ind.TaskConfig(K=64, L=8, N=4, D=15, N_max=6, B=2)


@pytest.fixture(scope="module")
def world():
    return ind.make_world(jax.random.key(0), TASK)


@pytest.fixture(scope="module")
def batches(world):
    """One compiled sampler call per mode (the modes share shapes)."""
    f = jax.jit(
        lambda k, pb, pc, sw: ind.sample_sequences(k, world, TASK, 400, pb, pc, sw, ind.class_log_probs(TASK))
    )
    return {
        m: jax.tree_util.tree_map(np.asarray, f(jax.random.key(1), *ind.mode_settings(TASK, m)))
        for m in ind.MODES
    }


def test_network_shapes_and_named_attention(world):
    from cogsim import probes

    net = ind.NetConfig(item_embedding=True)
    p = jax.jit(lambda k: ind.init_params(k, TASK, net))(jax.random.key(0))
    d = TASK.token_dim
    assert d == 2 * TASK.N_max + 1 + TASK.D
    assert all(layer[n].shape == (d, d) for layer in p["attn"] for n in ("Wq", "Wk", "Wv"))
    assert [m["W"].shape for m in p["mlp"]] == [(d, d)] * 3
    assert p["readout"].shape == (d, TASK.L)
    E = np.asarray(p["item_embed"])
    np.testing.assert_allclose(E @ E.T, np.eye(TASK.D), atol=1e-4)
    b = jax.jit(lambda k: ind.sample_batch(k, world, TASK, 5))(jax.random.key(2))
    logits, cap = jax.jit(lambda p, t: probes.run_with_capture(ind.forward, p, t, TASK, net))(p, b["tokens"])
    assert logits.shape == (5, TASK.L)
    assert cap["induction.layer0"]["probs"].shape == (5, 1, TASK.seq_len, TASK.seq_len)
    assert cap["induction.resid2"].shape == (5, TASK.seq_len, d)
    # causal: no attention to later tokens
    assert float(jnp.triu(cap["induction.layer1"]["probs"][0, 0], 1).sum()) == 0.0


def test_shared_bias_is_one_bias_per_classifier_layer(world):
    shared_net = ind.NetConfig(shared_bias=True)
    # everything jitted: one compilation per function instead of one per operation
    shared = jax.jit(lambda k: ind.init_params(k, TASK, shared_net))(jax.random.key(0))
    unit = jax.jit(lambda k: ind.init_params(k, TASK))(jax.random.key(0))
    assert [m["b"].shape for m in shared["mlp"]] == [(1,)] * 3
    assert [m["b"].shape for m in unit["mlp"]] == [(TASK.token_dim,)] * 3
    b = jax.jit(lambda k: ind.sample_batch(k, world, TASK, 32))(jax.random.key(2))
    # the same function at init (zero biases); the shared bias's gradient is the sum over the layer's units
    g_shared, _ = jax.jit(jax.grad(ind.make_loss_fn(TASK, shared_net), has_aux=True))(shared, b, None)
    g_unit, _ = jax.jit(jax.grad(ind.make_loss_fn(TASK), has_aux=True))(unit, b, None)
    for gs, gu in zip(g_shared["mlp"], g_unit["mlp"], strict=True):
        np.testing.assert_allclose(gs["W"], gu["W"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gs["b"], [float(gu["b"].sum())], rtol=1e-4, atol=1e-6)
        assert float(jnp.std(gu["b"])) > 0  # per-unit biases get different gradients


def test_item_embedding_changes_only_item_tokens(world):
    net = ind.NetConfig(item_embedding=True)
    p = jax.jit(lambda k: ind.init_params(k, TASK, net))(jax.random.key(0))
    b = jax.jit(lambda k: ind.sample_batch(k, world, TASK, 3))(jax.random.key(2))
    e = np.asarray(jax.jit(lambda p, t: ind.embed(p, t, TASK))(p, b["tokens"]))
    t = np.asarray(b["tokens"])
    np.testing.assert_array_equal(e[:, 1::2], t[:, 1::2])  # labels untouched
    assert not np.allclose(e[:, 0::2, TASK.n_pos :], t[:, 0::2, TASK.n_pos :])
    np.testing.assert_allclose(
        np.linalg.norm(e[:, 0::2], axis=-1), np.linalg.norm(t[:, 0::2], axis=-1), rtol=1e-4
    )


def test_forgetting_schedule_resets_at_the_right_steps():
    net = ind.NetConfig(item_embedding=True)
    p = jax.jit(lambda k: ind.init_params(k, TASK, net))(jax.random.key(0))
    active = ind.make_post_update(TASK, ind.ForgetSchedule(10, -1))
    temp = ind.make_post_update(TASK, ind.ForgetSchedule(10, 25))
    never = ind.make_post_update(TASK, ind.ForgetSchedule(0, -1))
    k = jax.random.key(5)
    changed = lambda f, s: not np.allclose(jax.jit(f)(p, jnp.int32(s), k)["item_embed"], p["item_embed"])
    assert changed(active, 9) and changed(active, 99) and not changed(active, 10)
    assert changed(temp, 19) and not changed(temp, 29)
    assert not changed(never, 9)


def test_phenomenological_model_plateau_then_jump_and_fit():
    c = np.asarray(ind.phenomenological_curve(jnp.array([-3.0, 0.5, 0.05]), 0.05, 3000, N=8, L=32))
    assert c[0] == pytest.approx(math.log(32), abs=0.05)
    assert c[-1] < 0.2
    # slow decline, then a fast drop: the steepest step comes late, after most of the time on the plateau
    drop = -np.diff(c)
    assert np.argmax(drop) > 500
    assert c[500] > 2.5 and c[1500] < 0.5
    fit = ind.fit_phenomenological(np.arange(0, 3001, 100), c[::100], N=8, L=32)
    assert fit.rmse < 0.15


def test_short_training_run_learns_in_context():
    task = ind.TaskConfig(K=256, L=8, N=4, D=15, N_max=4, B=2)
    tc = ind.TrainConfig(lr=0.1, batch_size=64, num_steps=300, log_every=150, n_test=256, eval_chunk=256)
    run = jax.jit(lambda k: ind.run(k, task, ind.NetConfig(), tc)[1])
    h = {k: np.asarray(v) for k, v in run(jax.random.key(0)).items()}
    assert h["step"].tolist() == [0, 150, 300]
    assert h["loss"][-1] < math.log(8) - 0.3
    # picks labels present in the context far above chance (2 of 8 labels in context -> 0.25)
    assert h["ctx_label_acc"][-1] > 0.6
    assert h["ic_acc"][-1] > 1 / 8 + 0.1
    # same key, same numbers
    np.testing.assert_allclose(np.asarray(run(jax.random.key(0))["ic_acc"]), h["ic_acc"])


def test_samples_and_init_do_not_depend_on_vmap():
    """A seed alone and the same seed inside a vmapped batch of seeds see the same data and weights."""
    keys = jax.random.split(jax.random.key(3), 3)

    def one(k):
        w = ind.make_world(k, TASK)
        return ind.sample_batch(k, w, TASK, 16)["target"], ind.init_params(k, TASK)["attn"][0]["Wq"]

    batched = jax.jit(jax.vmap(one))(keys)
    alone = jax.jit(one)(keys[2])
    np.testing.assert_array_equal(np.asarray(batched[0][2]), np.asarray(alone[0]))
    np.testing.assert_allclose(np.asarray(batched[1][2]), np.asarray(alone[1]), rtol=1e-6, atol=1e-7)


def test_last_only_forward_gives_the_same_logits(batches):
    p = ind.init_params(jax.random.key(0), TASK)
    tokens = jnp.asarray(batches["train"]["tokens"][:32])
    f = jax.jit(lambda p, t: (ind.forward(p, t, TASK), ind.forward(p, t, TASK, last_only=True)))
    full, last = f(p, tokens)
    np.testing.assert_allclose(np.asarray(full), np.asarray(last), rtol=1e-5, atol=1e-5)


def test_run_vmapped_equals_separate_runs_and_checks_fields():
    task = ind.TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
    tc = ind.TrainConfig(lr=0.1, num_steps=6, log_every=3, batch_size=8, n_test=16, eval_chunk=16)
    h = ind.run_vmapped(jax.random.key(0), task, ind.NetConfig(), tc, points={"eps": [0.1, 0.5]}, n_seeds=2)
    assert h["ic_acc"].shape == (2, 2, 3)
    alone = jax.jit(lambda k: ind.run(k, dataclasses.replace(task, eps=0.5), ind.NetConfig(), tc)[1])
    one = alone(jax.random.fold_in(jax.random.key(0), 1))
    np.testing.assert_allclose(h["loss"][1, 1, 1:], np.asarray(one["loss"])[1:], rtol=1e-5)
    with pytest.raises(ConfigError, match="points.N"):
        ind.run_vmapped(jax.random.key(0), task, points={"N": [4]}, n_seeds=1)


def test_train_config_refuses_a_learning_rate_of_zero():
    from cogsim import config

    with pytest.raises(ConfigError, match="'lr': got 0.0"):
        config.validate(ind.TrainConfig(lr=0.0))
    assert config.validate(ind.TrainConfig(lr=0.1)).lr == 0.1
