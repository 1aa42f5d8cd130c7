"""A student release and an instructor release of chosen notebooks, from the repository's one set of sources.

``python -m eda_sim.course release --notebooks 00-05 --out dist/`` writes:

* ``dist/student/`` and ``dist/student.zip``: the chosen exercise notebooks
  (starters, no solutions), the ``eda_sim`` package with its answer keys sealed
  (:mod:`eda_sim.course.sealed`), a learner's ``requirements.txt`` and a short
  README. No solutions, notebook sources, tests or readable keys.
* ``dist/instructor/`` and ``dist/instructor.zip``: the worked solutions, and
  an nbgrader course directory (``nbgrader/``: ``source/nbNN/`` per notebook,
  one solution cell and one locked, autograded cell per exercise, and a
  ``nbgrader_config.py``), with the teaching guide.

Selections: ``00-05``, ``00-16``, ``00,03,99``, ``00-05,99`` or ``all``.
The release reads the repository (``notebooks/``, ``notebooks/src/``), so it
runs from a checkout, not from an installed student bundle.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import shutil
import zipfile
from pathlib import Path

import nbformat

from eda_sim.course.grading import fingerprint
from eda_sim.course.sealed import Sealed, SealedSet, SealedTexts, dumps

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SRC = NOTEBOOKS / "src"

#: Points an exercise is worth in nbgrader (its check's score is scaled to it).
POINTS = 10


def available() -> list[str]:
    """The notebook numbers the repository has sources for, in order."""
    if not SRC.is_dir():
        raise FileNotFoundError(
            f"no notebook sources at {SRC}: the release command runs from a repository checkout"
        )
    return sorted(p.name[:2] for p in SRC.glob("[0-9][0-9]_*.py"))


def select(spec: str) -> list[str]:
    """Notebook numbers from ``"00-05"``, ``"00,03,99"``, ``"00-05,99"`` or ``"all"``."""
    have = available()
    if spec.strip().lower() == "all":
        return have
    chosen = []
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{1,2})(?:-(\d{1,2}))?", part)
        if not m:
            raise ValueError(
                f"notebook selection {part!r} is not NN, NN-MM or all; notebooks: {', '.join(have)}"
            )
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        picked = [n for n in have if lo <= int(n) <= hi]
        if not picked:
            raise ValueError(f"no notebook in {part!r}; notebooks: {', '.join(have)}")
        chosen += [n for n in picked if n not in chosen]
    return chosen


def _source(nn: str) -> Path:
    return next(SRC.glob(f"{nn}_*.py"))


def _parse(path: Path) -> list[dict]:
    spec = importlib.util.spec_from_file_location(
        "_build_notebooks", ROOT / "tools" / "build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- exercises


def exercises(nn: str) -> list[dict]:
    """Each exercise of notebook ``nn``: its starter, solution, check and the answer it passes."""
    cells, found = _parse(_source(nn)), []
    for i, cell in enumerate(cells):
        if "exercise" not in cell["tags"]:
            continue
        solution = next((s for s in cells[i + 1 :] if "solution" in s["tags"]), None)
        last = ast.parse(cell["source"]).body[-1]
        call = last.value if isinstance(last, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            raise ValueError(f"notebook {nn}: an exercise cell must end by calling its check")
        found.append(
            {
                "index": i,
                "starter": cell["source"],
                "solution": solution["source"] if solution else None,
                "module": f"eda_sim.course.nb{nn}.check",
                "check": call.func.id,
                "args": [ast.unparse(a) for a in call.args],
            }
        )
    return found


def grade_cell_source(ex: dict, hidden: bool) -> str:
    """The locked cell that re-runs an exercise's check and shows the points earned."""
    args = "".join(f"{a}, " for a in ex["args"])
    call = (
        f'regrade("{ex["module"]}", "{ex["check"]}", {args}points={POINTS},\n'
        f'    answered=In[-2], starter="{fingerprint(ex["starter"])}")'
    )
    lines = [
        "# Graded: re-runs the check on your answer (what a cell printed does not count);",
        "# the answer cell (the one above, In[-2]) left as its starter scores 0.",
        "from eda_sim.course.grading import regrade",
        "",
        f"_feedback, _points = {call}",
        "print(_feedback)",
        "_points  # nbgrader reads this number as the partial credit",
    ]
    if hidden:  # nbgrader shows the student an empty locked cell and runs this when grading
        lines = ["### BEGIN HIDDEN TESTS", *lines, "### END HIDDEN TESTS"]
    return "\n".join(lines)


