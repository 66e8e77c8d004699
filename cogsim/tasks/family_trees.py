"""Family trees: Hinton's (1986) two isomorphic trees and larger generated families, as relational facts.

A family is a set of people (sex, nationality, generation, branch) with marriages and parent-child links; the
kinship facts ``(person1, relation, person2)`` ("person2 is person1's relation", Hinton's "Colin has-father
James") are derived from those links for Hinton's 12 relations:

- father, mother, husband, wife, son, daughter: the direct links;
- brother, sister: the other children of the same two parents;
- uncle, aunt: a parent's brother or sister, or the husband or wife of a parent's sister or brother;
- nephew, niece: the inverse of uncle and aunt (person2 is a son or daughter of person1's sibling or of
  person1's spouse's sibling).

:func:`hinton_trees` builds the English and the Italian tree of Hinton (1986, Figure 1): 24 people, 112 facts
that group into 104 (person1, relation) cases with their sets of answers (Hinton's 104 "triples": a case such
as "Colin has-uncle" has two answers, Arthur and Charles). :func:`random_family` generates a larger family of
the same kind from a key (entities of one type, every person in every role, the relation alone deciding the
answer), and :func:`split_cases` holds out whole cases, as Hinton did.

Example:
  >>> from cogsim.tasks import family_trees as ft
  >>> fam = ft.hinton_trees()
  >>> len(fam.people), len(ft.RELATIONS), len(ft.facts(fam)), len(ft.cases(ft.facts(fam)))
  (24, 12, 112, 104)
  >>> sorted(o for s, r, o in ft.facts(fam) if (s, r) == ("Colin", "uncle"))
  ['Arthur', 'Charles']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import numpy as np

from cogsim.errors import ConfigError

#: Hinton's 12 relations, in the order of his paper's input units.
RELATIONS = (
    "father",
    "mother",
    "husband",
    "wife",
    "son",
    "daughter",
    "uncle",
    "aunt",
    "brother",
    "sister",
    "nephew",
    "niece",
)


@dataclasses.dataclass(frozen=True)
class Person:
    """One person: name, sex ("m"/"f"), nationality, generation (1 = oldest) and branch of the tree.

    ``branch`` is the side of the tree the person belongs to by birth or marriage (0: the first founding
    couple's side, 1: the second's), or -1 for the children of a marriage that joins the two sides.

    Example:
      >>> family = hinton_trees()
      >>> family.person("Victoria")
      Person(name='Victoria', sex='f', nationality='English', generation=2, branch=0)
      >>> family.person("Colin").branch  # a child of Victoria and James, who married in from the other side
      -1
    """

    name: str
    sex: str
    nationality: str
    generation: int
    branch: int


@dataclasses.dataclass(frozen=True)
class Family:
    """People with their marriages ``(husband, wife)`` and parent-child links ``(parent, child)``.

    Example:
      >>> family = hinton_trees()
      >>> len(family.people), family.marriages[0], [p for p, c in family.parents if c == "Colin"]
      (24, ('Christopher', 'Penelope'), ['James', 'Victoria'])
      >>> {k: v[:4].tolist() for k, v in family.attributes().items()}
      {'nationality': [0, 0, 0, 0], 'generation': [1, 1, 1, 1], 'branch': [0, 0, 1, 1], 'sex': [0, 1, 0, 1]}
    """

    people: tuple[Person, ...]
    marriages: tuple[tuple[str, str], ...]
    parents: tuple[tuple[str, str], ...]

    def person(self, name: str) -> Person:
        """The person called ``name``."""
        for p in self.people:
            if p.name == name:
                return p
        raise KeyError(name)

    def attributes(self) -> dict[str, np.ndarray]:
        """Per person (in ``people`` order): ``nationality`` codes, ``generation``, ``branch``, ``sex`` (1 =
        female)."""
        nats = sorted({p.nationality for p in self.people})
        return {
            "nationality": np.array([nats.index(p.nationality) for p in self.people]),
            "generation": np.array([p.generation for p in self.people]),
            "branch": np.array([p.branch for p in self.people]),
            "sex": np.array([int(p.sex == "f") for p in self.people]),
        }


# ------------------------------------------------------------------------------------------- Hinton 1986
def _tree(names: Sequence[str], nationality: str) -> tuple[list[Person], list, list]:
    """One of Hinton's two trees, given its 12 names in the fixed positions of his Figure 1."""
    (g1a_h, g1a_w, g1b_h, g1b_w, c_a_son, c_a_dau, c_b_son, c_b_dau, in_w, in_h, g3_son, g3_dau) = names
    spec = [  # name, sex, generation, branch
        (g1a_h, "m", 1, 0),
        (g1a_w, "f", 1, 0),
        (g1b_h, "m", 1, 1),
        (g1b_w, "f", 1, 1),
        (c_a_son, "m", 2, 0),
        (c_a_dau, "f", 2, 0),
        (c_b_son, "m", 2, 1),
        (c_b_dau, "f", 2, 1),
        (in_w, "f", 2, 0),  # marries the first couple's son
        (in_h, "m", 2, 1),  # marries the second couple's daughter
        (g3_son, "m", 3, -1),
        (g3_dau, "f", 3, -1),
    ]
    people = [Person(n, s, nationality, g, b) for n, s, g, b in spec]
    marriages = [(g1a_h, g1a_w), (g1b_h, g1b_w), (c_a_son, in_w), (c_b_son, c_a_dau), (in_h, c_b_dau)]
    parents = []
    for couple, kids in (
        ((g1a_h, g1a_w), (c_a_son, c_a_dau)),
        ((g1b_h, g1b_w), (c_b_son, c_b_dau)),
        ((c_b_son, c_a_dau), (g3_son, g3_dau)),
    ):
        parents += [(par, kid) for par in couple for kid in kids]
    return people, marriages, parents


