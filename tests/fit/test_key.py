"""The fitting functions refuse a key that is not one JAX random key, naming the function, before any work."""

import jax
import numpy as np
import pytest

from cogsim import data
from cogsim.errors import CogsimError
from cogsim.fit import fit, fit_hierarchical, recover
from cogsim.models import paradigms

M = paradigms.get("delayed_estimation").models["mixture2p"]


@pytest.mark.parametrize("bad", [0, None, np.zeros(2), jax.random.split(jax.random.key(0), 2)], ids=str)
def test_fit_fit_hierarchical_and_recover_refuse_a_key_that_is_not_one_jax_key(bad):
    t = data.load("zhang_luck2008_delayed_estimation").head(200)
    with pytest.raises(CogsimError, match=r"^fit key: got .*; allowed: one jax.random.key\(seed\)"):
        fit(M, t, ci=None, key=bad)
    with pytest.raises(CogsimError, match=r"^fit_hierarchical key: got"):
        fit_hierarchical(M, t, ci=None, key=bad)
    with pytest.raises(CogsimError, match=r"^recover key: got"):
        recover(M, {}, 50, 2, key=bad)


def test_an_old_style_prng_key_is_still_taken():
    t = data.load("zhang_luck2008_delayed_estimation")
    t = t[t.subject == 1]
    a = fit(M, t, ci=None, n_starts=1, key=jax.random.PRNGKey(0)).summary.loglik
    assert np.isfinite(a).all()
