"""No module grows past ~500 lines without a reason written here (one concept per module)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 500
# module -> why it stays whole
ALLOWED = {
    "kernels/flash_attention.py": "the forward and both backward kernels share one tiling and one custom_vjp",
    "cogsim/sweep/executors.py": "the three executors implement one chunk protocol and are read side by side",
    # Over the limit by 8-21 %, to be split next (their models already moved to models/): the scoring and
    # figure code of these scenarios.
}


def test_modules_stay_small():
    too_long = {}
    for folder in ("cogsim", "models", "kernels", "scenarios"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            n = len(path.read_text().splitlines())
            if n > LIMIT and rel not in ALLOWED:
                too_long[rel] = n
    assert not too_long, f"modules over {LIMIT} lines (split them or state a reason in ALLOWED): {too_long}"


def test_every_allowed_module_still_exists():
    assert all((ROOT / rel).exists() for rel in ALLOWED)
