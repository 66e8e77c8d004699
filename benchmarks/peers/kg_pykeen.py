"""PyKEEN peer for the knowledge-graph benchmark: TuckER, DistMult (or any PyKEEN model) on a graph folder.

Optional dependency (CPU torch): ``pip install torch pykeen``. The triples are read from the same files the
tensor brain trains on (a folder with train.txt, valid.txt, test.txt), so both sides see the identical split.
"""

from __future__ import annotations

import time
from typing import Any


def available() -> tuple[bool, str]:
    """Whether pykeen and torch import, and why not."""
    try:
        import pykeen  # noqa: F401
        import torch  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - report any import failure verbatim
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def nations_folder():
    """The Nations split shipped inside the installed PyKEEN package (no download)."""
    from importlib import resources
    from pathlib import Path

    return Path(str(resources.files("pykeen.datasets") / "nations"))


def run(
    model: str = "RESCAL",
    *,
    folder=None,
    embedding_dim: int = 64,
    num_epochs: int = 100,
    batch_size: int = 256,
    lr: float = 0.01,
    seed: int = 0,
    threads: int | None = None,
    inverse_triples: bool = True,
    loss: str = "crossentropy",
    label_smoothing: float = 0.0,
    regularizer_weight: float | None = 0.0,
    eval_every_epochs: int | None = 25,
) -> dict[str, Any]:
    """Trains one PyKEEN model on the graph in ``folder`` (default: UMLS): LCWA 1-N scoring, cross-entropy
    loss, Adam; inverse triples so that head queries are scored as tail queries of the inverse relation (the
    usual 1-N setting). Returns timing and filtered test metrics, evaluated every ``eval_every_epochs``
    epochs (the curve).

    Returns:
      dict with ``model``, ``train_time_s`` (wall time of the training loop only), ``train_cpu_s`` (its CPU
      time, all threads: the fair measure on a shared machine), ``eval_time_s``, ``mrr``, ``hits@1``,
      ``hits@3``, ``hits@10`` (filtered, both directions, realistic ranks) and the settings used.
    """
    import torch
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.models import model_resolver
    from pykeen.training import LCWATrainingLoop
    from pykeen.triples import TriplesFactory

    from cogsim import data

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    from pathlib import Path

    folder = Path(folder) if folder is not None else data.folder("umls")
    train = TriplesFactory.from_path(folder / "train.txt", create_inverse_triples=inverse_triples)
    valid = TriplesFactory.from_path(
        folder / "valid.txt", entity_to_id=train.entity_to_id, relation_to_id=train.relation_to_id
    )
    test = TriplesFactory.from_path(
        folder / "test.txt", entity_to_id=train.entity_to_id, relation_to_id=train.relation_to_id
    )
    extra = {}
    if regularizer_weight is not None:  # None keeps PyKEEN's default regulariser of the model
        extra = {
            "regularizer": "lp",
            "regularizer_kwargs": {"weight": regularizer_weight, "p": 2.0, "normalize": True},
        }
    m = model_resolver.make(
        model, triples_factory=train, embedding_dim=embedding_dim, loss=loss, random_seed=seed, **extra
    )
    # LCWA instances are the distinct (head, relation) pairs; on a small graph the batch is all of them
    batch_size = min(batch_size, len(torch.unique(train.mapped_triples[:, :2], dim=0)))
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    loop = LCWATrainingLoop(model=m, triples_factory=train, optimizer=opt)
    ev = RankBasedEvaluator(filtered=True)

    def evaluate():
        res = ev.evaluate(
            m,
            test.mapped_triples,
            additional_filter_triples=[train.mapped_triples, valid.mapped_triples],
            use_tqdm=False,
            batch_size=256,
        )
        return {
            k: float(res.get_metric(f"both.realistic.{name}"))
            for k, name in (
                ("mrr", "inverse_harmonic_mean_rank"),
                ("hits@1", "hits_at_1"),
                ("hits@3", "hits_at_3"),
                ("hits@10", "hits_at_10"),
            )
        }

    curve, train_time, train_cpu, eval_time, done = [], 0.0, 0.0, 0.0, 0
    every = eval_every_epochs or num_epochs
    while done < num_epochs:
        n = min(every, num_epochs - done)
        t0, c0 = time.perf_counter(), time.process_time()
        loop.train(
            triples_factory=train,
            num_epochs=done + n,
            batch_size=batch_size,
            use_tqdm=False,
            label_smoothing=label_smoothing,
            drop_last=False,
            continue_training=done > 0,
        )
        train_time += time.perf_counter() - t0
        train_cpu += time.process_time() - c0
        done += n
        t1 = time.perf_counter()
        metrics = evaluate()
        eval_time += time.perf_counter() - t1
        curve.append({"epoch": done, "train_time_s": train_time, "train_cpu_s": train_cpu, **metrics})
    final = curve[-1]
    return {
        "model": f"pykeen.{model}",
        "train_time_s": train_time,
        "train_cpu_s": train_cpu,
        "eval_time_s": eval_time,
        **{k: final[k] for k in ("mrr", "hits@1", "hits@3", "hits@10")},
        "curve": curve,
        "settings": {
            "embedding_dim": embedding_dim,
            "num_epochs": num_epochs,
            "batch_size": batch_size,
            "lr": lr,
            "training_loop": "LCWA",
            "loss": loss,
            "optimizer": "Adam",
            "label_smoothing": label_smoothing,
            "regularizer_weight": regularizer_weight,
            "inverse_triples": inverse_triples,
            "threads": torch.get_num_threads(),
        },
    }


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    print(
        json.dumps(
            run(
                sys.argv[1] if len(sys.argv) > 1 else "RESCAL",
                num_epochs=int(sys.argv[2]) if len(sys.argv) > 2 else 100,
            ),
            indent=2,
        )
    )
