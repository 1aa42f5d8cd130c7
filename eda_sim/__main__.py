"""``python -m eda_sim``: the command line (``--help`` lists the commands).

``demo [--seed N]``: a small seeded scenario that needs no Jupyter. A keyed
producer writes to a 3-partition topic; a 2-member group processes it and
commits after processing; one member crashes mid-stream and its partitions move
to the other, which processes again what was never committed. The seed picks the
customers' keys and the moment of the crash, so another seed is another run.

``bench [options]``: the speed and memory figures (the same as
``python -m eda_sim.bench``).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter


def demo(seed: int = 7) -> str:
    """Run the demo scenario and return its report as text."""
    from eda_sim.core.simulation import Simulation
    from eda_sim.services.load import Feed
    from eda_sim.services.members import Member

    rng = random.Random(seed)
    crash_at = round(rng.uniform(8.0, 20.0), 1)
    keys = [f"customer-{rng.randrange(12)}" for _ in range(600)]
    sim = Simulation(seed=seed, name="demo")
    sim.create_topic("orders", partitions=3)
    seen: Counter = Counter()
    records = ((keys[i], f"order-{i}") for i in range(600))
    feed = Feed(sim, "orders", records, rate=40)
    config = {"auto.offset.reset": "earliest", "session.timeout.ms": 10000}
    members = [
        Member(
            sim,
            "billing",
            ["orders"],
            name=f"billing-{n}",
            processing_time=0.04,
            commit="after",
            max_poll_records=50,
            on_record=lambda m: seen.update([m.value()]),
            config=config,
        )
        for n in (1, 2)
    ]
    sim.crash(members[0], at=crash_at)
    sim.run(until=60)
    lines = [
        f"eda_sim demo, seed {seed}: 600 keyed orders -> topic 'orders' (3 partitions) -> group 'billing' (2 members)",
        f"billing-1 crashed at {crash_at:g} s (no commit); its partitions moved to billing-2 after "
        "session.timeout.ms",
        "",
        sim.offsets("billing", "orders")[
            ["partition", "log_start", "log_end", "committed", "lag", "owner"]
        ].to_string(index=False),
        "",
    ]
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    lines.append(
        f"produced {feed.produced}, processed {sum(seen.values())} "
        f"({len(seen)} distinct, {duplicates} duplicates processed twice after the crash)"
    )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The command line's parser: ``demo`` and ``bench``."""
    top = argparse.ArgumentParser(
        prog="python -m eda_sim",
        description="eda_sim: an event-driven architecture course on a simulated Kafka.",
        epilog="The notebooks are the course: open notebooks/00_start_here.ipynb in JupyterLab.",
    )
    commands = top.add_subparsers(dest="command", metavar="{demo,bench}")
    demo_cmd = commands.add_parser(
        "demo",
        help="run a seeded scenario: keyed orders, a 2-member group, one crash",
        description="A keyed producer, a 3-partition topic, a 2-member group and one crash; "
        "the seed picks the keys and the moment of the crash.",
    )
    demo_cmd.add_argument("seed", nargs="?", type=int, help="the seed (default 7)")
    demo_cmd.add_argument(
        "--seed", dest="seed_option", type=int, metavar="N", help="the seed, as an option"
    )
    commands.add_parser(
        "bench",
        help="speed and memory figures (python -m eda_sim.bench --help for its options)",
        add_help=False,
    )
    return top


def main(argv: list[str]) -> int:
    """Entry point: ``python -m eda_sim {demo,bench} ...``; usage errors exit with status 2, not a traceback."""
    top = parser()
    if argv and argv[0] == "bench":  # its own options: python -m eda_sim bench --records 1000
        from eda_sim.bench import main as bench

        return bench(argv[1:])
    args = top.parse_args(argv)
    if args.command is None:
        top.print_help(sys.stderr)
        return 2
    if args.seed is not None and args.seed_option is not None and args.seed != args.seed_option:
        top.error(f"demo: two different seeds, {args.seed} and --seed {args.seed_option}")
    seed = next((s for s in (args.seed, args.seed_option) if s is not None), 7)
    sys.stdout.write(demo(seed) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
