"""Grading a student's notebook with the instructor's: the answer-cell hook.

The student notebook has one answer cell: its first line is `# ANSWER` (or it carries the
cell tag `answer`). The instructor's notebook (the solution, with reference outputs) has
its own answer cell followed by a hook cell:

    from nk_jupyter.grading.notebook import use_student_answer
    use_student_answer(globals())

Without NK_STUDENT_NOTEBOOK the hook does nothing. With NK_STUDENT_NOTEBOOK=path it runs
that notebook's answer cell(s) in the instructor's namespace, so everything after it
(labs, printed tables, checks) runs on the student's answer and is compared by nbval
with the instructor's reference outputs:

    NK_STUDENT_NOTEBOOK=alice.ipynb pytest --nbval --nbval-current-env \\
        --nbval-sanitize-with "$(nk nbval-sanitize-path)" solution.ipynb
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UserError

ENV = "NK_STUDENT_NOTEBOOK"
MARK = "# ANSWER"
TAG = "answer"


def answer_cells(path: str | Path) -> list[str]:
    """The sources of the answer cells of a notebook (UserError if it has none)."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable notebook ({e})") from None
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        tags = cell.get("metadata", {}).get("tags", [])
        if src.lstrip().startswith(MARK) or TAG in tags:
            out.append(src)
    if not out:
        raise UserError(f"{path}: no answer cell (a code cell starting with '{MARK}')")
    return out


def use_student_answer(namespace: dict) -> None:
    """Run the student's answer cells in namespace when NK_STUDENT_NOTEBOOK is set.

    Shows nothing (returns None), so the instructor's stored outputs stay the reference.
    A relative path is taken from where the grader ran pytest ($PWD), not the kernel's
    folder (the notebook's).
    """
    path = os.environ.get(ENV)
    if not path:
        return None
    if not os.path.isabs(path) and os.environ.get("PWD"):
        path = os.path.join(os.environ["PWD"], path)
    for i, src in enumerate(answer_cells(path)):
        exec(compile(src, f"{path} [answer cell {i + 1}]", "exec"), namespace)
    return None
