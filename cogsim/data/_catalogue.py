"""The packaged datasets: each one's files, column schema, value checks, description, citation and licence.

A new dataset gets a folder ``cogsim/data/<name>/`` (files, README.md, LICENSE.md) and an entry here.
"""

from __future__ import annotations

import math

from cogsim.data._dataset import Dataset


def _isin(*allowed):
    return (lambda v: v in allowed), f"one of {list(allowed)}"


_ROUDER = (
    "Rouder, Morey, Cowan, Zwilling, Morey & Pratte (2008). An assessment of fixed-capacity models of visual "
    "working memory. PNAS 105(16), 5975-5979. Data: R package WMCapacity (Morey), data/VisualArray.RData."
)
_GUPTA = (
    "Gupta, Zhang, Wu, Wolfe & Kreiman (2021). Visual search asymmetry: deep nets and humans share similar "
    "inherent biases. NeurIPS 2021 (arXiv 2106.02953); human RTs from Wolfe et al. 1992, Kleffner & "
    "Ramachandran 1992, Wolfe & DiMase 2003."
)
_BOOKS = (
    "Sattar, Muller, Fritz & Bulling (2015). Prediction of search targets from fixations in open-world "
    "settings. CVPR 2015; Stauden, Barz & Sonntag (2018). Visual search target inference using bag of deep "
    "visual words. KI 2018 (doi:10.1007/978-3-030-00111-7_25)."
)
_UMLS = (
    "Kok & Domingos (2007). Statistical predicate invention. ICML 2007; files from PyKEEN (Ali et al. 2021, "
    "JMLR 22:82)."
)
_VDB = (
    "van den Berg, Shin, Chou, George & Ma (2012). Variability in encoding precision accounts for visual "
    "short-term memory limitations. PNAS 109(22), 8780-8785. Data: R package BenchmarksWM (Dutli, Wills, "
    "Oberauer), pkg/data/vandenberg12.rda."
)
_ZL = (
    "Zhang & Luck (2008). Discrete fixed-resolution representations in visual working memory. Nature 453, "
    "233-235 (Experiment 2). Data: R package bmm (Popov et al.), data/zhang_luck_2008.rda."
)
_ADAM = (
    "Adam, Mance, Fukuda & Vogel (2015). The contribution of attentional lapses to individual differences in "
    "visual working memory capacity. J Cogn Neurosci 27, 1601-1616 (Experiment 1A). Data: R package "
    "BenchmarksWM (Dutli, Wills, Oberauer), pkg/data/adam15.rda."
)
_ANGLE = (lambda v: -math.pi - 1e-6 <= v <= math.pi + 1e-6), "an angle in radians in [-pi, pi]"
_VSA_KEY = {"model": "str", "experiment": "int", "experiment_name": "str", "condition": "str"}

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "rouder2008_change_detection",
            "rouder2008_change_detection",
            ("visual_array_trials.csv",),
            {
                "sub": "int",
                "blk": "int",
                "trl": "int",
                "prch": "float",
                "N": "int",
                "ischange": "int",
                "resp": "int",
                "RT": "float",
                "probesq": "int",
                "newcol": "str",
                "cor": "bool",
                "oldcol": "str",
            },
            "Change detection, 23 participants, 12,345 trials; set size 2/5/8; "
            "change probability 0.3/0.5/0.7",
            _ROUDER,
            "GPL-2",
            (
                ("N", *_isin(2, 5, 8)),
                ("ischange", *_isin(0, 1)),
                ("resp", *_isin(0, 1)),
                ("RT", (lambda v: 0 <= v < math.inf), "a finite response time in seconds, >= 0"),
            ),
        ),
        Dataset(
            "vandenberg2012_delayed_estimation",
            "vandenberg2012_delayed_estimation",
            ("trials.csv",),
            {
                "experiment": "str",
                "subject": "id",
                "trial": "int",
                "stimulus": "str",
                "response_method": "str",
                "set_size": "int",
                "target_deg": "float",
                "response_deg": "float",
                "target_rad": "float",
                "response_rad": "float",
                "error_rad": "float",
            },
            "Delayed estimation (colour, orientation), 3 experiments, 32 participants, 37,824 trials; "
            "set sizes 1-8",
            _VDB,
            "GPL (>= 2)",
            (
                ("experiment", *_isin("Exp1", "Exp2", "ExpS3")),
                ("set_size", (lambda v: 1 <= v <= 8), "1..8"),
                ("error_rad", *_ANGLE),
            ),
        ),
        Dataset(
            "zhang_luck2008_delayed_estimation",
            "zhang_luck2008_delayed_estimation",
            ("trials.csv",),
            {
                "subject": "id",
                "trial": "int",
                "set_size": "int",
                "error_rad": "float",
                **{f"nontarget_{i}_rad": "float?" for i in range(1, 6)},
            },
            "Delayed estimation of colour, 8 participants, 4,000 trials; set sizes 1/2/3/6",
            _ZL,
            "GPL-2",
            (
                ("set_size", *_isin(1, 2, 3, 6)),
                ("error_rad", *_ANGLE),
                *((f"nontarget_{i}_rad", *_ANGLE) for i in range(1, 6)),
            ),
        ),
        Dataset(
            "adam2015_change_detection",
            "adam2015_change_detection",
            ("trials.csv",),
            {"subject": "id", "set_size": "int", "change": "int", "correct": "int"},
            "Change detection, 40 participants, 12,000 trials; set sizes 2-6; half change trials",
            _ADAM,
            "GPL (>= 2)",
            (
                ("set_size", (lambda v: 1 <= v <= 6), "1..6"),
                ("change", *_isin(0, 1)),
                ("correct", *_isin(0, 1)),
            ),
        ),
        Dataset(
            "rouder2008_summary",
            "rouder2008_change_detection",
            ("summary_by_setsize.csv",),
            {
                "set_size": "int",
                "p_change": "str",
                "n_trials": "int",
                "hit_rate": "float",
                "fa_rate": "float",
                "accuracy": "float",
                "cowan_K": "float",
                "pashler_K": "float",
                "source": "str",
            },
            "Hit and false-alarm rates and Cowan's K by set size and change probability (from the trials)",
            _ROUDER,
            "GPL-2",
        ),
        Dataset(
            "published_means",
            "published_means",
            ("published_means.csv",),
            {
                "paradigm": "str",
                "study": "str",
                "condition": "str",
                "x_name": "str",
                "x": "str?",
                "measure": "str",
                "value": "float",
                "unit": "str",
                "approx": "str",
                "source": "str",
            },
            "Published means (Collins & Quillian 1969, Sperling 1960, Rouder 2008, Raymond et al. 1992)",
            "See the source column of each row.",
            "summary statistics from the cited papers",
            (("approx", *_isin("read_from_figure", "secondary_source", "computed_from_raw", "text")),),
        ),
        Dataset(
            "visual_search_asymmetry.human_rt",
            "visual_search_asymmetry",
            ("human_rt.csv",),
            {
                "experiment": "int",
                "experiment_name": "str",
                "condition": "str",
                "target": "str",
                "distractor": "str",
                "set_size": "int",
                "rt_ms": "float",
                "rt_expression_in_source": "str",
                "human_slope_ms_per_item": "float",
                "human_intercept_ms": "float",
                "original_study": "str",
                "n_subjects": "float?",
                "sem_ms": "float?",
                "source_file": "str",
            },
            "Human mean target-present RT by experiment, condition and set size (six asymmetry experiments)",
            _GUPTA,
            "numbers only; see LICENSE.md",
        ),
        Dataset(
            "visual_search_asymmetry.model_rt",
            "visual_search_asymmetry",
            ("model_rt.csv",),
            {
                **_VSA_KEY,
                "target": "str",
                "distractor": "str",
                "set_size": "int",
                "mean_num_fixations": "float",
                "rt_ms": "float",
                "sem_ms": "float",
                "n_trials": "int",
                "n_trials_scored_as_set_size": "int",
                "source_file": "str",
            },
            "Published model RTs (eccNET, IVSN, ablations) by condition and set size",
            _GUPTA,
            "numbers only; see LICENSE.md",
        ),
        Dataset(
            "visual_search_asymmetry.model_slopes",
            "visual_search_asymmetry",
            ("model_slopes.csv",),
            {
                **_VSA_KEY,
                "model_slope_ms_per_item": "float",
                "model_intercept_ms": "float",
                "human_slope_ms_per_item": "float",
                "source_file": "str",
            },
            "Published model RT-by-set-size slopes next to the human slopes",
            _GUPTA,
            "numbers only; see LICENSE.md",
        ),
        Dataset(
            "visual_search_asymmetry.asymmetry_index",
            "visual_search_asymmetry",
            ("asymmetry_index.csv",),
            {
                "model": "str",
                "experiment": "str",
                "experiment_name": "str?",
                "hard_condition_by_human_slope": "str?",
                "easy_condition_by_human_slope": "str?",
                "model_slope_hard": "float?",
                "model_slope_easy": "float?",
                "model_asymmetry_index": "float",
                "human_asymmetry_index": "float",
            },
            "Asymmetry index per model and experiment (and the mean row), model and human",
            _GUPTA,
            "numbers only; see LICENSE.md",
        ),
        Dataset(
            "visual_search_asymmetry.model_trials",
            "visual_search_asymmetry",
            ("model_trials.csv",),
            {
                "model": "str",
                "experiment": "int",
                "condition": "str",
                "set_size": "int",
                "trial": "int",
                "num_fixations": "int",
                "found_within_budget": "int",
                "source_file": "str",
            },
            "Published models' fixations-to-target per trial",
            _GUPTA,
            "numbers only; see LICENSE.md",
        ),
        Dataset(
            "visual_search_asymmetry.models",
            "visual_search_asymmetry",
            ("models.csv",),
            {"model": "str", "repo_dir": "str", "description": "str"},
            "The published models and what each ablates",
            _GUPTA,
            "numbers only; see LICENSE.md",
        ),
        Dataset(
            "amazon_book_covers.fixations",
            "amazon_book_covers",
            ("fixations.csv",),
            {
                "subject": "int",
                "trial": "int",
                "fixation_index": "int",
                "x": "float",
                "y": "float",
                "duration": "float?",
                "object_id": "int",
                "object_row": "int",
                "object_col": "int",
                "on_target_object": "int",
                "in_target_bbox": "int",
            },
            "Book-cover search scanpaths, collages 1-80, 6 subjects each (object-level fixations)",
            _BOOKS,
            "CC BY-NC-SA 4.0",
            (
                ("object_id", (lambda v: 0 <= v < 84), "0..83"),
                ("object_row", (lambda v: 0 <= v < 6), "0..5"),
                ("object_col", (lambda v: 0 <= v < 14), "0..13"),
            ),
        ),
        Dataset(
            "amazon_book_covers.trials",
            "amazon_book_covers",
            ("trials.csv",),
            {
                "trial": "int",
                "image": "str",
                "image_width": "int",
                "image_height": "int",
                "target_image": "str",
                "target_xmin": "float",
                "target_ymin": "float",
                "target_xmax": "float",
                "target_ymax": "float",
                "target_object_id": "int",
                "target_row": "int",
                "target_col": "int",
            },
            "Book-cover collages: image size, target image, target box and target cell",
            _BOOKS,
            "CC BY-NC-SA 4.0",
        ),
        Dataset(
            "umls",
            "umls",
            ("train.txt", "valid.txt", "test.txt"),
            {"subject": "str", "predicate": "str", "object": "str"},
            "UMLS semantic network triples (135 entities, 46 predicates), standard train/valid/test split",
            _UMLS,
            "MIT (PyKEEN files); UMLS from the U.S. National Library of Medicine",
            sep="\t",
            header=False,
            split_column="split",
        ),
        Dataset(
            "visual_search_wolfe2010",
            "visual_search_wolfe2010",
            ("trials.csv",),
            {
                "task": "str",
                "task_code": "str",
                "subject": "id",
                "trial": "int",
                "set_size": "int",
                "target_present": "int",
                "correct": "int",
                "outcome": "str",
                "rt_ms": "float",
            },
            "Visual search (feature, conjunction, 2 vs 5), 3 x 7 participants, 83,811 trials; set sizes 3-18",
            "Wolfe, Palmer & Horowitz (2010). Reaction time distributions constrain models of visual search. "
            "Vision Research 50(14), 1304-1311. Data: Visual Attention Lab, via "
            "yxlin/HBM-Approach-Visual-Search.",
            "CC BY-NC 4.0",
            (
                ("task", *_isin("feature", "conjunction", "spatial_configuration")),
                ("set_size", (lambda v: 1 <= v <= 64), "1..64"),
                ("target_present", *_isin(0, 1)),
                ("correct", *_isin(0, 1)),
                ("outcome", *_isin("hit", "miss", "false_alarm", "correct_rejection")),
                ("rt_ms", (lambda v: v >= 0), "a time in ms, at least 0"),
            ),
        ),
    ]
}
