"""No module grows past ~500 lines without a reason written here (one concept per module).

The docstrings' ``Example:`` sections do not count: they are documentation run as tests
(tests/test_docstrings.py), and a module should not have to drop its examples to stay whole.
"""

from __future__ import annotations

import ast
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
            n = _lines_without_examples(path.read_text())
            if n > LIMIT and rel not in ALLOWED:
                too_long[rel] = n
    assert not too_long, f"modules over {LIMIT} lines (split them or state a reason in ALLOWED): {too_long}"


def test_every_allowed_module_still_exists():
    assert all((ROOT / rel).exists() for rel in ALLOWED)


def _example_lines(text: str) -> set[int]:
    """The 1-based line numbers of the docstrings' ``Example:``/``Examples:`` sections (to the docstring's
    end)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body or not isinstance(body[0], ast.Expr):
            continue
        doc = body[0].value
        if not (isinstance(doc, ast.Constant) and isinstance(doc.value, str)):
            continue
        source = text.splitlines()[doc.lineno - 1 : doc.end_lineno]
        heading = next((i for i, ln in enumerate(source) if ln.strip() in ("Example:", "Examples:")), None)
        if heading is not None:
            lines.update(range(doc.lineno + heading, doc.end_lineno))  # the closing line stays
    return lines


def _lines_without_examples(text: str) -> int:
    return len(text.splitlines()) - len(_example_lines(text))


def test_example_sections_are_what_is_left_out():
    text = '''def f(x):
    """Doubles.

    Example:
      >>> f(2)
      4
    """
    return 2 * x
'''
    assert _example_lines(text) == {4, 5, 6}
    assert _lines_without_examples(text) == 5
