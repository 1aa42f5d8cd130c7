"""Grade a class: run each submitted notebook in a fresh kernel, re-run its checks, write a gradebook.

``python -m eda_sim.course grade SUBMISSIONS --out gradebook.csv`` reads
``SUBMISSIONS/<student>/**/NN_*.ipynb`` (the layout of nbgrader's
``submitted/`` folder works too). Under each exercise cell (tagged
``exercise``; at the end when a student removed the tag) it inserts a cell
that re-imports the check and runs it on the student's answer, so a printed
"all checks pass" counts for nothing; an exercise cell left as the starter
scores 0 whatever its check says. Each notebook runs in its own kernel
with a per-cell timeout, and once more if the kernel dies or times out.

The gradebook has one row per student and exercise: student, notebook,
exercise, score, max_score, feedback.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pandas as pd

from eda_sim.course import kernels
from eda_sim.views.offstage import ENV

_MARK = "@@eda_sim-grade@@"
COLUMNS = ["student", "notebook", "exercise", "score", "max_score", "feedback"]


def _grade_cell(module: str, check: str, args: list[str]) -> str:
    call = ", ".join([repr(module), repr(check), *args])
    return "\n".join(
        [
            "import json as _json",
            "from eda_sim.course.grading import run_check as _run, score_of as _score",
            f"_fb, _text = _run({call})",
            "_s, _m = _score(_fb)",
            "_id = getattr(_fb, 'exercise', None)  # a check's stable exercise id, where it has one",
            f"print({_MARK!r} + _json.dumps({{'score': _s, 'max_score': _m, 'feedback': _text,"
            " 'id': _id if isinstance(_id, str) else None}))",
        ]
    )


def _exercise_calls(nb) -> list[tuple[int | None, str, list[str]]]:
    """(cell index or None, check name, argument sources) for each exercise cell of a submission."""
    import ast

    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "exercise" not in cell.metadata.get("tags", []):
            continue
        try:
            last = ast.parse(cell.source).body[-1]
            call = last.value
            found.append((i, call.func.id, [ast.unparse(a) for a in call.args]))
        except (SyntaxError, IndexError, AttributeError):
            found.append((i, None, []))
    return found


def _same(a: str, b: str) -> bool:
    """The same code, ignoring trailing spaces and blank lines."""

    def norm(text: str) -> list[str]:
        return [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]

    return norm(a) == norm(b)


def _expected(number: str) -> list[dict]:
    """The exercises of notebook ``number`` from the repository's sources (the grading truth)."""
    from eda_sim.course.release import exercises

    return exercises(number)


