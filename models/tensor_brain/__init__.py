"""The tensor brain (Tresp et al. 2020, 2023): semantic decoding for perception and memory.

Four layers:

1. **Sensory buffer**: the recent sensory input, decaying after stimulus offset (:func:`sensory_buffer`).
2. **Index layer**: one unit per concept, grouped into entities (subjects and objects), unary labels
   (classes, attributes), predicates and time (episode) indices. Unit ``i`` has an embedding ``a_i`` and a
   bias ``a_0,i``.
3. **Representation layer** ``q`` (the "blackboard"); the brain state is ``sigmoid(q)``.
4. **Working memory** ``h``: ``h' = B sigmoid(sigmoid(h) + V sigmoid(q))``, ``q' = W sigmoid(h') + input``.

Operations:

- *bottom-up* encoding ``P(Y = i | q) = softmax_i(beta (a_0,i + a_i^T sigmoid(q)))`` (:func:`bottom_up`); it
  is an attention read of the index layer (query ``sigmoid(q)``, keys and values the embeddings) and goes
  through :func:`cogsim.attention.dot_product_attention`, whose output is the "integral" selection
  ``sum_i P_i a_i``;
- *selection*: ``"sample"``, ``"argmax"``, ``"teacher"`` (given index) or ``"integral"``;
- *top-down* embodiment ``q <- r q + f a_k`` (:func:`embody`);
- *sequential triple decoding* (:func:`decode`, :func:`triple_log_probs`): context (time index ``a_t``, or the
  time-marginalised ``a_bar`` for semantic memory) -> subject -> its unary labels -> object -> predicate,
  i.e. ancestral sampling of ``P(s | u) P(o | s, u) P(p | s, o, u)``;
- *episodic memory*: ``q = a_t`` with no sensory input; *semantic memory*: ``q = a_bar = sum_t P(t) a_t``
  (:func:`semantic_context`), or the exact time marginal of the episodic distributions
  (:func:`marginal_log_prob_tensor`); a semantic memory of a static graph may store each fact from both
  ends (``reciprocal``: ``(s, p, o)`` and ``(o, p^-1, s)``; :func:`train_semantic_memory`,
  :func:`semantic_scorers`).

The model is plain functional JAX: parameters are a dict of arrays (a pytree), so :func:`cogsim.train.fit`
trains it and ``jax.vmap`` runs several seeds at once.

Example:
  >>> import jax
  >>> from cogsim.models import tensor_brain as tb
  >>> cfg = tb.TensorBrainConfig(n_entities=4, n_predicates=2, dim=8, wm_dim=8)
  >>> params = tb.init_params(cfg, key=jax.random.key(0))
  >>> out = tb.decode(params, cfg, tb.semantic_context(params), key=jax.random.key(1), mode="argmax")
  >>> [k for k in ("subject", "object", "predicate") if k in out]
  ['subject', 'object', 'predicate']
"""

from ._config import GROUPS, MODES, RELATIONAL, Params, TensorBrainConfig, init_params
from ._decode import decode
from ._layers import (
    bottom_up,
    buffer_strength,
    embody,
    episodic_context,
    select,
    semantic_context,
    sensory_buffer,
    wm_readout,
    wm_update,
)
from ._semantic import (
    TENSOR_LIMIT,
    n_relations,
    reciprocal_triples,
    semantic_log_prob_tensor,
    semantic_scorers,
    train_semantic_memory,
)
from ._shared import SharedRun, SharedTrainer
from ._train import train_memory
from ._triples import (
    core_by_predicate,
    core_product,
    link_scorers,
    log_prob_tensor,
    marginal_log_prob_tensor,
    triple_log_probs,
    triple_nll,
)

__all__ = [
    "GROUPS",
    "MODES",
    "Params",
    "RELATIONAL",
    "TENSOR_LIMIT",
    "SharedRun",
    "SharedTrainer",
    "TensorBrainConfig",
    "bottom_up",
    "core_by_predicate",
    "core_product",
    "buffer_strength",
    "decode",
    "embody",
    "episodic_context",
    "init_params",
    "link_scorers",
    "log_prob_tensor",
    "marginal_log_prob_tensor",
    "n_relations",
    "reciprocal_triples",
    "select",
    "semantic_context",
    "semantic_log_prob_tensor",
    "semantic_scorers",
    "sensory_buffer",
    "train_memory",
    "train_semantic_memory",
    "triple_log_probs",
    "triple_nll",
    "wm_readout",
    "wm_update",
]
