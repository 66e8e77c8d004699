"""factor_predictor: the dense network's change gate."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from cogsim.models import bottleneck as bn
from cogsim.models.factor_predictor import Predictor


def _pred(change_gate: bool, variant: str = "dense"):
    cfg = bn.BottleneckConfig(variant=variant, n_slots=6, slot_dim=8, top_k=2)
    model = Predictor(cfg, n_factors=4, change_gate=change_gate, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (2, 3, 6))
    pred, _ = model(x, jnp.ones((2, 3, 4)), key=jax.random.key(2))
    return np.asarray(pred), model


def test_change_gate_shrinks_each_predicted_change_and_leaves_the_rest_as_it_was():
    plain, m0 = _pred(False)
    gated, m1 = _pred(True)
    assert not hasattr(m0, "gate_head") and hasattr(m1, "gate_head")
    # the workspace and readout start from the same values: the gate only scales each change by (0, 1)
    ratio = gated / plain
    assert np.all((ratio > 0) & (ratio < 1))
    # without the gate, the parameters are those of the earlier model
    n0 = sum(p.size for p in jax.tree.leaves(nnx.state(m0, nnx.Param)))
    n1 = sum(p.size for p in jax.tree.leaves(nnx.state(m1, nnx.Param)))
    assert n1 - n0 == 8 + 1
