"""Fitting models to trial data: parameters with bounds, a paradigm's checked trial schema, maximum-likelihood
(or MAP) fits of every participant at once, profile-likelihood or bootstrap CIs, AIC/BIC, cross-validated
log-likelihood, random-effects Bayesian model selection over participants, parameters held fixed or shared
across set sizes (nested models) and their likelihood-ratio tests, hierarchical (group + participant) fits
by EM with the Laplace approximation, posterior (plug-in) predictive checks, parameter and model
recovery, whether fits from different random starts agree, and posterior sampling by HMC with PSIS-LOO and
WAIC from its draws.

    from cogsim import fit
    trials = paradigm.read("my_trials.csv")
    res = fit.fit(model, trials, by=("subject",), cv=5, key=jax.random.key(0))
    res.estimates, res.summary
"""

from cogsim.fit._agreement import start_agreement
from cogsim.fit._at_bound import AT_BOUND_TOL, at_bound_counts, at_bound_line
from cogsim.fit._bms import BMSResult, bms
from cogsim.fit._density import Density, parse_density
from cogsim.fit._diagnostics import ess_bulk, rhat
from cogsim.fit._fit import FitResult, fit
from cogsim.fit._fixed import Fixed, fix
from cogsim.fit._hierarchical import HierarchicalResult, fit_hierarchical
from cogsim.fit._identified import few_set_sizes_line
from cogsim.fit._loo import LooResult, loo, loo_compare, stacking_weights
from cogsim.fit._lrtest import LRTest, lr_test
from cogsim.fit._model import Model
from cogsim.fit._objective import Prior
from cogsim.fit._optim import CONVERGED_GTOL, GTOL, MAX_ITER
from cogsim.fit._paradigm import Column, Paradigm
from cogsim.fit._param import Param
from cogsim.fit._predictive import inside_fraction, predictive, predictive_check
from cogsim.fit._recovery import (
    RecoveryResult,
    confusion,
    default_ranges,
    model_recovery,
    model_recovery_scores,
    recover,
    simulate_data,
)
from cogsim.fit._reloo import reloo
from cogsim.fit._sample import SampleResult, sample
from cogsim.fit._shared import Shared, share
from cogsim.fit._tempering import auto_temperatures, temperatures_for

__all__ = [
    "AT_BOUND_TOL",
    "BMSResult",
    "CONVERGED_GTOL",
    "GTOL",
    "MAX_ITER",
    "Column",
    "Density",
    "FitResult",
    "Fixed",
    "HierarchicalResult",
    "LRTest",
    "LooResult",
    "Model",
    "Param",
    "Paradigm",
    "Prior",
    "RecoveryResult",
    "SampleResult",
    "Shared",
    "at_bound_counts",
    "at_bound_line",
    "bms",
    "confusion",
    "default_ranges",
    "ess_bulk",
    "few_set_sizes_line",
    "fit",
    "fit_hierarchical",
    "fix",
    "inside_fraction",
    "loo",
    "loo_compare",
    "lr_test",
    "model_recovery",
    "model_recovery_scores",
    "parse_density",
    "predictive",
    "predictive_check",
    "recover",
    "reloo",
    "rhat",
    "sample",
    "share",
    "simulate_data",
    "stacking_weights",
    "temperatures_for",
    "auto_temperatures",
    "start_agreement",
]
