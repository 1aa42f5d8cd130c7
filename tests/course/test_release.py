"""The student release: no solutions, sources, tests or readable keys, and its notebooks run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from eda_sim.course.nb00.check import ROLES
from eda_sim.course.nb01.check import MESSAGES
from eda_sim.course.nb16.check import QUESTIONS as TERMS
from eda_sim.course.nb99.check import QUESTIONS as QUIZ
from eda_sim.course.release import KEYED, exercises, release, select
from tests.course.classroom import RIGHT_01

CHOSEN = "00-01,16,99"


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    return release(CHOSEN, tmp_path_factory.mktemp("dist"))


def _texts(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text(encoding="utf-8", errors="replace")
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_selection_reads_ranges_and_lists_and_names_the_choices_when_wrong():
    assert select("00-05") == ["00", "01", "02", "03", "04", "05"]
    assert select("03,00-01,99") == ["03", "00", "01", "99"]
    assert len(select("00-16")) == 17 and select("all")[-1] == "99"
    with pytest.raises(ValueError, match="notebooks: 00, 01"):
        select("5a")
    with pytest.raises(ValueError, match="no notebook in '50-60'"):
        select("50-60")


def test_student_bundle_has_no_solution_source_test_or_readable_key(bundles):
    student = bundles["student"]
    texts = _texts(student)
    names = set(texts)
    assert sorted(p.name for p in (student / "notebooks").iterdir()) == [
        "00_start_here.ipynb",
        "01_events.ipynb",
        "16_to_a_real_broker.ipynb",
        "99_recap.ipynb",
    ]
    # no solutions, notebook sources or tests
    assert not [n for n in names if "solutions" in n or "/src/" in n or n.startswith("tests")]
    assert not [n for n, t in texts.items() if n.startswith("notebooks/") and "solutions/" in t]
    assert not [n for n, t in texts.items() if "BEGIN SOLUTION" in t or "\n# %%" in t]
    assert not [n for n in names if Path(n).name.startswith(("test_", "conftest"))]
    # (eda_sim/testing is the package's skip-or-fail helper, not a test)
    assert not [
        n
        for n, t in texts.items()
        if ("import pytest" in t or "from hypothesis" in t) and not n.startswith("eda_sim/testing")
    ]
    for nn in select(CHOSEN):
        for ex in exercises(nn):
            starter = set(ex["starter"].splitlines())
            giveaway = [
                ln.strip()
                for ln in ex["solution"].splitlines()
                if ln not in starter and len(ln.strip()) > 12 and "SOLUTION" not in ln
            ]
            for line in giveaway:
                leaks = [n for n, t in texts.items() if line in t]
                assert not leaks, f"notebook {nn}'s solution line {line!r} is in {leaks}"
    # keys: the quiz's answers and why-nots, and the accepted broker terms, are not readable
    everything = "\n".join(texts.values())
    for q in QUIZ:
        for why in q["why"].values():
            assert why[:40] not in everything
    quiz_source = texts["eda_sim/course/nb99/check.py"]
    assert '"answer":' not in quiz_source and "'answer':" not in quiz_source
    terms_source = texts["eda_sim/course/nb16/check.py"]
    for ideas in TERMS.values():
        for accepted, _fact in ideas.values():
            hidden = [a for a in accepted if a not in ideas]  # an idea's own name is the question
            assert not [a for a in hidden if f'"{a}"' in terms_source or f"'{a}'" in terms_source]
    for nn, key in (("00", ROLES), ("01", MESSAGES)):
        source = texts[f"eda_sim/course/nb{nn}/check.py"]
        for name, (truth, _why) in key.items():
            assert not re.search(rf'"{name}":\s*\(\s*"{truth}"', source)
        assert nn in KEYED
    # the zip holds the same files
    with zipfile.ZipFile(bundles["student_zip"]) as z:
        assert sorted(n.split("/", 1)[1] for n in z.namelist()) == sorted(names)


def test_sealed_checks_still_tell_right_from_wrong(bundles):
    """The student package's quiz and term checks, run from the bundle, grade as the repository's do."""
    program = (
        "from eda_sim.course.nb99.check import check_quiz\n"
        "from eda_sim.course.nb16.check import check_broker_terms\n"
        "import eda_sim, json\n"
        "right = json.loads(input())\n"
        "quiz = check_quiz({int(k): v for k, v in right.items()})\n"
        "wrong = check_quiz({1: 'a'})\n"
        "terms = check_broker_terms({'Kinesis': {'partition': 'the shard', 'offset': 'offset'}})\n"
        "print(eda_sim.__file__, quiz.passed, len(wrong.right), len(terms.right), len(terms.missing))\n"
        "print(wrong.missing[0])\n"
    )
    answers = {str(n): q["answer"] for n, q in enumerate(QUIZ, 1)}
    import json

    env = {**os.environ, "PYTHONPATH": str(bundles["student"])}
    done = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(answers),
        capture_output=True,
        text=True,
        env=env,
        cwd=bundles["student"],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    where, passed, wrong_right, terms_right, terms_missing = first.split()
    assert where.startswith(str(bundles["student"]))
    # one item per idea: Kinesis offset wrong, and the four ideas of the three brokers left out
    assert (passed, wrong_right, terms_right, terms_missing) == ("True", "0", "1", "5")
    assert second == f"1. not (a): {QUIZ[0]['why']['a']} (notebook {QUIZ[0]['notebook']})"


def test_a_student_notebook_runs_from_the_bundle_and_its_check_passes_the_right_answer(bundles):
    student = bundles["student"]
    nb = nbformat.read(student / "notebooks" / "01_events.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "exercise" in c.metadata.get("tags", []))
    cell.source = RIGHT_01
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(student)  # the kernel imports the bundle's sealed package
    try:
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(student)}}
        ).execute()
    finally:
        if env_path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = env_path
    shown = "".join(o.get("text", "") + str(o.get("data", {})) for o in cell.outputs)
    assert "all checks pass" in shown


def test_the_release_command_writes_both_bundles_and_refuses_a_bad_selection(tmp_path):
    run = [sys.executable, "-m", "eda_sim.course", "release", "--out", str(tmp_path)]
    done = subprocess.run([*run, "--notebooks", "01"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == [
        "student",
        "student_zip",
        "instructor",
        "instructor_zip",
    ]
    assert (tmp_path / "instructor" / "nbgrader" / "source" / "nb01" / "01_events.ipynb").is_file()
    assert (tmp_path / "instructor" / "solutions" / "01_events.ipynb").is_file()
    bad = subprocess.run([*run, "--notebooks", "1-x"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "is not NN, NN-MM or all" in bad.stderr
