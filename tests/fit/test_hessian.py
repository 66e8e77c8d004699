"""The hierarchical E-step's data Hessians (:mod:`cogsim.fit._hessian`): exact (``jax.jacfwd`` of the
exact gradient) where JAX can take it, central differences for a model whose second derivatives JAX lacks
(docs/fitting_log.md, "Protocol: exact Hessians in the hierarchical E-step")."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cogsim import fit
from cogsim.fit import _hessian, _objective
from cogsim.fit._compress import evaluated
from cogsim.fit._data import pack


def _packed(toy, model, seed=3):
    truth = {"p_mem": np.array([0.7, 0.9, 0.5]), "kappa": np.array([4.0, 9.0, 2.0])}
    data = toy.simulate_frame(toy.VonMisesMixture(), truth, [60, 40, 80], seed=seed)
    return data, evaluated(pack(data, model, by=("subject",)), model, None)


def test_e_step_hessian_equals_jax_hessian(toy):
    model = toy.VonMisesMixture()
    _, packed = _packed(toy, model)
    u = jnp.asarray(np.random.default_rng(0).normal(0.3, 0.5, (len(packed.units), len(model.params))))
    u = u.astype(jnp.float32)
    assert _hessian.exact_available(model, u, packed.trials, packed.mask)
    nll, grad, hess = _hessian.data_hessians(model, packed, u, max_buckets=1)
    for i in range(len(u)):
        trials = jax.tree.map(lambda a, i=i: a[i], packed.trials)

        def f(v, trials=trials, i=i):
            return -_objective.loglik_sum(model, v, trials, packed.mask[i])

        ref = np.asarray(jax.hessian(f)(u[i]), float)
        np.testing.assert_allclose(hess[i], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
        np.testing.assert_allclose(grad[i], np.asarray(jax.grad(f)(u[i]), float), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(nll[i], float(f(u[i])), rtol=1e-6)


def _host_ones(v):
    one = 1.0 + 0.0 * v  # depends on v, so that forward mode meets the callback
    return jax.pure_callback(
        lambda c: np.ones_like(c), jax.ShapeDtypeStruct(v.shape, v.dtype), one, vmap_method="expand_dims"
    )


@jax.custom_vjp
def _no_second_derivative(v):
    return v


# the identity, its derivative (1) computed on the host, as a model whose gradient comes from outside JAX:
# reverse mode works, forward mode over it does not (a pure_callback has no JVP rule), so no Hessian
_no_second_derivative.defvjp(lambda v: (v, v), lambda v, ct: (ct * _host_ones(v),))


class _Wrapped:
    """The toy mixture with its log-likelihood's gradient computed on the host: no second derivatives."""

    def __init__(self, base):
        self.base = base
        self.name, self.by_set_size, self.requires = "wrapped", False, base.requires
        self.params = base.params

    def loglik(self, p, t):
        return self.base.loglik({k: _no_second_derivative(v) for k, v in p.items()}, t)


def test_model_without_second_derivatives_fits_by_central_differences(toy):
    model = _Wrapped(toy.VonMisesMixture())
    data, packed = _packed(toy, model)
    u = jnp.zeros((len(packed.units), len(model.params)), jnp.float32)
    assert not _hessian.exact_available(model, u, packed.trials, packed.mask)
    _, _, hess = _hessian.data_hessians(model, packed, u, max_buckets=1)
    assert np.isfinite(hess).all() and (np.linalg.eigvalsh(hess) > 0).any()
    res = fit.fit_hierarchical(model, data, n_starts=1, key=jax.random.key(0))
    plain = fit.fit_hierarchical(toy.VonMisesMixture(), data, n_starts=1, key=jax.random.key(0))
    assert np.isfinite(res.log_marginal) and res.units["converged"].all()
    # the same model: the fits agree to the central differences' accuracy
    assert abs(res.log_marginal - plain.log_marginal) < 0.05
