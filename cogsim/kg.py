"""Knowledge graphs: triple files, index tensors, networkx graphs, ``isa`` hierarchies and link prediction.

A knowledge graph is a set of ``(subject, predicate, object)`` triples, optionally split into
``train``/``valid``/``test``. :func:`load` reads a packaged graph by name (``"umls"``) or a folder holding
``train.txt``, ``valid.txt`` and ``test.txt`` (tab-separated, one triple a line), so users bring their own
graph with no code change. A :class:`KnowledgeGraph` holds the string vocabularies and, per split, an integer
array of ``(s, p, o)`` indices; :func:`to_networkx` and :func:`index_tensor` give the graph and tensor views
(``x[s, p, o] = 1`` for a known triple). :func:`evaluate_link_prediction` computes filtered ranks in both
directions and MRR / Hits@k from a scoring function.

Example:
  >>> from cogsim import kg
  >>> g = kg.from_triples([("canary", "isa", "bird"), ("bird", "isa", "animal")])
  >>> kg.depth(kg.hierarchy(g), "canary")
  2
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from jaxtyping import Float, Int

from cogsim import _kg_files
from cogsim._compare_linkpred import check_link_prediction_args, filtered_ranks, link_prediction_metrics
from cogsim.errors import CogsimError, DataError

SPLITS = ("train", "valid", "test")
_COLUMNS = _kg_files.COLUMNS


# ------------------------------------------------------------------------------------------------ loading
read_triples = _kg_files.read_triples


@dataclasses.dataclass(frozen=True)
class KnowledgeGraph:
    """Vocabularies and per-split integer triples ``[n, 3]`` with columns ``(s, p, o)``.

    Attributes:
      name: where the graph came from.
      entities: entity names; an entity's index is its position.
      predicates: predicate names.
      splits: split name -> int array ``[n, 3]`` of ``(subject, predicate, object)`` indices.

    Example:
      >>> g = from_triples([("canary", "is_a", "bird"), ("bird", "is_a", "animal"), ("canary", "can", "fly")])
      >>> g.entities, g.predicates
      (('animal', 'bird', 'canary', 'fly'), ('can', 'is_a'))
      >>> g.entity_index["canary"], g.triples("train").tolist()
      (2, [[2, 1, 1], [1, 1, 0], [2, 0, 3]])
    """

    name: str
    entities: tuple[str, ...]
    predicates: tuple[str, ...]
    splits: Mapping[str, np.ndarray]

    @property
    def n_entities(self) -> int:
        return len(self.entities)

    @property
    def n_predicates(self) -> int:
        return len(self.predicates)

    @property
    def entity_index(self) -> dict[str, int]:
        return {e: i for i, e in enumerate(self.entities)}

    @property
    def predicate_index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.predicates)}

    def triples(self, splits: str | Sequence[str] = SPLITS) -> Int[np.ndarray, "n 3"]:
        """The ``(s, p, o)`` index triples of one split or several splits stacked (missing splits skipped)."""
        names = (splits,) if isinstance(splits, str) else tuple(splits)
        for n in names:
            if n not in SPLITS and n not in self.splits:
                raise CogsimError(
                    f"knowledge graph {self.name!r}: unknown split {n!r}; have {list(self.splits)}"
                )
        parts = [self.splits[n] for n in names if n in self.splits]
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, 3), np.int64)

    def frame(self) -> pd.DataFrame:
        """All triples as a tidy DataFrame with columns subject, predicate, object, split."""
        frames = []
        for split, t in self.splits.items():
            frames.append(
                pd.DataFrame(
                    {
                        "subject": [self.entities[i] for i in t[:, 0]],
                        "predicate": [self.predicates[i] for i in t[:, 1]],
                        "object": [self.entities[i] for i in t[:, 2]],
                        "split": split,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)


def from_frame(df: pd.DataFrame, *, name: str = "graph") -> KnowledgeGraph:
    """Builds a :class:`KnowledgeGraph` from a DataFrame with subject, predicate, object (and split) columns.

    Entities and predicates are numbered in sorted order. Rows without a split column go to ``train``.

    Raises:
      DataError: a column is missing, a subject, predicate or object is None, NaN or blank (naming the
        row), or the names mix types that cannot be sorted together (e.g. strings and numbers).

    Example:
      >>> import pandas as pd
      >>> g = from_frame(pd.DataFrame({"subject": ["a"], "predicate": ["r"], "object": ["b"]}))
      >>> g.entities, g.triples("train").tolist()
      (('a', 'b'), [[0, 0, 1]])
    """
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"knowledge graph {name!r}: missing column(s) {missing}; found {list(df.columns)}")
    split = df["split"].astype(str) if "split" in df.columns else pd.Series("train", index=df.index)
    entities, predicates = _kg_files.vocabularies(df, name)
    e_idx = {e: i for i, e in enumerate(entities)}
    p_idx = {p: i for i, p in enumerate(predicates)}
    arr = np.stack(
        [
            df["subject"].map(e_idx).to_numpy(),
            df["predicate"].map(p_idx).to_numpy(),
            df["object"].map(e_idx).to_numpy(),
        ],
        axis=1,
    ).astype(np.int64)
    order = [s for s in SPLITS if s in set(split)] + sorted(set(split) - set(SPLITS))
    splits = {s: arr[(split == s).to_numpy()] for s in order}
    return KnowledgeGraph(name, entities, predicates, splits)


def from_triples(
    triples: Iterable[tuple[str, str, str]], *, name: str = "graph", split: str = "train"
) -> KnowledgeGraph:
    """A graph from ``(subject, predicate, object)`` string tuples, all in one split.

    Raises:
      DataError: a triple has not three items, or one of them is None, NaN or blank (naming the triple).

    Example:
      >>> from_triples([("canary", "can", "sing")]).predicates
      ('can',)
    """
    rows = [(t,) if isinstance(t, str) else tuple(t) for t in triples]  # a string is one item
    for i, t in enumerate(rows):
        if len(t) != 3:
            raise DataError(f"knowledge graph {name!r}: triple {i} has {len(t)} items; expected 3")
        if any(_kg_files.no_name(v) for v in t):
            raise DataError(
                f"knowledge graph {name!r}: triple {i} is {t!r}; subject, predicate and object must be "
                "non-empty names (not None, NaN or blank)"
            )
    rows = [tuple(map(str, t)) for t in rows]
    df = pd.DataFrame(rows, columns=list(_COLUMNS))
    df["split"] = split
    return from_frame(df, name=name)


def load(graph: str | os.PathLike = "umls") -> KnowledgeGraph:
    """Loads a packaged graph by name (``"umls"``) or a folder with train.txt, valid.txt and test.txt.

    Args:
      graph: a packaged dataset name (see ``cogsim.data.list()``) or a folder path.

    Raises:
      DataError: neither a packaged graph nor a folder with the three files, a malformed file (naming
        the file and the line), a header line, or a file without triples.

    Example:
      >>> g = load("umls")
      >>> g.n_entities, g.n_predicates, len(g.triples("test"))
      (135, 46, 661)
    """
    from cogsim import data

    text = str(graph)
    packaged = packaged_graphs()
    if text in packaged:
        df = data.load(text)
        return from_frame(df, name=text)
    folder = Path(text)
    if not folder.is_dir():
        raise DataError(
            f"knowledge graph {text!r}: not a packaged graph ({', '.join(sorted(packaged))}) and not a "
            "folder "
            "holding train.txt, valid.txt and test.txt"
        )
    return from_frame(_kg_files.read_folder(folder, SPLITS), name=str(folder))


def packaged_graphs() -> set[str]:
    """Names of the knowledge graphs packaged with cogsim.

    Example:
      >>> "umls" in packaged_graphs()
      True
    """
    from cogsim.data import _registry

    return {n for n, d in _registry.DATASETS.items() if tuple(d.schema) == _COLUMNS}


# ------------------------------------------------------------------------------------------- tensor/graph
def _check_graph(where: str, kg: object) -> None:
    if not isinstance(kg, KnowledgeGraph):
        raise CogsimError(
            f"{where}: kg must be a KnowledgeGraph (from kg.load, kg.from_frame or kg.from_triples); "
            f"got {type(kg).__name__}"
        )


def _split_names(where: str, kg: KnowledgeGraph, splits: str | Sequence[str]) -> tuple[str, ...]:
    """``splits`` as a non-empty tuple of split names, each a standard split or one of ``kg``'s."""
    names = (splits,) if isinstance(splits, str) else tuple(splits) if isinstance(splits, Iterable) else ()
    if not names or not all(isinstance(n, str) for n in names):
        raise CogsimError(
            f"{where}: splits={splits!r} is not allowed; use a split name or a non-empty sequence of them "
            f"(the standard splits are {list(SPLITS)}; {kg.name!r} has {list(kg.splits)})"
        )
    kg.triples(names)  # refuses an unknown name
    return names


