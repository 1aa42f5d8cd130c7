"""nbgrader for real: generate_assignment and autograde on a perfect, an empty, a partly right and a faking submission."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from eda_sim.course.release import instructor
from eda_sim.testing import need
from tests.course.classroom import FAKE_01, PARTLY_01, RIGHT_01, without_live_cells

try:
    import nbgrader  # noqa: F401
except ImportError:  # pragma: no cover - the test tools are missing
    nbgrader = None


def _nbgrader(course: Path, *args: str) -> None:
    bindir = str(Path(sys.executable).parent)  # nbgrader runs alembic from the environment's bin
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if nbgrader is None:
        need("nbgrader", "pip install -r requirements-test.txt")
    course = instructor(["01"], tmp_path_factory.mktemp("dist")) / "nbgrader"
    _nbgrader(course, "generate_assignment", "nb01", "--force")
    released = course / "release" / "nb01" / "01_events.ipynb"
    answers = {"perfect": RIGHT_01, "empty": None, "partly": PARTLY_01, "faker": FAKE_01}
    for student, source in answers.items():
        nb = without_live_cells(nbformat.read(released, as_version=4))
        if source is not None:
            cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
            cell.source = source
        target = course / "submitted" / student / "nb01" / "01_events.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    _nbgrader(course, "autograde", "nb01", "--create")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission("nb01", s).score for s in answers}
    return course, released, scores


def test_release_gives_the_starter_and_hides_the_grading_code(graded):
    _course, released, _scores = graded
    nb = nbformat.read(released, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    grade = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    assert '"UserViewedProduct": "?"' in answer.source and "BEGIN SOLUTION" not in answer.source
    assert '"command"' not in answer.source
    assert grade.metadata["nbgrader"]["locked"] and grade.metadata["nbgrader"]["points"] == 10
    assert "regrade" not in grade.source  # a keyed exercise's grading runs as a hidden test


def test_autograde_scores_the_four_submissions(graded):
    _course, _released, scores = graded
    assert scores == {"perfect": 10.0, "empty": 0.0, "partly": 6.25, "faker": 0.0}


def test_the_grade_cell_shows_the_feedback_it_scored(graded):
    course, _released, _scores = graded
    nb = nbformat.read(course / "autograded" / "faker" / "nb01" / "01_events.ipynb", as_version=4)
    grade = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    text = "".join(o.get("text", "") for o in grade.outputs)
    assert "regrade" in grade.source and "not answered yet" in text  # the untouched starter
    empty = nbformat.read(
        course / "autograded" / "empty" / "nb01" / "01_events.ipynb", as_version=4
    )
    grade = next(c for c in empty.cells if c.metadata.get("nbgrader", {}).get("grade"))
    # the grading cell saw the answer cell above it (In[-2]) and knew the starter
    assert "".join(o.get("text", "") for o in grade.outputs).startswith(
        "the starting answer, untouched"
    )
    assert [
        o["data"]["text/plain"] for o in grade.outputs if o.output_type == "execute_result"
    ] == ["0.0"]
