"""The course's notebooks keep their shape: short cells, a control, an exercise, a solution that passes.

nbval (run by the same ``pytest``) re-executes every notebook and compares
outputs; these tests check what nbval does not: the structure a learner and an
instructor rely on.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(p for p in ROOT.glob("[0-9][0-9]_*.ipynb"))
MAX_LINES = 15


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def code(path):
    return [c for c in cells(path) if c["cell_type"] == "code"]


def text(cell):
    return "".join(cell["source"])


def outputs(cell):
    out = []
    for o in cell.get("outputs", []):
        out.append("".join(o.get("text", "")) or "".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_title_goals_and_time(path):
    first = text(cells(path)[0])
    assert (
        first.startswith("# ") and "After this notebook you can" in first and "**Time:**" in first
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    long = [text(c).count("\n") + 1 for c in code(path) if text(c).count("\n") + 1 > MAX_LINES]
    assert not long, f"cells of {long} lines; keep them to {MAX_LINES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_has_a_live_control_paired_with_a_checked_cell(path):
    live = [i for i, c in enumerate(code(path)) if re.search(r"\b(controls|explore)\(", text(c))]
    assert live, "no live control (controls(...) or explore(...))"
    for i in live:
        tags = code(path)[i].get("metadata", {}).get("tags", [])
        assert "nbval-ignore-output" in tags, (
            "a live control cell must be tagged nbval-ignore-output"
        )
        assert i + 1 < len(code(path)), "a live control needs a plain cell after it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_has_an_exercise_with_a_check_and_a_passing_solution(path):
    exercises = [c for c in code(path) if "exercise" in c.get("metadata", {}).get("tags", [])]
    assert exercises and all(re.search(r"\bcheck_\w+\(", text(c)) for c in exercises)
    solution = ROOT / "solutions" / path.name
    assert solution.exists(), f"no worked solution at {solution.relative_to(ROOT.parent)}"
    solved = [c for c in code(solution) if "BEGIN SOLUTION" in text(c)]
    assert solved and all("all checks pass" in outputs(c) for c in solved)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ignored_outputs_are_only_live_controls_or_say_why(path):
    for c in code(path):
        tags = c.get("metadata", {}).get("tags", [])
        if "nbval-ignore-output" in tags or "nbval-skip" in tags:
            assert re.search(r"\b(controls|explore)\(", text(c)) or "# reason:" in text(c), text(c)[
                :80
            ]


@pytest.mark.parametrize(
    "path", NOTEBOOKS + sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem
)
def test_saved_notebooks_carry_no_wall_clock_or_random_ids(path):
    raw = path.read_text(encoding="utf-8")
    assert "iopub.execute_input" not in raw, (
        "cell timings from the wall clock: rebuild with tools/build_notebooks.py"
    )
    assert not re.search(r"IPY_MODEL_[0-9a-f]{32}|\"model_id\": \"[0-9a-f]{32}\"", raw), (
        "random widget ids: rebuild with tools/build_notebooks.py"
    )


def _built_from_source(src):
    """What tools/build_notebooks.py makes of a source: (notebook cells, solution cells or None)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT.parent / "tools" / "build_notebooks.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    parsed = build.parse(src.read_text(encoding="utf-8"))
    has_solution = any("solution" in c["tags"] for c in parsed)
    return build.notebook(parsed, False), build.notebook(parsed, True) if has_solution else None


def _shape(cells):
    return [
        (c["cell_type"], "".join(c["source"]), sorted(c.get("metadata", {}).get("tags", [])))
        for c in cells
    ]


SOURCES = sorted((ROOT / "src").glob("[0-9][0-9]_*.py"))


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_saved_notebook_matches_its_source(src):
    """Kernel-free: the saved notebook (and its solution) has exactly the cells its source builds.

    A source edited without rebuilding fails here; rebuild with tools/build_notebooks.py NN.
    """
    notebook, solution = _built_from_source(src)
    saved = json.loads((ROOT / f"{src.stem}.ipynb").read_text(encoding="utf-8"))
    assert _shape(saved["cells"]) == _shape(notebook.cells), "rebuild: tools/build_notebooks.py"
    solution_path = ROOT / "solutions" / f"{src.stem}.ipynb"
    assert solution_path.exists() == (solution is not None)
    if solution is not None:
        saved = json.loads(solution_path.read_text(encoding="utf-8"))
        assert _shape(saved["cells"]) == _shape(solution.cells), "rebuild: tools/build_notebooks.py"


PAGES = ["API_CARD.md", "GLOSSARY.md"]


def test_every_link_to_a_notebook_points_at_one_that_exists():
    """After a renumbering, a stale link is the first thing a learner trips on."""
    texts = {
        "README.md": (ROOT.parent / "README.md").read_text(encoding="utf-8"),
        "notebooks/README.md": (ROOT / "README.md").read_text(encoding="utf-8"),
    }
    texts.update({f"notebooks/{page}": (ROOT / page).read_text(encoding="utf-8") for page in PAGES})
    texts.update({f"notebooks/src/{p.name}": p.read_text(encoding="utf-8") for p in SOURCES})
    names = {p.name for p in NOTEBOOKS}
    broken = [
        f"{where}: {name}"
        for where, text in texts.items()
        for name in re.findall(r"\b(\d\d_[a-z0-9_]+\.ipynb)", text)
        if name not in names
    ]
    assert not broken, broken