def index_tensor(kg: KnowledgeGraph, splits: str | Sequence[str] = SPLITS) -> np.ndarray:
    """The adjacency tensor ``x[s, p, o]`` in {0, 1} (bool) of ``splits`` (a split name or a non-empty
    sequence of them; :class:`CogsimError` for an empty or unknown one).

    Example:
      >>> g = from_triples([("a", "r", "b")])
      >>> index_tensor(g).shape, bool(index_tensor(g)[0, 0, 1])
      ((2, 1, 2), True)
    """
    _check_graph("index_tensor", kg)
    x = np.zeros((kg.n_entities, kg.n_predicates, kg.n_entities), dtype=bool)
    t = kg.triples(_split_names("index_tensor", kg, splits))
    x[t[:, 0], t[:, 1], t[:, 2]] = True
    return x


def to_networkx(kg: KnowledgeGraph, splits: str | Sequence[str] = SPLITS) -> nx.MultiDiGraph:
    """A MultiDiGraph with one node per entity and one edge per triple of ``splits``, keyed by the predicate.

    ``splits`` is a split name or a non-empty sequence of them (:class:`CogsimError` for an empty or unknown
    one).

    Example:
      >>> g = to_networkx(from_triples([("a", "r", "b"), ("a", "q", "b")]))
      >>> sorted(g["a"]["b"])
      ['q', 'r']
    """
    _check_graph("to_networkx", kg)
    names = _split_names("to_networkx", kg, splits)
    g = nx.MultiDiGraph(name=kg.name)
    g.add_nodes_from(kg.entities)
    for split in names:
        for s, p, o in kg.splits.get(split, np.zeros((0, 3), np.int64)):
            g.add_edge(
                kg.entities[s], kg.entities[o], key=kg.predicates[p], predicate=kg.predicates[p], split=split
            )
    return g


