"""Random-effects model selection (``cogsim.fit.bms``) on simulated groups of known composition.

Reads the per-participant fits stored by ``benchmarks/recovery.py models`` (every candidate model fitted to
participants simulated from every model) and, without refitting, forms groups: *pure* (every participant
simulated from one model) and *halves* (for every pair of models, the first half of each one's
participants). Each group's log evidence (-BIC / 2, and -AIC / 2 beside it) goes through ``bms``. The rules
(docs/fitting.md, "Random-effects selection on simulated groups: protocol"): a pure group is recovered when
its generating model has the highest protected exceedance probability and that exceeds 0.95; a halves
group when both generating models' 95 % intervals hold 0.5 and they have the two highest expected
frequencies.

Usage::

    python benchmarks/bms_recovery.py [--out FILE]   # default: benchmarks/results/bms_recovery.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cogsim.fit import bms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import writable  # noqa: E402

HERE = Path(__file__).parent
#: (label, stored results file, its model-recovery entry)
SOURCES = (
    ("delayed_estimation", "recovery_inert.json", "delayed_estimation (20x500)"),
    ("change_detection", "recovery_2026-12-05.json", "change_detection"),
)
PXP_BAR = 0.95  # a pure group's generating model: highest protected exceedance, above this
CRITERIA = ("bic", "aic")


def _group(scores: pd.DataFrame, parts: dict[str, list], criterion: str):
    """bms over the participants ``parts[generating] = [subjects]``."""
    rows = pd.concat(
        [scores[(scores.generating == g) & scores.subject.isin(subs)] for g, subs in parts.items()]
    )
    rows = rows.assign(unit=rows.generating + ":" + rows.subject.astype(str))
    return bms(rows[["model", "unit", criterion]], by=("unit",), criterion=criterion)


def _pure(res, gen: str) -> dict:
    pxp = dict(zip(res.names, res.protected_exceedance, strict=True))
    best = max(pxp, key=pxp.get)
    freq = dict(zip(res.names, res.frequency, strict=True))
    return {
        "frequency": round(float(freq[gen]), 4),
        "frequency_ci": [round(float(v), 4) for v in res.frequency_ci[res.names.index(gen)]],
        "pxp": round(float(pxp[gen]), 4),
        "highest_pxp": best,
        "bor": float(f"{res.bor:.4g}"),
        "recovered": bool(best == gen and pxp[gen] > PXP_BAR),
    }


def _halves(res, a: str, b: str) -> dict:
    freq = dict(zip(res.names, res.frequency, strict=True))
    ci = {n: res.frequency_ci[i] for i, n in enumerate(res.names)}
    top2 = set(sorted(freq, key=freq.get, reverse=True)[:2])
    hold = {g: bool(ci[g][0] <= 0.5 <= ci[g][1]) for g in (a, b)}
    return {
        "frequency": {g: round(float(freq[g]), 4) for g in (a, b)},
        "frequency_ci": {g: [round(float(v), 4) for v in ci[g]] for g in (a, b)},
        "others_top": sorted(set(freq) - {a, b}, key=freq.get, reverse=True)[:1],
        "bor": float(f"{res.bor:.4g}"),
        "recovered": bool(all(hold.values()) and top2 == {a, b}),
    }


def run() -> dict:
    out = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip(),
        "pxp_bar": PXP_BAR,
        "paradigms": {},
    }
    for label, file, entry in SOURCES:
        stored = json.loads((HERE / "results" / file).read_text())["model_recovery"][entry]
        scores = pd.DataFrame(stored["scores"])
        gens = list(dict.fromkeys(scores.generating))
        subjects = {g: sorted(scores[scores.generating == g].subject.unique()) for g in gens}
        para = {"source": f"{file}: {entry} (commit {stored['commit']})", "criteria": {}}
        for crit in CRITERIA:
            pure = {g: _pure(_group(scores, {g: subjects[g]}, crit), g) for g in gens}
            halves = {}
            for a, b in itertools.combinations(gens, 2):
                parts = {a: subjects[a][: len(subjects[a]) // 2], b: subjects[b][: len(subjects[b]) // 2]}
                halves[f"{a}+{b}"] = _halves(_group(scores, parts, crit), a, b)
            para["criteria"][crit] = {
                "pure": pure,
                "halves": halves,
                "pure_recovered": f"{sum(v['recovered'] for v in pure.values())} of {len(pure)}",
                "halves_recovered": f"{sum(v['recovered'] for v in halves.values())} of {len(halves)}",
            }
        out["paradigms"][label] = para
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "results" / "bms_recovery.json"), help="result file (JSON)")
    path = writable(ap, ap.parse_args(argv).out)
    out = run()
    path.write_text(json.dumps(out, indent=2) + "\n")
    for label, para in out["paradigms"].items():
        for crit, r in para["criteria"].items():
            print(f"{label} {crit}: pure {r['pure_recovered']}, halves {r['halves_recovered']}")
            for g, v in r["pure"].items():
                print(
                    f"  pure {g}: frequency {v['frequency']} {v['frequency_ci']} pxp {v['pxp']} "
                    f"(highest {v['highest_pxp']}) {'ok' if v['recovered'] else 'MISSED'}"
                )
            for pair, v in r["halves"].items():
                print(f"  {pair}: {v['frequency']} {'ok' if v['recovered'] else 'MISSED'}")
    print(f"wrote {path}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
