"""SharedTrainer: candidates of different sizes and settings in one program compute their own models."""

import jax
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.models import tensor_brain as tb


def _facts(n=7, m=3, k=40, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, n, k), rng.integers(0, m, k), rng.integers(0, n, k)], axis=1)


@pytest.mark.parametrize("relational", tb.RELATIONAL)
def test_a_padded_candidate_is_the_model_of_its_own_size(relational):
    cfgs = [
        tb.TensorBrainConfig(
            n_entities=7, n_predicates=3, dim=4, wm_dim=8, init_scale=0.3, relational=relational
        ),
        tb.TensorBrainConfig(
            n_entities=7, n_predicates=6, dim=8, wm_dim=8, reciprocal=True, dropout=0.3, relational=relational
        ),
    ]
    trainer = tb.SharedTrainer(cfgs, _facts(), batch_size=16)
    for i, cfg in enumerate(cfgs):
        run = trainer.start(i, key=jax.random.key(i), lr=0.05, weight_decay=0.1)
        run, first = trainer.steps(run, 40)
        run, last = trainer.steps(run, 40)
        assert float(last[-10:].mean()) < float(first[:10].mean())  # it learns
        params = trainer.params(i, run)
        assert params["entity"].shape == (7, cfg.dim) and params["predicate"].shape == (
            cfg.n_predicates,
            cfg.dim,
        )
        own = tb.semantic_log_prob_tensor(params, cfg)  # the unpadded model, compiled on its own
        np.testing.assert_allclose(trainer.log_prob_tensor(i, run), own, atol=1e-5)
        assert abs(np.exp(own).sum() - 1.0) < 1e-4


def test_candidates_of_different_forms_are_refused():
    cfgs = [
        tb.TensorBrainConfig(n_entities=3, n_predicates=1, relational="additive"),
        tb.TensorBrainConfig(n_entities=3, n_predicates=1, relational="tucker"),
    ]
    with pytest.raises(CogsimError, match="relational"):
        tb.SharedTrainer(cfgs, np.array([[0, 0, 1]]), batch_size=2)


def test_the_initial_state_drawn_in_training_is_the_one_reported_before_training():
    cfgs = [tb.TensorBrainConfig(n_entities=5, n_predicates=2, dim=4, wm_dim=4, init_scale=0.3)]
    trainer = tb.SharedTrainer(cfgs, _facts(n=5, m=2, k=10), batch_size=4)
    run = trainer.start(0, key=jax.random.key(3), lr=0.01, weight_decay=0.0)
    before = trainer.params(0, run)  # drawn on its own, outside the training program
    stepped, losses = trainer.steps(run, 0)  # drawn inside the training program, no step taken
    assert losses.shape == (0,)
    for name, value in trainer.params(0, stepped).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    np.testing.assert_array_equal(trainer.log_prob_tensor(0, stepped), trainer.log_prob_tensor(0, run))