# ---------------------------------------------------------------------------------------------- hierarchy
def hierarchy(
    graph: KnowledgeGraph | nx.MultiDiGraph,
    *,
    relation: str = "isa",
    reduce: bool = True,
    splits: str | Sequence[str] = SPLITS,
) -> nx.DiGraph:
    """The ``relation`` edges (child -> parent) as a DiGraph, transitively reduced by default.

    With ``reduce=True`` only direct parents remain (an edge implied by a longer chain is dropped), so
    distances count hierarchy levels even when the graph stores the transitive closure (as UMLS does).

    Raises:
      CogsimError: when the ``relation`` edges contain a cycle, or ``graph`` is neither a
        :class:`KnowledgeGraph` nor a networkx MultiDiGraph.

    Example:
      >>> g = from_triples([("canary", "isa", "bird"), ("bird", "isa", "animal"),
      ...                   ("canary", "isa", "animal")])
      >>> sorted(hierarchy(g).edges())
      [('bird', 'animal'), ('canary', 'bird')]
    """
    if not isinstance(graph, (KnowledgeGraph, nx.MultiDiGraph)):
        raise CogsimError(
            f"hierarchy: graph must be a KnowledgeGraph or a MultiDiGraph; got {type(graph).__name__}"
        )
    g = to_networkx(graph, splits) if isinstance(graph, KnowledgeGraph) else graph
    h = nx.DiGraph()
    h.add_edges_from((u, v) for u, v, k in g.edges(keys=True) if k == relation and u != v)
    if not nx.is_directed_acyclic_graph(h):
        cycle = nx.find_cycle(h)
        raise CogsimError(f"hierarchy: the {relation!r} edges contain a cycle: {cycle}")
    if reduce and h.number_of_edges():
        red = nx.transitive_reduction(h)
        red.add_nodes_from(h.nodes())
        return red
    return h


def ancestors(h: nx.DiGraph, node: str) -> dict[str, int]:
    """Every ancestor of ``node`` in hierarchy ``h`` with its distance in levels (shortest chain of links).

    Example:
      >>> h = hierarchy(from_triples([("canary", "isa", "bird"), ("bird", "isa", "animal")]))
      >>> ancestors(h, "canary")
      {'bird': 1, 'animal': 2}
    """
    if node not in h:
        return {}
    dist = nx.single_source_shortest_path_length(h, node)
    return {n: d for n, d in sorted(dist.items(), key=lambda kv: kv[1]) if n != node}