def test_every_glossary_term_links_the_notebook_that_teaches_it():
    """One bullet per term, alphabetical, each ending with a link to its notebook."""
    bullets = re.findall(
        r"^- \*\*(.+?)\*\*: (.+)$", (ROOT / "GLOSSARY.md").read_text(encoding="utf-8"), re.M
    )
    terms = [term for term, _ in bullets]
    assert len(terms) >= 30
    assert terms == sorted(terms, key=str.lower), "keep the glossary alphabetical"
    unlinked = [
        t for t, text in bullets if not re.search(r"\(\[(\d\d)\]\(\1_[a-z0-9_]+\.ipynb\)\)$", text)
    ]
    assert not unlinked, unlinked


def test_the_api_card_and_glossary_are_linked_from_the_start():
    """README's notebook section and notebook 00's course map both point at the two pages."""
    for where in (ROOT.parent / "README.md", ROOT / "src" / "00_start_here.py"):
        text = where.read_text(encoding="utf-8")
        prefix = "notebooks/" if where.name == "README.md" else ""
        for page in PAGES:
            assert f"]({prefix}{page})" in text, f"{where.name} does not link {page}"


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_a_notebook_title_carries_its_own_number(src):
    first = _built_from_source(src)[0].cells[0].source
    assert first.startswith(f"# {src.name[:2]} ·"), first.splitlines()[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_unmodified_in_jupyterlab(path):
    """The saved kernelspec is what JupyterLab 4 writes, so opening a notebook does not mark it modified."""
    spec = json.loads(path.read_text(encoding="utf-8"))["metadata"]["kernelspec"]
    assert spec == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_live_cells_are_readable_without_a_kernel(path):
    """Each saved widget output carries its last frame for renderers without widgets (GitHub, nbviewer).

    Controls carry the picture (image/png); an explore cell the picture, table or text it showed. A
    widget's own repr (``VBox(children=...``) is not a page a learner can read.
    """
    for cell in code(path):
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if "application/vnd.jupyter.widget-view+json" not in data:
                continue
            source = text(cell)
            if re.search(r"^controls\(", source, re.M):
                assert "image/png" in data, f"{source[:60]!r}: no picture of the controls saved"
            plain = "".join(data.get("text/plain", ""))
            assert {"image/png", "text/html"} & set(data) or not plain.startswith(
                ("VBox(", "<Controls")
            ), f"{source[:60]!r}: only the widget's repr is saved"


# A float printed with its binary-rounding tail: a run of six or more 0s or 9s inside the decimals and
# a digit after it (0.08700000000000152, 0.30000000000000004, 1.9999999999999998). pandas' own 6-digit
# display ("2.000000") has no digit after the run and does not match.
FLOAT_NOISE = re.compile(r"\d\.\d*(?:0{6,}[1-9]|9{6,}\d)\d*")
OFFSET_COLUMNS = {"log_start", "log_end", "committed", "lag", "position", "last_stable"}


def _text_outputs(cell):
    for o in cell.get("outputs", []):
        if "text" in o:
            yield "".join(o["text"])
        for kind in ("text/plain", "text/html", "text/markdown"):
            if kind in o.get("data", {}):
                yield "".join(o["data"][kind])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_outputs_print_no_float_noise(path):
    """Times and ratios are rounded where they are made, so no output shows 0.08700000000000152."""
    noisy = [
        (i, m.group(0))
        for i, cell in enumerate(code(path))
        for out in _text_outputs(cell)
        for m in FLOAT_NOISE.finditer(out)
    ]
    assert not noisy, f"float noise in outputs (code cell, value): {noisy[:5]}"


def _repeated_partitions(plain):
    """The partition numbers a pandas offsets table repeats when it has no topic or group column."""
    lines = plain.splitlines()
    if not lines:
        return []
    header = lines[0]
    names = set(header.split())
    if "partition" not in names or not names & OFFSET_COLUMNS or names & {"topic", "group"}:
        return []
    # pandas right-aligns a column's values under the end of its name
    end = re.search(r"\bpartition\b", header).end()
    seen = []
    for line in lines[1:]:
        if not line.strip() or line.startswith("["):
            break
        value = line[:end].split()[-1:]
        if value and value[0].isdigit():
            seen.append(value[0])
    return sorted({p for p in seen if seen.count(p) > 1})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_offsets_tables_name_the_topic_of_a_repeated_partition(path):
    """An offsets table that lists partition 0 twice says which topic (or group) each row is."""
    bad = [
        (i, parts)
        for i, cell in enumerate(code(path))
        for o in cell.get("outputs", [])
        if (parts := _repeated_partitions("".join(o.get("data", {}).get("text/plain", ""))))
    ]
    assert not bad, (
        f"offsets tables without a topic column repeat partitions (code cell, partitions): {bad}"
    )
