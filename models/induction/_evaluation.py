"""Test accuracies and progress measures of a trained network (pure; test sets regenerated from a key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from cogsim import probes
from cogsim.models.induction._network import NetConfig, forward
from cogsim.tasks.reddy_sequences import TaskConfig, World, class_log_probs, mode_settings, sample_sequences


def _progress(captured, batch, task: TaskConfig):
    """Previous-token score (layer 0, label rows) and induction score (last layer, query row)."""
    T = task.seq_len
    label_rows = jnp.arange(1, T - 1, 2)
    prev = probes.previous_token_score(captured["induction.layer0"]["probs"], rows=label_rows)[0]
    last = f"induction.layer{len([n for n in captured if n.startswith('induction.layer')]) - 1}"
    ind = probes.induction_score(captured[last]["probs"], batch["token_ids"], rows=jnp.array([T - 1]))[0]
    return prev, ind


def evaluate(
    params: Mapping[str, Any],
    world: World,
    key: jax.Array,
    task: TaskConfig,
    net: NetConfig = NetConfig(),  # noqa: B008 (frozen)
    *,
    n_test: int = 2000,
    chunk: int = 1000,
    extra_sets: Mapping[str, tuple[str, jax.Array]] | None = None,
) -> dict[str, jax.Array]:
    """Test accuracies and progress measures (pure; the test sets are regenerated from ``key``).

    Returns a dict of scalars: ``ic_acc``, ``ic_loss``, ``ic2_acc`` (scored against the swapped label),
    ``iw_acc``, ``ctx_label_acc`` (IC predictions that are a label present in the context),
    ``ctx_label_mass`` (probability on context labels), ``prev_token`` (layer-0 attention from each label to
    its item), ``induction`` (last-layer attention from the query to labels of its class), plus
    ``{name}_acc`` for each ``extra_sets[name] = (mode, class_logits[, context_logits])`` (None: Zipf law).
    """
    n_chunks = max(1, -(-n_test // chunk))
    size = min(chunk, n_test)
    extra_sets = dict(extra_sets or {})
    names = ["ic", "ic2", "iw", *extra_sets]
    base = class_log_probs(task)
    settings = [(*mode_settings(task, m), base, base) for m in ("ic", "ic2", "iw")]
    for spec in extra_sets.values():
        mode, logits_q = spec[0], spec[1]
        logits_q = base if logits_q is None else logits_q
        logits_x = spec[2] if len(spec) > 2 and spec[2] is not None else logits_q
        settings.append((*mode_settings(task, mode), logits_q, logits_x))
    p_b, p_c, swap, logit_sets, ctx_sets = (
        jnp.stack([jnp.asarray(s[i], jnp.float32) for s in settings]) for i in range(5)
    )
    swap = swap.astype(jnp.int32)

    def one(c):
        kc = jax.random.fold_in(key, c)
        keys = jax.random.split(kc, len(names))
        sets = jax.vmap(lambda k, a, b, s, lg, lx: sample_sequences(k, world, task, size, a, b, s, lg, lx))(
            keys, p_b, p_c, swap, logit_sets, ctx_sets
        )
        fwd = lambda t: probes.run_with_capture(lambda x: forward(params, x, task, net), t)
        logits, cap = jax.vmap(fwd)(sets["tokens"])
        pred = jnp.argmax(logits, -1)
        correct = jnp.mean(pred == sets["target"], axis=-1)
        out = {f"{n}_acc": correct[i] for i, n in enumerate(names)}
        ic = jax.tree_util.tree_map(lambda x: x[0], sets)
        lg = logits[0]
        probs = jax.nn.softmax(lg, -1)
        in_ctx = jax.vmap(lambda lab: jnp.zeros(task.L, bool).at[lab].set(True))(ic["ctx_labels"])
        prev, ind = _progress(jax.tree_util.tree_map(lambda x: x[0], cap), ic, task)
        out.update(
            {
                "ic_loss": optax.softmax_cross_entropy_with_integer_labels(lg, ic["target"]).mean(),
                "ctx_label_acc": jnp.mean(jnp.take_along_axis(in_ctx, pred[0][:, None], 1)),
                "ctx_label_mass": jnp.mean(jnp.sum(probs * in_ctx, -1)),
                "prev_token": prev,
                "induction": ind,
            }
        )
        return out

    res = jax.lax.map(one, jnp.arange(n_chunks))
    return {k: jnp.mean(v) for k, v in res.items()}