def nbgrader_source(nn: str):
    """Notebook ``nn`` as an nbgrader source notebook: solution cells and locked, autograded cells."""
    cells = _parse(_source(nn))
    by_index = {ex["index"]: ex for ex in exercises(nn)}
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    out = []

    def add(cell):
        cell.id = f"cell-{len(out):03d}"
        out.append(cell)

    for i, c in enumerate(cells):
        if "solution" in c["tags"]:
            continue
        make = (
            nbformat.v4.new_markdown_cell if c["kind"] == "markdown" else nbformat.v4.new_code_cell
        )
        ex = by_index.get(i)
        if ex is None:
            add(make(c["source"]))
            continue
        gid = f"nb{nn}-{ex['check']}"
        answer = nbformat.v4.new_code_cell(ex["solution"] or ex["starter"])
        answer.metadata["nbgrader"] = {
            "grade": False,
            "solution": True,
            "locked": False,
            "grade_id": f"{gid}-answer",
            "schema_version": 3,
        }
        answer.metadata["eda_sim"] = {"starter": ex["starter"]}
        add(answer)
        grade = nbformat.v4.new_code_cell(grade_cell_source(ex, hidden=nn in KEYED))
        grade.metadata["nbgrader"] = {
            "grade": True,
            "solution": False,
            "locked": True,
            "points": POINTS,
            "grade_id": gid,
            "schema_version": 3,
        }
        add(grade)
    nb.cells = out
    return nb


NBGRADER_CONFIG = '''\
"""nbgrader configuration for the eda_sim course (written by `python -m eda_sim.course release`)."""

from eda_sim.course.nbgrader_ext import generate_preprocessors

c = get_config()  # noqa: F821 - nbgrader provides it
c.CourseDirectory.course_id = "eda_sim"
# Each student cell starts from the course's own starter, not nbgrader's stub.
c.GenerateAssignment.preprocessors = generate_preprocessors()
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
# A simulation cell takes seconds; a stuck kernel must not stall a whole class.
c.Execute.timeout = 600
'''


# ----------------------------------------------------------------------------- answer keys


def _seal_labels(value: dict, salt: str, place: str) -> dict:
    return {
        name: (Sealed.of(truth, salt, f"{place}/{name}"), why)
        for name, (truth, why) in value.items()
    }


def _seal_terms(value: dict, salt: str, place: str) -> dict:
    return {
        broker: {
            idea: (SealedSet.of(accepted, salt, f"{place}/{broker}/{idea}"), fact)
            for idea, (accepted, fact) in ideas.items()
        }
        for broker, ideas in value.items()
    }


def _seal_quiz(value: list, salt: str, place: str) -> list:
    sealed = []
    for n, q in enumerate(value, 1):
        q = dict(q)
        q["answer"] = Sealed.of(q["answer"], salt, f"{place}/{n}")
        q["why"] = SealedTexts.of(q["why"], q["options"], salt, f"{place}/{n}/why")
        sealed.append(q)
    return sealed


#: Notebooks whose check compares with a key: the module-level name holding it, and how to seal it.
KEYED = {
    "00": ("ROLES", _seal_labels),
    "01": ("MESSAGES", _seal_labels),
    "16": ("QUESTIONS", _seal_terms),
    "99": ("QUESTIONS", _seal_quiz),
}


def sealed_module_source(nn: str, salt: str) -> str:
    """The source of ``eda_sim/course/nbNN/check.py`` with its key sealed and its docstring cut to one line.

    The docstring goes because examples in it may show answers.
    """
    name, seal = KEYED[nn]
    path = ROOT / "eda_sim" / "course" / f"nb{nn}" / "check.py"
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines()
    node = next(
        (
            n
            for n in tree.body
            if isinstance(n, (ast.Assign, ast.AnnAssign))
            and any(
                isinstance(t, ast.Name) and t.id == name
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            )
        ),
        None,
    )
    if node is None:
        raise ValueError(f"{path} has no top-level {name}: update KEYED in {__file__}")
    value = getattr(importlib.import_module(f"eda_sim.course.nb{nn}.check"), name)
    blob = dumps(seal(value, salt, f"nb{nn}"))
    replacement = [
        "# The answer key, sealed for the student release (eda_sim.course.sealed).",
        f"{name} = __import__('eda_sim.course.sealed', fromlist=['loads']).loads({blob!r})",
    ]
    lines[node.lineno - 1 : node.end_lineno] = replacement
    doc = tree.body[0]
    if (
        isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
        and doc.lineno < node.lineno
    ):
        first = doc.value.value.strip().splitlines()[0]
        lines[doc.lineno - 1 : doc.end_lineno] = [f'"""{first}"""']
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- bundles


