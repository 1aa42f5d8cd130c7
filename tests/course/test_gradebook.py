"""The grade command on a small generated class: fresh kernels, re-run checks, a timeout, a gradebook."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from eda_sim.course.__main__ import main
from eda_sim.course.gradebook import COLUMNS, grade
from tests.course.classroom import FAKE_01, PARTLY_01, RIGHT_01, without_live_cells

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "notebooks" / "01_events.ipynb"
STARTER_03 = ROOT / "notebooks" / "03_partitions_and_ordering.ipynb"
#: Seconds a cell may take: the hang costs two of them on one worker while the other grades
#: the rest; shorter ones time real cells out on a loaded 2-core machine.
TIMEOUT = 12


def _submit(folder: Path, student: str, source: str | None, starter: Path = STARTER) -> None:
    nb = without_live_cells(nbformat.read(starter, as_version=4))
    if source is not None:
        cell = next(c for c in nb.cells if "exercise" in c.metadata.get("tags", []))
        cell.source = source
    target = folder / student / starter.name
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submitted")
    _submit(folder, "ada", RIGHT_01)
    _submit(folder, "bo", PARTLY_01)
    _submit(folder, "cy", FAKE_01)
    _submit(folder, "di", None)
    # a student whose notebook hangs: the cell times out, twice, and the exercise scores 0
    _submit(folder, "ed", "import time\ntime.sleep(600)")
    # notebook 03's starters (some checks pass a few of their items by themselves)
    _submit(folder, "fay", None, STARTER_03)
    # a student whose answer raises: the grade cell reports it, the exercise scores 0
    _submit(folder, "gus", "answer = {}\nraise KeyError('my own bug')")
    return folder


@pytest.fixture(scope="module")
def book(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("book") / "gradebook.csv"
    return grade(folder, out, timeout=TIMEOUT, jobs=2), out


def test_the_fast_path_grades_exactly_as_a_plain_run(folder, book):
    """Grading mode and spare kernels change no grade, for a hang and a raise too."""
    plain = grade(folder, timeout=TIMEOUT, jobs=2, fast=False)
    fast = book[0]
    assert list(plain["feedback"]) == list(fast["feedback"])  # says why, where they differ
    pd.testing.assert_frame_equal(plain, fast)


def test_gradebook_scores_each_student_by_re_running_the_check(book):
    frame, _out = book
    assert list(frame.columns) == COLUMNS
    frame = frame[frame["notebook"] == "01_events.ipynb"]
    scores = dict(zip(frame["student"], frame["score"]))
    assert scores == {"ada": 8.0, "bo": 5.0, "cy": 0.0, "di": 0.0, "ed": 0.0, "gus": 0.0}
    assert set(frame["max_score"].dropna()) == {8.0}
    assert frame["exercise"].nunique() == 1  # the same exercise id for every student
    feedback = dict(zip(frame["student"], frame["feedback"]))
    assert "all checks pass" in feedback["ada"] and "all checks pass" not in feedback["cy"]
    assert "CellTimeoutError on attempt 2" in feedback["ed"]
    assert "not answered yet (0 of 8 points)" in feedback["gus"]  # its {} before the raise


def test_an_untouched_starter_scores_0_and_says_so(book):
    frame, _out = book
    fay = frame[frame["student"] == "fay"]
    assert len(fay) == 2 and list(fay["score"]) == [0.0, 0.0]
    assert all(f.startswith("the starting answer, untouched") for f in fay["feedback"])


def test_gradebook_csv_has_the_same_rows(book):
    frame, out = book
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == list(frame["student"])
    assert [float(r["score"]) for r in rows] == list(frame["score"])


def test_grade_command_says_what_it_expected_for_an_empty_folder(tmp_path, capsys):
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "g.csv")]) == 2
    assert "no NN_*.ipynb notebooks under" in capsys.readouterr().err