#: The names of Hinton's Figure 1 in the positions that :func:`_tree` expects: the two founding couples
#: (husband, wife), the first couple's son and daughter, the second couple's son and daughter, the wife who
#: marries the first couple's son, the husband who marries the second couple's daughter, and the grandchildren
#: (children of the first couple's daughter and the second couple's son).
ENGLISH = (
    "Christopher",
    "Penelope",
    "Andrew",
    "Christine",
    "Arthur",
    "Victoria",
    "James",
    "Jennifer",
    "Margaret",
    "Charles",
    "Colin",
    "Charlotte",
)
ITALIAN = (
    "Roberto",
    "Maria",
    "Pierro",
    "Francesca",
    "Emilio",
    "Lucia",
    "Marco",
    "Angela",
    "Gina",
    "Tomaso",
    "Alfonso",
    "Sophia",
)


def hinton_trees() -> Family:
    """Hinton's (1986) English and Italian family trees: 24 people, isomorphic by position.

    Example:
      >>> fam = hinton_trees()
      >>> fam.person("Colin").generation, ("Victoria", "Colin") in fam.parents
      (3, True)
    """
    people, marriages, parents = [], [], []
    for names, nat in ((ENGLISH, "English"), (ITALIAN, "Italian")):
        p, m, c = _tree(names, nat)
        people += p
        marriages += m
        parents += c
    return Family(tuple(people), tuple(marriages), tuple(parents))


# -------------------------------------------------------------------------------------------- derivation
def facts(family: Family) -> list[tuple[str, str, str]]:
    """Every true ``(person1, relation, person2)`` fact of the family ("person2 is person1's relation").

    Sorted by person (in ``family.people`` order), relation (in :data:`RELATIONS` order), then person2.

    Example:
      >>> [f for f in facts(hinton_trees()) if f[0] == "Charlotte" and f[1] in ("father", "brother")]
      [('Charlotte', 'father', 'James'), ('Charlotte', 'brother', 'Colin')]
    """
    sex = {p.name: p.sex for p in family.people}
    order = {p.name: i for i, p in enumerate(family.people)}
    spouse: dict[str, set[str]] = {n: set() for n in sex}
    for h, w in family.marriages:
        spouse[h].add(w)
        spouse[w].add(h)
    par: dict[str, set[str]] = {n: set() for n in sex}
    kids: dict[str, set[str]] = {n: set() for n in sex}
    for a, c in family.parents:
        par[c].add(a)
        kids[a].add(c)
    sibs = {n: {m for m in sex if m != n and par[n] and par[m] == par[n]} for n in sex}
    # piblings: parents' siblings and their spouses
    pib = {n: {u for a in par[n] for s in sibs[a] for u in {s} | spouse[s]} for n in sex}
    nib = {n: {m for m in sex if n in pib[m]} for n in sex}
    by_sex = {"m": "father husband son uncle brother nephew", "f": "mother wife daughter aunt sister niece"}
    kind = {}
    for s, rels in by_sex.items():
        for r, group in zip(rels.split(), ("par", "spouse", "kids", "pib", "sibs", "nib"), strict=True):
            kind[r] = (group, s)
    groups = {"par": par, "spouse": spouse, "kids": kids, "pib": pib, "sibs": sibs, "nib": nib}
    out = []
    for person in family.people:
        for r in RELATIONS:
            group, s = kind[r]
            for other in sorted(groups[group][person.name], key=order.__getitem__):
                if sex[other] == s:
                    out.append((person.name, r, other))
    return out


