"""Family trees: Hinton's two isomorphic trees, the derived facts, case splits and generated families."""

import collections

import jax
import networkx as nx
import pytest

from cogsim.errors import ConfigError
from cogsim.tasks import family_trees as ft


def test_hinton_trees_have_24_people_12_relations_and_104_cases():
    fam = ft.hinton_trees()
    facts = ft.facts(fam)
    assert len(fam.people) == 24 and len({p.name for p in fam.people}) == 24
    assert ft.RELATIONS == tuple(
        "father mother husband wife son daughter uncle aunt brother sister nephew niece".split()
    )
    assert {r for _, r, _ in facts} == set(ft.RELATIONS)
    assert len(facts) == 112 and len(ft.cases(facts)) == 104  # Hinton's 104 (person1, relation) "triples"
    counts = collections.Counter(r for _, r, _ in facts)
    assert counts["father"] == counts["mother"] == 12  # 6 children with both parents in each tree
    assert counts["husband"] == counts["wife"] == 10  # 5 marriages per tree


def test_the_two_trees_are_isomorphic_and_facts_follow_the_paper():
    fam = ft.hinton_trees()
    facts = set(ft.facts(fam))
    to_it = dict(zip(ft.ENGLISH, ft.ITALIAN, strict=True))
    english = {f for f in facts if f[0] in to_it}
    italian = facts - english
    assert {(to_it[s], r, to_it[o]) for s, r, o in english} == italian
    g_en, g_it = nx.MultiDiGraph(), nx.MultiDiGraph()
    g_en.add_edges_from((s, o, r) for s, r, o in english)
    g_it.add_edges_from((s, o, r) for s, r, o in italian)
    assert nx.is_isomorphic(g_en, g_it, edge_match=lambda a, b: set(a) == set(b))
    for fact in [
        ("Colin", "father", "James"),
        ("Colin", "mother", "Victoria"),
        ("Colin", "aunt", "Jennifer"),
        ("Jennifer", "nephew", "Colin"),
        ("Charles", "niece", "Charlotte"),  # the husband of Colin's aunt is his uncle
        ("Penelope", "husband", "Christopher"),
        ("Arthur", "sister", "Victoria"),
        ("Sophia", "uncle", "Emilio"),
        ("Tomaso", "wife", "Angela"),
    ]:
        assert fact in facts
    assert ("Colin", "uncle", "James") not in facts and ("Margaret", "father", "Christopher") not in facts


def test_split_holds_out_whole_cases_reproducibly():
    facts = ft.facts(ft.hinton_trees())
    a = ft.split_cases(facts, n_test=4, key=jax.random.key(3))
    b = ft.split_cases(facts, n_test=4, key=jax.random.key(3))
    assert a == b and len(ft.cases(a["train"])) == 100 and len(ft.cases(a["test"])) == 4
    assert not set(ft.cases(a["train"])) & set(ft.cases(a["test"]))
    assert sorted(a["train"] + a["test"]) == sorted(facts)
    c = ft.split_cases(facts, n_test=20, n_valid=10, key=jax.random.key(0))
    assert (len(ft.cases(c["test"])), len(ft.cases(c["valid"]))) == (20, 10)
    with pytest.raises(ConfigError, match="n_test"):
        ft.split_cases(facts, n_test=104, key=jax.random.key(0))


def test_attributes_code_nationality_generation_and_branch():
    at = ft.hinton_trees().attributes()
    assert at["nationality"].tolist() == [0] * 12 + [1] * 12
    assert sorted(set(at["generation"].tolist())) == [1, 2, 3]
    assert sorted(set(at["branch"].tolist())) == [-1, 0, 1]


def test_random_family_is_reproducible_and_every_person_plays_every_role():
    fam = ft.random_family(n_generations=4, n_founders=4, key=jax.random.key(0))
    again = ft.random_family(n_generations=4, n_founders=4, key=jax.random.key(0))
    assert fam == again and fam != ft.random_family(n_generations=4, n_founders=4, key=jax.random.key(1))
    facts = ft.facts(fam)
    names = {p.name for p in fam.people}
    assert {s for s, _, _ in facts} == names and {o for _, _, o in facts} == names
    for h, w in fam.marriages:  # marriages are symmetric facts with the right sex
        assert (h, "wife", w) in facts and (w, "husband", h) in facts
    with pytest.raises(ConfigError, match="n_generations"):
        ft.random_family(n_generations=1, key=jax.random.key(0))


def test_split_cases_refuses_a_fractional_number_of_cases():
    with pytest.raises(ConfigError, match="'n_test': got 2.5; allowed: a whole number"):  # before: TypeError
        ft.split_cases(ft.facts(ft.hinton_trees()), n_test=2.5, key=jax.random.key(0))