def depth(h: nx.DiGraph, node: str) -> int:
    """Number of levels above ``node``: the longest chain of links from it to a root (0 for a root).

    Example:
      >>> h = hierarchy(from_triples([("canary", "isa", "bird"), ("bird", "isa", "animal")]))
      >>> depth(h, "animal"), depth(h, "canary")
      (0, 2)
    """
    if node not in h:
        return 0
    memo: dict[str, int] = {}

    def up(n: str) -> int:
        if n not in memo:
            memo[n] = max((1 + up(p) for p in h.successors(n)), default=0)
        return memo[n]

    return up(node)


# -------------------------------------------------------------------------------------- link prediction
@dataclasses.dataclass(frozen=True)
class LinkPredictionResult:
    """Filtered ranks of each evaluated triple in both directions, and the metrics.

    Attributes:
      ranks_tail: rank of the true object of ``(s, p, ?)`` per triple.
      ranks_head: rank of the true subject of ``(?, p, o)`` per triple.
      metrics: ``{"both"|"tail"|"head": {"mrr": ..., "hits@1": ..., ...}}``; "both" pools the two directions.

    Example:
      >>> import numpy as np
      >>> g = from_frame(pd.DataFrame({"subject": ["a", "c"], "predicate": "r", "object": ["b", "c"],
      ...                              "split": ["test", "train"]}))
      >>> x = np.zeros((3, 1, 3)); x[0, 0] = [0.1, 0.5, 0.9]; x[:, 0, 1] = [0.5, 0.2, 0.1]
      >>> res = evaluate_link_prediction(x, g, ks=(1,))  # (a, r, ?): c outscores b; (?, r, b): a is first
      >>> res.ranks_tail.tolist(), res.ranks_head.tolist(), res.metrics["both"]
      ([2.0], [1.0], {'mrr': 0.75, 'mean_rank': 1.5, 'hits@1': 0.5})
      >>> res.table().head(2)
        direction     metric  value
      0      both        mrr   0.75
      1      both  mean_rank   1.50
    """

    ranks_tail: np.ndarray
    ranks_head: np.ndarray
    metrics: dict[str, dict[str, float]]

    def table(self) -> pd.DataFrame:
        """A tidy table: direction, metric, value."""
        return pd.DataFrame(
            [{"direction": d, "metric": k, "value": v} for d, m in self.metrics.items() for k, v in m.items()]
        )


ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def tensor_scorers(scores: Float[np.ndarray, "s p o"]) -> tuple[ScoreFn, ScoreFn]:
    """``(score_tails, score_heads)`` reading a full score tensor ``[N, P, N]`` (``scores[s, p, o]``).

    Raises:
      CogsimError: ``scores`` is not a numeric array of shape ``[N, P, N]``.

    Example:
      >>> import numpy as np
      >>> tails, heads = tensor_scorers(np.zeros((3, 1, 3)))
      >>> tails(np.array([0]), np.array([0])).shape
      (1, 3)
    """
    scores = np.asarray(scores)
    numeric = np.issubdtype(scores.dtype, np.number) or scores.dtype == np.bool_
    if not numeric or scores.ndim != 3 or scores.shape[0] != scores.shape[2]:
        got = f"shape {scores.shape}, dtype {scores.dtype}"
        raise CogsimError(
            f"tensor_scorers: scores has {got}; allowed: a numeric array [N, P, N] (scores[s, p, o])"
        )
    return (lambda s, p: scores[s, p, :]), (lambda p, o: scores[:, p, o].T)