def cases(fact_list: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """Groups facts into (person1, relation) cases with their answer sets, in first-seen order.

    Example:
      >>> cases([("a", "r", "b"), ("a", "r", "c"), ("b", "r", "a")])
      {('a', 'r'): ('b', 'c'), ('b', 'r'): ('a',)}
    """
    out: dict[tuple[str, str], list[str]] = {}
    for s, r, o in fact_list:
        out.setdefault((s, r), []).append(o)
    return {k: tuple(v) for k, v in out.items()}


def split_cases(
    fact_list: Sequence[tuple[str, str, str]], *, n_test: int, n_valid: int = 0, key: jax.Array
) -> dict[str, list[tuple[str, str, str]]]:
    """Holds out ``n_test`` (and ``n_valid``) whole (person1, relation) cases, drawn at random by ``key``.

    Every fact of a held-out case (all its answers) goes to that split, as in Hinton (1986), where a held-out
    "triple" was a person and a relation with its set of answers.

    Returns:
      ``{"train": [...], "valid": [...], "test": [...]}`` lists of facts.

    Raises:
      ConfigError: when ``n_test + n_valid`` leaves no case for training.

    Example:
      >>> import jax
      >>> sp = split_cases(facts(hinton_trees()), n_test=4, key=jax.random.key(0))
      >>> len(cases(sp["train"])), len(cases(sp["test"]))
      (100, 4)
    """
    cs = cases(fact_list)
    keys = list(cs)
    for name, value in (("n_test", n_test), ("n_valid", n_valid)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(name, value, "a whole number of cases (an integer >= 0)")
    if n_test < 0 or n_valid < 0 or n_test + n_valid >= len(keys):
        raise ConfigError(
            "n_test + n_valid",
            n_test + n_valid,
            f"between 0 and {len(keys) - 1} (there are {len(keys)} cases)",
        )
    perm = np.asarray(jax.random.permutation(key, len(keys)))
    test = {keys[i] for i in perm[:n_test]}
    valid = {keys[i] for i in perm[n_test : n_test + n_valid]}
    out: dict[str, list] = {"train": [], "valid": [], "test": []}
    for f in fact_list:
        c = (f[0], f[1])
        out["test" if c in test else "valid" if c in valid else "train"].append(tuple(f))
    return out


# ---------------------------------------------------------------------------------------- generated family
def random_family(*, n_generations: int = 4, n_founders: int = 4, key: jax.Array) -> Family:
    """A larger family of one nationality, generated from ``key`` with Hinton's kinds of links.

    The first generation is ``n_founders`` married couples. Each couple has 1-3 children (random sexes); each
    child of a generation below the last marries either a child of another couple of the same generation (a
    man and a woman, never siblings) or a spouse from outside the family, who joins that generation. Branch is
    the founding couple a person descends from or marries into (-1 where a marriage joins two branches).

    Example:
      >>> import jax
      >>> fam = random_family(n_generations=3, n_founders=2, key=jax.random.key(0))
      >>> {p.generation for p in fam.people} == {1, 2, 3}
      True
    """
    if n_generations < 2:
        raise ConfigError("n_generations", n_generations, "an integer >= 2")
    if n_founders < 1:
        raise ConfigError("n_founders", n_founders, "an integer >= 1")
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    people: list[Person] = []
    marriages: list[tuple[str, str]] = []
    parents: list[tuple[str, str]] = []

    def new(sex: str, gen: int, branch: int) -> str:
        name = f"p{len(people)}"
        people.append(Person(name, sex, "generated", gen, branch))
        return name

    couples = []
    for b in range(n_founders):
        h, w = new("m", 1, b), new("f", 1, b)
        marriages.append((h, w))
        couples.append((h, w, b))
    for gen in range(2, n_generations + 1):
        children = []  # (name, sex, couple index)
        for ci, (h, w, b) in enumerate(couples):
            for _ in range(int(rng.integers(1, 4))):
                c = new("m" if rng.random() < 0.5 else "f", gen, b)
                parents += [(h, c), (w, c)]
                children.append((c, people[-1].sex, ci, b))
        if gen == n_generations:
            break
        couples = []
        free = list(rng.permutation(len(children)))
        taken: set[int] = set()
        for i in free:
            if i in taken:
                continue
            taken.add(i)
            name, sex, ci, b = children[i]
            mate = next(
                (
                    j
                    for j in free
                    if j not in taken
                    and children[j][1] != sex
                    and children[j][2] != ci
                    and rng.random() < 0.5
                ),
                None,
            )
            if mate is None:  # a spouse from outside the family
                other = new("f" if sex == "m" else "m", gen, b)
                pair, branch = (name, other) if sex == "m" else (other, name), b
            else:
                taken.add(mate)
                m_name, _, _, mb = children[mate]
                pair = (name, m_name) if sex == "m" else (m_name, name)
                branch = b if mb == b else -1
            marriages.append(pair)
            couples.append((*pair, branch))
    return Family(tuple(people), tuple(marriages), tuple(parents))
