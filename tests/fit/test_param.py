import math

import jax.numpy as jnp
import numpy as np
import pytest

from cogsim.errors import CogsimError
from cogsim.fit import Param


@pytest.mark.parametrize(
    "param, values, transform",
    [
        (Param("p", 0.0, 1.0, default=0.5), [0.01, 0.5, 0.99], "logit"),
        (Param("a", -2.0, 3.0, default=0.0), [-1.9, 0.0, 2.9], "logit"),
        (Param("sd", 0.0, default=1.0), [0.001, 1.0, 50.0], "softplus"),
        (Param("c", high=1.0, default=0.0), [-40.0, 0.0, 0.999], "neg_softplus"),
        (Param("mu"), [-5.0, 0.0, 7.0], "identity"),
    ],
)
def test_transform_round_trips_inside_the_bounds(param, values, transform):
    assert param.transform == transform
    for v in values:
        back = float(param.from_unconstrained(param.to_unconstrained(v)))
        assert back == pytest.approx(v, rel=1e-4, abs=1e-5)
    for u in (-30.0, 0.0, 30.0):
        x = float(param.from_unconstrained(jnp.float32(u)))
        assert param.low <= x <= param.high


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"low": 1.0, "high": 0.0, "default": 0.5}, "bounds"),
        ({"low": 0.0, "high": 1.0, "default": 1.0}, "default"),
        ({"low": math.nan}, "bounds"),
    ],
)
def test_bad_param_is_one_line_error(kwargs, word):
    with pytest.raises(CogsimError, match=word):
        Param("x", **kwargs)


def test_unbounded_ends_map_to_the_bounds():
    p = Param("p", 0.0, 1.0, default=0.5)
    assert np.isclose(float(p.from_unconstrained(jnp.inf)), 1.0)
    assert np.isclose(float(p.from_unconstrained(-jnp.inf)), 0.0)
    assert float(Param("sd", 0.0, default=1.0).from_unconstrained(jnp.inf)) == math.inf
