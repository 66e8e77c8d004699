"""Named prior densities: each family's log-density against SciPy's, the text form, and the refusals."""

import math

import numpy as np
import pytest
from scipy import stats

from cogsim.errors import CogsimError
from cogsim.fit import Density, parse_density

X_POS = np.array([0.05, 0.3, 0.7, 0.95])  # inside every family's support
CASES = [
    ("normal(0.5, 2)", stats.norm(0.5, 2.0)),
    ("lognormal(-1, 0.5)", stats.lognorm(0.5, scale=math.exp(-1.0))),
    ("halfnormal(0.4)", stats.halfnorm(scale=0.4)),
    ("beta(2, 5)", stats.beta(2.0, 5.0)),
    ("gamma(3, 2)", stats.gamma(3.0, scale=0.5)),
    ("exponential(1.5)", stats.expon(scale=1 / 1.5)),
    ("uniform(-1, 2)", stats.uniform(-1.0, 3.0)),
    ("student_t(3, 0.2, 0.5)", stats.t(3.0, 0.2, 0.5)),
    ("cauchy(0.1, 0.3)", stats.cauchy(0.1, 0.3)),
]


@pytest.mark.parametrize(("text", "ref"), CASES)
def test_each_family_is_scipys_log_density_and_its_text_round_trips(text, ref):
    d = parse_density(text)
    np.testing.assert_allclose(np.asarray(d(X_POS)), ref.logpdf(X_POS), rtol=1e-5, atol=1e-5)
    assert str(d) == text and parse_density(str(d)) == d
    lo, hi = d.support
    assert ref.support() == pytest.approx((lo, hi))


def test_the_density_is_zero_outside_its_support():
    assert float(parse_density("beta(2, 2)")(1.5)) == -math.inf
    assert float(parse_density("halfnormal(1)")(-0.1)) == -math.inf
    assert float(parse_density("uniform(0, 1)")(2.0)) == -math.inf


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("lognorm(0, 1)", r"prior: got 'lognorm\(0, 1\)'; allowed: normal\(mean, sd\), lognormal"),
        ("normal 0 1", r"allowed: normal\(mean, sd\)"),
        ("normal(0)", r"prior normal: got arguments \(0.0,\); allowed: 2 finite numbers, normal\(mean, sd\)"),
        ("normal(0, -1)", r"prior normal: got sd=-1.0; allowed: sd > 0"),
        ("beta(0, 2)", "prior beta: got a=0.0; allowed: a > 0"),
        ("uniform(2, 1)", "prior uniform: got high=1.0; allowed: high > low"),
        ("gamma(2, x)", r"allowed: numbers as the arguments of gamma\(shape, rate\)"),
        ("normal(0, inf)", "allowed: 2 finite numbers"),
    ],
)
def test_bad_densities_get_one_line_errors(text, match):
    with pytest.raises(CogsimError, match=match):
        parse_density(text)


def test_support_must_cover_the_parameters_bounds():
    parse_density("beta(2, 2)").check_covers("p_mem", 0.0, 1.0)
    parse_density("lognormal(0, 1)").check_covers("sd", 0.02, 4.0)
    parse_density("normal(0, 1)").check_covers("alpha", -1.0, 4.0)
    with pytest.raises(
        CogsimError, match=r"prior K=beta\(2, 2\): its support is \[0, 1\], the parameter's bounds"
    ):
        parse_density("beta(2, 2)").check_covers("K", 0.0, 20.0)
    with pytest.raises(CogsimError, match="support is"):
        parse_density("lognormal(0, 1)").check_covers("c", -5.0, 5.0)
    with pytest.raises(CogsimError, match="support is"):
        Density("uniform", (0.0, 1.0)).check_covers("x", -math.inf, math.inf)
