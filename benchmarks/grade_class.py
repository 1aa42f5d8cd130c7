"""How long ``python -m eda_sim.course grade`` takes for a class, measured on a small generated one.

Makes ``--students`` submissions of each chosen notebook (alternately the
untouched starter and the worked solution, so both the 0-point and the
full-marks paths run), grades them with ``--jobs`` kernels at once, and prints
the time per notebook run, each notebook's own run time, and what a class of
30 students x 12 notebooks would take at that rate.

    .venv/bin/python benchmarks/grade_class.py [--notebooks 00-05] [--students 2] [--jobs 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from eda_sim.course.gradebook import grade
from eda_sim.course.release import NOTEBOOKS, select


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebooks", default="00-05")
    parser.add_argument("--students", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
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
        single = {}
        for nn in numbers:  # each notebook alone, one kernel: its run time in class
            one = folder / "_one" / "x"
            one.mkdir(parents=True)
            shutil.copy2(next(NOTEBOOKS.glob(f"{nn}_*.ipynb")), one)
            start = time.perf_counter()
            grade(folder / "_one", jobs=1)
            single[nn] = time.perf_counter() - start
            shutil.rmtree(folder / "_one")
        start = time.perf_counter()
        book = grade(folder, jobs=args.jobs)
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    runs = args.students * len(numbers)
    print("notebook  run alone (s, kernel start included)")
    for nn, seconds in single.items():
        print(f"{nn:>8}  {seconds:6.1f}")
    per_run = elapsed / runs
    print(
        f"class of {args.students} x {len(numbers)}: {elapsed:.1f} s with {args.jobs} kernels "
        f"({per_run:.2f} s per notebook run, {len(book)} gradebook rows)"
    )
    print(
        f"at that rate 30 students x 12 notebooks: {30 * 12 * per_run / 60:.1f} min "
        f"(mean single run {sum(single.values()) / len(single):.1f} s)"
    )


if __name__ == "__main__":
    main()
