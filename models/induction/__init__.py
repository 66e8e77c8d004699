"""Induction-head toy networks: in-context vs in-weights learning in Reddy's classification task.

The task (:mod:`cogsim.tasks.reddy_sequences`, re-exported here): sequences
``x_1, l_1, ..., x_N, l_N, x_q`` of noisy class items and their labels; the target is the query's label.
Bursty contexts, Zipf-distributed classes and novel classes set how much in-context (IC) and in-weights
(IW) learning pays.

The network (Reddy, ICLR 2024): two causal single-head attention-only layers with residuals,
``u <- u + softmax((u Wq)(u Wk)^T) u Wv`` (no ``1/sqrt(d)`` scaling, as in the original), through
:func:`cogsim.attention.dot_product_attention` with names ``"induction.layer0"``, ``"induction.layer1"``,
then a ReLU classifier on the last token. Optionally a learned ``D x D`` *item embedding* multiplies the
content of item tokens (not label tokens): it is the matrix the weight-forgetting schedules of Anand et al.
(ICLR 2025) re-initialise. It starts as a random orthogonal matrix, so a network with it is the original
network seen through a random rotation of the item space.

- :func:`run` trains one network through :mod:`cogsim.train` and evaluates it (with the progress measures
  captured through :mod:`cogsim.probes`); it is pure and ``jax.vmap``-able over keys, over the traced task
  settings (:data:`TRACEABLE`) and the forgetting schedule. :func:`run_vmapped` is that vmap over settings
  and seeds; :func:`fit` the same trajectory through :func:`cogsim.train.fit` (progress bar, checkpoints).
- :func:`evaluate`: IC, IC2 and IW accuracies, context-label accuracy, previous-token and induction scores.
- :func:`fit_phenomenological`: Reddy's three-logit model of the plateau and jump, fitted to a loss curve.

Example:
  >>> import jax
  >>> from cogsim.models import induction as ind
  >>> task = ind.TaskConfig(K=64, L=8, N=4, D=15, N_max=4, B=2)
  >>> world = ind.make_world(jax.random.key(0), task)
  >>> batch = jax.jit(lambda k: ind.sample_batch(k, world, task, 3))(jax.random.key(1))  # compiled once
  >>> params = ind.init_params(jax.random.key(2), task)
  >>> jax.jit(lambda p, tokens: ind.forward(p, tokens, task))(params, batch["tokens"]).shape
  (3, 8)
"""

from cogsim.models.induction._evaluation import evaluate
from cogsim.models.induction._network import NetConfig, embed, forward, init_item_embedding, init_params
from cogsim.models.induction._phenomenology import (
    PhenoFit,
    fit_phenomenological,
    jump_step,
    phenomenological_curve,
    phenomenological_loss,
)
from cogsim.models.induction._training import (
    NO_FORGETTING,
    TRACEABLE,
    ForgetSchedule,
    TrainConfig,
    fit,
    history_frame,
    make_loss_fn,
    make_post_update,
    optimizer,
    run,
    run_vmapped,
)
from cogsim.tasks.reddy_sequences import (
    MODES,
    TaskConfig,
    World,
    class_log_probs,
    make_world,
    mode_settings,
    sample_batch,
    sample_sequences,
)

__all__ = [
    "MODES",
    "NO_FORGETTING",
    "TRACEABLE",
    "ForgetSchedule",
    "NetConfig",
    "PhenoFit",
    "TaskConfig",
    "TrainConfig",
    "World",
    "class_log_probs",
    "embed",
    "evaluate",
    "fit",
    "fit_phenomenological",
    "forward",
    "history_frame",
    "init_item_embedding",
    "init_params",
    "jump_step",
    "make_loss_fn",
    "make_post_update",
    "make_world",
    "mode_settings",
    "optimizer",
    "phenomenological_curve",
    "phenomenological_loss",
    "run",
    "run_vmapped",
    "sample_batch",
    "sample_sequences",
]
