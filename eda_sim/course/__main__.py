"""The course's classroom commands.

python -m eda_sim.course release --notebooks 00-05 --out dist/
python -m eda_sim.course grade SUBMISSIONS --out gradebook.csv [--timeout 600] [--jobs 2] [--plain]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    """Parse the command line and run ``release`` or ``grade``."""
    parser = argparse.ArgumentParser(
        prog="python -m eda_sim.course", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="write a student and an instructor bundle")
    rel.add_argument("--notebooks", default="all", help="00-05, 00-16, 00,03,99 or all")
    rel.add_argument("--out", type=Path, default=Path("dist"))
    rel.add_argument("--salt", default="eda_sim", help="salt of the sealed answer keys")
    gr = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    gr.add_argument("submissions", type=Path, help="a folder with one folder per student")
    gr.add_argument("--out", type=Path, default=Path("gradebook.csv"))
    gr.add_argument("--timeout", type=int, default=600, help="seconds a cell may take")
    gr.add_argument("--jobs", type=int, default=2, help="notebooks run at once")
    gr.add_argument(
        "--plain",
        action="store_true",
        help="run each notebook as a learner's kernel would (pictures, live controls, a cold "
        "kernel): slower, the same grades",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            from eda_sim.course.release import release

            for name, path in release(args.notebooks, args.out, salt=args.salt).items():
                print(f"{name}: {path}")
        else:
            from eda_sim.course.gradebook import grade

            book = grade(
                args.submissions,
                args.out,
                timeout=args.timeout,
                jobs=args.jobs,
                fast=not args.plain,
            )
            print(f"{len(book)} rows, {book['student'].nunique()} students: {args.out}")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