def evaluate_link_prediction(
    scorer: Float[np.ndarray, "s p o"] | tuple[ScoreFn, ScoreFn],
    kg: KnowledgeGraph,
    *,
    split: str = "test",
    filter_splits: Sequence[str] = SPLITS,
    ks: Sequence[int] = (1, 3, 10),
    batch_size: int = 1024,
) -> LinkPredictionResult:
    """Filtered link prediction on ``split``: rank each true object among all entities for ``(s, p, ?)``
    and each true subject for ``(?, p, o)``, removing the other known answers from ``filter_splits``.

    Args:
      scorer: a score tensor ``[N, P, N]`` or ``(score_tails(s, p) -> [n, N], score_heads(p, o) -> [n, N])``
        taking int arrays; higher = more plausible.
      kg: the graph.
      split: which split's triples to rank.
      filter_splits: splits whose triples are known answers (filtered out).
      ks: the k of Hits@k.
      batch_size: queries scored at once.

    Raises:
      CogsimError: ``kg`` is not a :class:`KnowledgeGraph`, ``scorer`` is neither a score tensor of the
        graph's shape nor a pair of functions, ``split`` has no triples, or ``ks``/``batch_size`` are not
        integers >= 1.

    Example:
      >>> import numpy as np
      >>> g = from_triples([("a", "r", "b")], split="test")
      >>> x = np.zeros((2, 1, 2)); x[0, 0, 1] = 1.0; x[1, 0, 0] = 0.5
      >>> res = evaluate_link_prediction(x, g)
      >>> res.ranks_tail.tolist(), res.ranks_head.tolist()
      ([1.0], [1.0])
    """
    _check_graph("evaluate_link_prediction(scorer, kg)", kg)
    ks = check_link_prediction_args(scorer, ks, batch_size)
    if isinstance(scorer, tuple):
        score_tails, score_heads = scorer
    else:
        arr = np.asarray(scorer)
        want = (kg.n_entities, kg.n_predicates, kg.n_entities)
        if arr.shape != want:
            raise CogsimError(
                f"evaluate_link_prediction: score tensor has shape {arr.shape}; expected {want}"
            )
        score_tails, score_heads = tensor_scorers(arr)
    test = kg.triples(split)
    if len(test) == 0:
        raise CogsimError(f"evaluate_link_prediction: split {split!r} of {kg.name!r} has no triples")
    known = kg.triples(filter_splits)
    tails_of: dict[tuple[int, int], list[int]] = {}
    heads_of: dict[tuple[int, int], list[int]] = {}
    for s, p, o in known:
        tails_of.setdefault((int(s), int(p)), []).append(int(o))
        heads_of.setdefault((int(p), int(o)), []).append(int(s))
    n_ent = kg.n_entities
    ranks_t, ranks_h = [], []
    for start in range(0, len(test), batch_size):
        b = test[start : start + batch_size]
        s, p, o = b[:, 0], b[:, 1], b[:, 2]
        mask_t = np.zeros((len(b), n_ent), bool)
        mask_h = np.zeros((len(b), n_ent), bool)
        for i, (si, pi, oi) in enumerate(b):
            mask_t[i, tails_of.get((int(si), int(pi)), [])] = True
            mask_h[i, heads_of.get((int(pi), int(oi)), [])] = True
        st = _scores("score_tails(s, p)", score_tails(s, p), b, kg, "tail")
        sh = _scores("score_heads(p, o)", score_heads(p, o), b, kg, "head")
        ranks_t.append(filtered_ranks(st, o, mask_t))
        ranks_h.append(filtered_ranks(sh, s, mask_h))
    rt, rh = np.concatenate(ranks_t), np.concatenate(ranks_h)
    metrics = {
        "both": link_prediction_metrics(np.concatenate([rt, rh]), ks=ks),
        "tail": link_prediction_metrics(rt, ks=ks),
        "head": link_prediction_metrics(rh, ks=ks),
    }
    return LinkPredictionResult(rt, rh, metrics)


def _scores(call: str, out: object, b: np.ndarray, kg: KnowledgeGraph, missing: str) -> np.ndarray:
    """A scorer's output for the batch ``b`` of triples as float ``[len(b), n_entities]``, or a CogsimError
    naming the scorer, the shape it returned or the first triple scored NaN."""
    arr = np.asarray(out, np.float64)
    want = (len(b), kg.n_entities)
    if arr.shape != want:
        raise CogsimError(
            f"evaluate_link_prediction: {call} returned shape {arr.shape}; expected [n_queries, n_entities] "
            f"= {want} (one score per candidate {missing} entity)"
        )
    bad = np.isnan(arr).any(axis=1)
    if bad.any():
        s, p, o = b[int(np.flatnonzero(bad)[0])]
        t = (kg.entities[s], kg.predicates[p], kg.entities[o])
        raise CogsimError(
            f"evaluate_link_prediction: {call} scored NaN for {int(bad.sum())} of {len(b)} queries, first "
            f"for the triple {t} ({missing} candidates); every candidate needs a number to be ranked"
        )
    return arr
