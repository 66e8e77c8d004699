"""dual_process: checks on constructed final accuracies and a tiny end-to-end run."""

from __future__ import annotations

import dataclasses

import jax
import pandas as pd
import pytest

from cogsim import config as cfglib
from cogsim.scenarios import dual_process as sc

# a few steps with tiny batches and test sets: a smoke run of the scenario
SMOKE = {"num_steps": 4, "log_every": 2, "n_test": 16, "eval_chunk": 16, "n_seeds": 1, "batch_size": 8}


def _sim(values: dict[str, dict[str, float]]) -> pd.DataFrame:
    rows = []
    for c, vals in values.items():
        for seed in range(4):  # a small spread over seeds, so that every contrast has a CI
            jitter = {k: v + 0.01 * (seed - 1.5) for k, v in vals.items()}
            rows.append({"condition": c, "seed": seed, "step": 10, "L": 8, "forget_until": 5, **jitter})
    return pd.DataFrame(rows)


GOOD = {
    "standard": dict(
        ic_acc=0.4, iw_acc=0.7, iw_head_acc=0.9, iw_tail_acc=0.2, ic2_head_acc=0.1, ic2_tail_acc=0.3
    ),
    "active": dict(
        ic_acc=0.9, iw_acc=0.12, iw_head_acc=0.13, iw_tail_acc=0.12, ic2_head_acc=0.9, ic2_tail_acc=0.9
    ),
    "temporary": dict(
        ic_acc=0.85, iw_acc=0.6, iw_head_acc=0.88, iw_tail_acc=0.2, ic2_head_acc=0.3, ic2_tail_acc=0.85
    ),
}


def test_checks_pass_on_the_published_pattern_and_fail_on_its_reverse():
    comp = sc.compare(_sim(GOOD), sc.reference().table)
    assert all(c.passed for c in comp.checks)
    assert comp.with_context(data_kind="none").schema_problems() == []
    assert all(c.ci is not None for c in comp.checks)
    reverse = {"standard": GOOD["standard"], "active": GOOD["standard"], "temporary": GOOD["standard"]}
    reverse["active"] = dict(GOOD["standard"], ic_acc=0.12)
    reverse["temporary"] = dict(GOOD["standard"], iw_head_acc=0.2, ic2_tail_acc=0.1)
    comp = sc.compare(_sim(reverse), sc.reference().table)
    assert not any(c.passed for c in comp.checks)


def test_temporary_checks_are_contrasts_against_standard_training():
    # temporary forgetting that only matches standard training does not show the dual process
    same = dict(GOOD, temporary=GOOD["standard"])
    checks = {c.name: c for c in sc.compare(_sim(same), sc.reference().table).checks}
    ic2 = next(c for n, c in checks.items() if "rare classes" in n)
    assert not ic2.passed and abs(ic2.value) < 1e-9


def test_presets_validate():
    for cfg in sc.PRESETS.values():
        cfglib.validate(cfg)


@pytest.mark.slow  # one compile of the full training program (~10-30 s of CPU)
def test_tiny_end_to_end_run_and_plot():
    cfg = dataclasses.replace(
        sc.PRESETS["quick"],
        **SMOKE,
        reset_every=2,
        forget_until=2,
    )
    sim = sc.simulate(cfg, key=jax.random.key(0))
    assert set(sim["condition"]) == set(sc.CONDITIONS)
    assert set(sc.MEASURES) <= set(sim.columns)
    comp = sc.compare(sim, sc.reference().table)
    assert len(comp.checks) == 4
    assert len(sc.plot(sim, sc.reference().table).axes) == 4
