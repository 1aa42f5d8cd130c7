"""``python -m eda_sim demo``: a small seeded scenario that needs no Jupyter.

A keyed producer writes to a 3-partition topic; a 2-member group processes it
and commits after processing; one member crashes mid-stream and its partitions
move to the other, which processes again what was never committed.
"""

from __future__ import annotations

import sys
from collections import Counter


def demo(seed: int = 7) -> str:
    """Run the demo scenario and return its report as text."""
    from eda_sim.core.simulation import Simulation
    from eda_sim.services.load import Feed
    from eda_sim.services.members import Member

    sim = Simulation(seed=seed, name="demo")
    sim.create_topic("orders", partitions=3)
    seen: Counter = Counter()
    records = ((f"customer-{i % 12}", f"order-{i}") for i in range(600))
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
    sim.crash(members[0], at=12.3)
    sim.run(until=60)
    lines = [
        f"eda_sim demo, seed {seed}: 600 keyed orders -> topic 'orders' (3 partitions) -> group 'billing' (2 members)",
        "billing-1 crashed at 12.3 s (no commit); its partitions moved to billing-2 after session.timeout.ms",
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


def main(argv: list[str]) -> int:
    """Entry point: ``python -m eda_sim demo [seed]``."""
    if not argv or argv[0] != "demo":
        sys.stderr.write("usage: python -m eda_sim demo [seed]\n")
        return 2
    seed = int(argv[1]) if len(argv) > 1 else 7
    sys.stdout.write(demo(seed) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
