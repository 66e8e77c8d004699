"""A unit's log-likelihood summed only up to its last real row: the same value and gradient as the sum over
every row, whatever the mask, and the same fits."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from cogsim.fit import _objective
from cogsim.fit._trimmed import fitted_widths, trimmed_loglik_sum, widths
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


def test_fitted_widths_spend_the_fewest_rows_of_any_choice_of_widths():
    import itertools

    def rows(ws, lasts):
        return sum(min(w for w in ws if w >= x) for x in lasts)

    rng = np.random.default_rng(0)
    for _ in range(40):
        lasts = [int(x) for x in rng.integers(1, 60, rng.integers(1, 14))] + [60]
        for k in range(1, 5):
            ws = fitted_widths(lasts, 60, k)
            assert len(ws) <= k and ws[-1] == 60 and list(ws) == sorted(set(ws))
            values = sorted(set(lasts) - {60})
            others = (c + (60,) for j in range(k) for c in itertools.combinations(values, j))
            assert rows(ws, lasts) == min(rows(c, lasts) for c in others)


def test_trimmed_sum_at_given_widths_and_a_width_short_of_the_padding_is_refused():
    t, m = {"x": jnp.arange(10.0)}, jnp.arange(10) < 4
    rows = lambda tab, tr: tab * tr["x"]  # noqa: E731
    assert float(trimmed_loglik_sum(lambda u: u, rows, jnp.float32(1.0), t, m, (4, 10))) == 6.0
    with pytest.raises(ValueError, match="ending at 10"):
        trimmed_loglik_sum(lambda u: u, rows, jnp.float32(1.0), t, m, (4, 8))
