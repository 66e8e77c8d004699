"""A unit's log-likelihood summed only up to its last real row: the same value and gradient as the sum over
every row, whatever the mask, and the same fits."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim.fit import _objective
from cogsim.fit._trimmed import trimmed_loglik_sum, widths
from cogsim.models import working_memory as wm


def test_widths_are_equal_steps_ending_at_the_padded_width():
    assert widths(958) == (240, 479, 719, 958)
    assert widths(1) == (1,)
    for n in (1, 2, 7, 100, 4097):
        w = widths(n)
        assert w[-1] == n and list(w) == sorted(set(w)) and len(w) <= 4


def _unit(n, seed):
    rng = np.random.default_rng(seed)
    return {
        "set_size": jnp.asarray(rng.integers(1, 9, n), jnp.int32),
        "error_rad": jnp.asarray(rng.uniform(-np.pi, np.pi, n), jnp.float32),
    }


MASKS = {
    "bool, real rows first": lambda n: jnp.arange(n) < 130,
    "weights, real rows first": lambda n: jnp.where(jnp.arange(n) < 300, 1.0 + (jnp.arange(n) % 3), 0.0),
    "weights, a held-out fold in between": lambda n: jnp.where(
        (jnp.arange(n) < 500) & (jnp.arange(n) % 4 != 1), 1.0, 0.0
    ),
    "every row": lambda n: jnp.ones(n, bool),
    "no row": lambda n: jnp.zeros(n, bool),
}


@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("name", ["vp", "workspace"])
def test_trimmed_sum_equals_the_full_sum_and_its_gradient(name, mask_name):
    model = wm.DELAYED_ESTIMATION[name].specialise(pd.DataFrame({"set_size": [1, 8]}))
    n = 958
    trials, mask = _unit(n, 0), MASKS[mask_name](n)
    u = _objective.default_u(model) + 0.3
    full = jax.jit(jax.value_and_grad(lambda u: _objective.loglik_sum(model, u, trials, mask)))(u)
    short = jax.jit(jax.value_and_grad(lambda u: _objective.loglik_sum(model, u, trials, mask, True)))(u)
    np.testing.assert_allclose(float(short[0]), float(full[0]), rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(np.asarray(short[1]), np.asarray(full[1]), rtol=1e-4, atol=1e-2)


def test_trimmed_sum_reads_only_rows_up_to_the_width_that_holds_the_last_real_row():
    seen = []

    def rows(t, tr):
        seen.append(tr["x"].shape[0])  # at trace time: one shape per branch
        return t * tr["x"]

    x = jnp.where(jnp.arange(100) < 30, 1.0, jnp.nan)  # NaN rows beyond the real ones: never summed
    value = trimmed_loglik_sum(lambda u: u, rows, jnp.float32(2.0), {"x": x}, jnp.arange(100) < 30)
    assert float(value) == 60.0 and sorted(seen) == list(widths(100))


def test_a_model_without_parts_is_summed_as_before():
    class Plain:
        name, params = "plain", ()

        def loglik(self, p, t):
            return t["x"]

    t, m = {"x": jnp.arange(5.0)}, jnp.array([1, 1, 0, 1, 0], bool)
    assert float(_objective.loglik_sum(Plain(), jnp.zeros(0), t, m, True)) == 4.0