def _run(path: Path, timeout: int, retries: int = 1, fast: bool = True) -> list[dict]:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    number = path.name[:2]
    expected = _expected(number)
    nb = nbformat.read(path, as_version=4)
    present = _exercise_calls(nb)
    # Insert from the last exercise up, so earlier indexes stay right.
    slots, untouched = [], set()
    for k, ex in enumerate(expected):
        at = present[k][0] + 1 if k < len(present) else len(nb.cells)
        slots.append((at, ex))
        if k < len(present) and _same(nb.cells[present[k][0]].source, ex["starter"]):
            untouched.add(ex["check"])
    for at, ex in sorted(slots, key=lambda s: -s[0]):
        cell = nbformat.v4.new_code_cell(_grade_cell(ex["module"], ex["check"], ex["args"]))
        cell.metadata["eda_sim_grade"] = ex["check"]
        nb.cells.insert(at, cell)
    problem = ""
    for attempt in range(retries + 1):
        spare = kernels.take(path.parent) if fast else None
        client = NotebookClient(
            nb,
            km=spare.km if spare else None,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            record_timing=False,
            resources={"metadata": {"path": str(path.parent)}},
        )
        try:
            # grading mode in a plain kernel too, where none could be forked (Windows)
            client.execute(**({"env": {**os.environ, ENV: "1"}} if fast and not spare else {}))
            problem = ""
            break
        except (CellTimeoutError, DeadKernelError, RuntimeError) as err:
            problem = (
                f"{type(err).__name__} on attempt {attempt + 1}: {str(err).splitlines()[0][:200]}"
            )
            for c in nb.cells:
                if c.cell_type == "code":
                    c.outputs = []
        finally:
            if spare is not None:  # used by this one run, then killed: never reused
                if client.kc is not None:
                    client.kc.stop_channels()
                spare.stop()
    rows = []
    for ex in expected:
        cell = next(c for c in nb.cells if c.metadata.get("eda_sim_grade") == ex["check"])
        result = None
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and _MARK in out.get("text", ""):
                line = next(ln for ln in out["text"].splitlines() if ln.startswith(_MARK))
                result = json.loads(line[len(_MARK) :])
            elif out.get("output_type") == "error" and result is None:
                result = {
                    "score": 0.0,
                    "max_score": None,
                    "feedback": f"the answer could not be checked: {out['ename']}: {out['evalue']}",
                }
        if result is None:
            result = {
                "score": 0.0,
                "max_score": None,
                "feedback": problem or "the check did not run",
            }
        if ex["check"] in untouched:
            # A starter can pass an item by itself (a default that happens to be right); a
            # student earns nothing for a cell they did not change. (The checks say so too.)
            result["feedback"] = f"the starting answer, untouched: 0 points\n{result['feedback']}"
            result["score"] = 0.0
        exercise = result.pop("id", None) or _exercise_id(number, ex["check"])
        rows.append({"notebook": path.name, "exercise": exercise, **result})
    return rows


def _exercise_id(number: str, check: str) -> str:
    """The check's stable exercise id (``check.exercise``), even when the student's cell did not run."""
    try:
        fn = getattr(importlib.import_module(f"eda_sim.course.nb{number}.check"), check)
    except (ImportError, AttributeError):
        fn = None
    exercise = getattr(fn, "exercise", None)
    return exercise if isinstance(exercise, str) else f"nb{number}.{check}"


def _job(args):
    student, path, timeout, fast = args
    return [{"student": student, **row} for row in _run(path, timeout, fast=fast)]


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student, notebook) for every ``NN_*.ipynb`` under ``folder/<student>/``."""
    found = []
    for p in sorted(folder.rglob("[0-9][0-9]_*.ipynb")):
        if ".ipynb_checkpoints" in p.parts:
            continue
        rel = p.relative_to(folder)
        found.append((rel.parts[0] if len(rel.parts) > 1 else p.stem, p))
    return found


def _progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} notebooks, {time.perf_counter() - started:.0f} s"
    )
    sys.stderr.flush()


def grade(
    folder: Path, out: Path | None = None, timeout: int = 600, jobs: int = 2, fast: bool = True
) -> pd.DataFrame:
    """Grade every submission under ``folder``; write ``out`` (CSV) if given; return the gradebook.

    ``fast`` (the default) runs each notebook in grading mode, in a kernel forked from one
    with the heavy imports done (:mod:`eda_sim.course.kernels`); ``fast=False`` runs it as
    a learner's kernel would (a cold kernel, every picture rendered, live controls live).
    The grades are the same either way: only pictures and live controls are skipped.
    """
    work = [(student, path, timeout, fast) for student, path in submissions(Path(folder))]
    if not work:
        raise FileNotFoundError(f"no NN_*.ipynb notebooks under {folder}/<student>/")
    rows, started = [], time.perf_counter()
    _progress(0, len(work), started)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for n, result in enumerate(pool.map(_job, work), 1):
            rows += result
            _progress(n, len(work), started)
    sys.stderr.write("\n")
    book = pd.DataFrame(rows, columns=COLUMNS).sort_values(["student", "exercise"], kind="stable")
    book = book.reset_index(drop=True)
    if out is not None:
        book.to_csv(out, index=False)
    return book
