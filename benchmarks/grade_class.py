"""How long ``python -m eda_sim.course grade`` takes for a class: plain runs against the fast grading path.

Makes ``--students`` submissions of each chosen notebook (alternately the
untouched starter and the worked solution, so both the 0-point and the
full-marks paths run), grades the class twice with ``--jobs`` workers, first
as a learner's kernel would run it (``fast=False``: a cold kernel per
notebook, every picture rendered, live controls live) and then the default
fast way (grading mode, each kernel forked from a worker's process that has
the heavy imports done), checks that both gradebooks are identical, and prints
wall time and CPU time (grader plus kernels) per notebook run, the ratio, and
what a class of 30 students x 12 notebooks would take at each rate.

The CPU figure is the honest one on a shared machine: on an otherwise idle
machine with ``--jobs`` cores, a class takes about CPU time / cores.

    .venv/bin/python benchmarks/grade_class.py [--notebooks 00-05] [--students 2] [--jobs 2] [--timeout 120]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from eda_sim.course.gradebook import grade
from eda_sim.course.release import NOTEBOOKS, select


def _cpu() -> float:
    """CPU seconds of this process and every finished process under it (workers and their kernels)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(folder: Path, jobs: int, fast: bool, timeout: int):
    wall, cpu = time.perf_counter(), _cpu()
    book = grade(folder, jobs=jobs, fast=fast, timeout=timeout)
    return book, time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebooks", default="00-05")
    parser.add_argument("--students", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=120, help="seconds a cell may take")
    args = parser.parse_args()
    numbers = select(args.notebooks)
    folder = Path(tempfile.mkdtemp(prefix="eda-class-"))
    try:
        for s in range(args.students):
            (folder / f"student{s:02d}").mkdir()
            for nn in numbers:
                solved = list((NOTEBOOKS / "solutions").glob(f"{nn}_*.ipynb"))
                source = solved[0] if solved and s % 2 else next(NOTEBOOKS.glob(f"{nn}_*.ipynb"))
                shutil.copy2(source, folder / f"student{s:02d}" / source.name)
        plain, plain_wall, plain_cpu = _timed(folder, args.jobs, False, args.timeout)
        fast, fast_wall, fast_cpu = _timed(folder, args.jobs, True, args.timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    runs = args.students * len(numbers)
    same = plain.equals(fast)
    print(
        f"class of {args.students} students x {len(numbers)} notebooks ({runs} runs), "
        f"{args.jobs} workers, {os.cpu_count()} cores, load average now {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'':6}{'wall s':>8}{'per run':>9}{'CPU s':>8}{'per run':>9}   30 x 12 (wall; CPU / cores)"
    )
    for name, wall, cpu in (("plain", plain_wall, plain_cpu), ("fast", fast_wall, fast_cpu)):
        print(
            f"{name:6}{wall:8.1f}{wall / runs:9.2f}{cpu:8.1f}{cpu / runs:9.2f}   "
            f"{360 * wall / runs / 60:5.1f} min; {360 * cpu / runs / args.jobs / 60:5.1f} min"
        )
    print(
        f"fast / plain: wall {fast_wall / plain_wall:.2f}, CPU {fast_cpu / plain_cpu:.2f}; "
        f"gradebooks identical: {same} ({len(fast)} rows)"
    )


if __name__ == "__main__":
    main()