def _learner_requirements() -> str:
    keep = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() == "-e .":
            line = ".  # the course package, from this folder"
        keep.append(line)
    return "\n".join(keep) + "\n"


STUDENT_README = """\
# Event-driven architecture for AI systems: notebooks {numbers}

Set up once and open the course in JupyterLab (Python 3.11+), from this folder:

```bash
python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/jupyter lab notebooks/{first}
```

On Windows (PowerShell):

```powershell
py -m venv .venv; .venv\\Scripts\\pip install -r requirements.txt; .venv\\Scripts\\jupyter lab notebooks\\{first}
```

Each notebook ends with an exercise: fill in the cell and run it; the check under it says what is right,
what is missing, and gives a hint. Your instructor grades by re-running the checks on your notebook.
"""


_SOLUTIONS_DIR = re.compile(r"`(?:notebooks/)?solutions/`")


def _zip(folder: Path) -> Path:
    target = folder.with_suffix(".zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                info = zipfile.ZipInfo(
                    str(Path(folder.name) / p.relative_to(folder)), (2026, 1, 1, 0, 0, 0)
                )
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, p.read_bytes())
    return target


def _ipynb(folder: Path, nn: str) -> Path:
    return next(folder.glob(f"{nn}_*.ipynb"))


def student(numbers: list[str], out: Path, salt: str) -> Path:
    """Write the student folder for ``numbers`` under ``out``; return it."""
    folder = out / "student"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "notebooks").mkdir(parents=True)
    for nn in numbers:
        nb = nbformat.read(_ipynb(NOTEBOOKS, nn), as_version=4)
        for cell in nb.cells:  # the text points to solutions this bundle does not have
            if cell.cell_type == "markdown":
                cell.source = _SOLUTIONS_DIR.sub("your instructor's copy", cell.source)
        nbformat.write(nb, folder / "notebooks" / _ipynb(NOTEBOOKS, nn).name)
    shutil.copytree(
        ROOT / "eda_sim",
        folder / "eda_sim",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "release.py", "nbgrader_ext.py"),
    )
    for nn in KEYED:
        (folder / "eda_sim" / "course" / f"nb{nn}" / "check.py").write_text(
            sealed_module_source(nn, salt), encoding="utf-8"
        )
    shutil.copy2(ROOT / "pyproject.toml", folder)
    (folder / "requirements.txt").write_text(_learner_requirements(), encoding="utf-8")
    first = _ipynb(NOTEBOOKS, numbers[0]).name
    (folder / "README.md").write_text(
        STUDENT_README.format(numbers=", ".join(numbers), first=first), encoding="utf-8"
    )
    return folder


def instructor(numbers: list[str], out: Path) -> Path:
    """Write the instructor folder: solutions, the nbgrader course directory, the teaching guide."""
    folder = out / "instructor"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "solutions").mkdir(parents=True)
    course = folder / "nbgrader"
    for nn in numbers:
        solved = list((NOTEBOOKS / "solutions").glob(f"{nn}_*.ipynb"))
        for p in solved:
            shutil.copy2(p, folder / "solutions")
        if exercises(nn):
            target = course / "source" / f"nb{nn}" / _ipynb(NOTEBOOKS, nn).name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nbgrader_source(nn), target)
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    shutil.copy2(NOTEBOOKS / "README.md", folder / "TEACHING.md")
    return folder


def release(spec: str, out: Path, salt: str = "eda_sim") -> dict:
    """Write both bundles and their zips; return their paths."""
    numbers = select(spec)
    out.mkdir(parents=True, exist_ok=True)
    s, i = student(numbers, out, salt), instructor(numbers, out)
    return {"student": s, "student_zip": _zip(s), "instructor": i, "instructor_zip": _zip(i)}
