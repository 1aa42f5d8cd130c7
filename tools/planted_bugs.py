#!/usr/bin/env python3
"""Plant realistic one-line bugs in eda_sim one at a time and count how many the tests catch.

Usage (from the repository root, with the project's virtualenv):

    .venv/bin/python tools/planted_bugs.py                # every bug; prints the catch rate
    .venv/bin/python tools/planted_bugs.py M03 M17        # only these
    .venv/bin/python tools/planted_bugs.py --list         # the bugs, without running anything
    .venv/bin/python tools/planted_bugs.py --workers 2    # pytest-xdist workers per run (default 0)

Each bug is a file, the exact text of one line as it stands in the tree (matched
without its indentation, and it must occur exactly once in that file) and the text
that replaces it. The run copies the working tree (tracked and untracked files that
git does not ignore) into a temporary directory once, then for each bug: writes the
mutated file, runs the tests named for that bug there (``-x -q -p no:randomly``, no
nbval), records caught (a test failed or errored) or survived, and puts the file back.
The shared tree is never written to. The same tests are first run once on the
unmutated copy; a test set that already fails there stops the run.

The list was written as a fresh set: each line was chosen from the package for being
a plausible slip (an off-by-one at a boundary, ``>`` for ``>=`` at a threshold, a
wrong default, a missing clamp, a wrong key, a bucket edge, a wrong error name, a
view label, a trace parent...), before looking at which tests exist for it. The
tests named for a bug (to keep each run short) are the files of its package's test
folder that import the mutated module, found by a grep; where none does, the files
that drive the module through the public API (the broker's logs and groups through
``Simulation``, the client's four test files, the Redis backend's one). They are
not picked per line. ``--no-baseline`` skips the unmutated run; every catch names
the test that failed, so a flaky failure cannot pass for one unseen.

This is slow (minutes): it is not part of the normal test command.
``tests/test_planted_bugs.py`` checks only, cheaply, that every bug still applies
to the tree (the old line found exactly once).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The two tests that spawn OS processes wait on wall-clock deadlines (15 s joins): on a loaded
# machine they fail unmutated, so the runs here leave them out.
REDIS = ("tests/backends", "-k", "not killing_a_consumer_process and not kills_its_process")

# The test files that import eda_sim.services.service: a bug in the service core runs them all.
SERVICE_TESTS = (
    "tests/services/test_autoscale.py",
    "tests/services/test_bad_records.py",
    "tests/services/test_metrics.py",
    "tests/services/test_ordering.py",
    "tests/services/test_outcomes.py",
    "tests/services/test_schema_dead_letters.py",
    "tests/services/test_service.py",
    "tests/services/test_service_edges.py",
    "tests/services/test_service_speed_semantics.py",
    "tests/services/test_tracing.py",
)


@dataclass(frozen=True)
class Bug:
    """One planted bug: ``old`` (a whole line without its indentation) becomes ``new`` in ``path``."""

    id: str
    path: str
    old: str
    new: str
    tests: tuple
    what: str


BUGS = [
    # ---------------------------------------------------------------- core
    Bug(
        "M01",
        "eda_sim/core/measures.py",
        "return max(0, log_end - base)",
        "return log_end - base",
        ("tests/core/test_measures.py",),
        "lag loses its clamp at 0 (a commit past the log end shows negative lag)",
    ),
    Bug(
        "M02",
        "eda_sim/core/errors.py",
        '"NOT_ENOUGH_REPLICAS",',
        '"NOT_ENOUGH_REPLICAS_",',
        ("tests/broker/test_replication.py",),
        "NOT_ENOUGH_REPLICAS misspelt in the retriable set (a refused acks=all batch is not retried)",
    ),
    # ---------------------------------------------------------------- broker
    Bug(
        "M03",
        "eda_sim/broker/topics.py",
        "by_size = not active and max_bytes >= 0 and total - seg.size >= max_bytes",
        "by_size = not active and max_bytes >= 0 and total - seg.size > max_bytes",
        (
            "tests/core/test_simulation.py",
            "tests/broker/test_properties.py",
            "tests/broker/test_topics.py",
        ),
        "retention.bytes: a segment is kept when the rest is exactly retention.bytes",
    ),
    Bug(
        "M04",
        "eda_sim/broker/topics.py",
        'seg.size + nbytes > cfg["segment.bytes"] or now - seg.created >= self._roll',
        'seg.size + nbytes >= cfg["segment.bytes"] or now - seg.created >= self._roll',
        (
            "tests/core/test_simulation.py",
            "tests/broker/test_properties.py",
            "tests/broker/test_topics.py",
        ),
        "a segment rolls when a batch would fill it exactly to segment.bytes",
    ),
    Bug(
        "M05",
        "eda_sim/broker/topics.py",
        '"_UNKNOWN_PARTITION",',
        '"UNKNOWN_TOPIC_OR_PART",',
        (
            "tests/core/test_simulation.py",
            "tests/broker/test_properties.py",
            "tests/broker/test_topics.py",
        ),
        "wrong error name for a partition index out of range",
    ),
    Bug(
        "M06",
        "eda_sim/broker/group.py",
        "take = each + (1 if i < extra else 0)",
        "take = each + (1 if i <= extra else 0)",
        (
            "tests/broker/test_properties.py",
            "tests/broker/test_static_membership.py",
            "tests/broker/test_group.py",
        ),
        "range assignor hands one member too many an extra partition",
    ),
    Bug(
        "M07",
        "eda_sim/broker/group.py",
        "if extra and len(owned) > floor:",
        "if extra and len(owned) >= floor:",
        (
            "tests/broker/test_properties.py",
            "tests/broker/test_static_membership.py",
            "tests/broker/test_group.py",
        ),
        "cooperative-sticky keeps floor + 1 for a member that owned exactly floor",
    ),
    Bug(
        "M08",
        "eda_sim/broker/group_consumer.py",
        "gain = [tp for tp in target if tp not in have and tp not in self.owner]",
        "gain = [tp for tp in target if tp not in have]",
        ("tests/broker/test_group_consumer.py",),
        "KIP-848: a partition is handed out before its old owner revoked it",
    ),
    Bug(
        "M09",
        "eda_sim/broker/share_group.py",
        "if rec.delivery_count >= self.delivery_limit:",
        "if rec.delivery_count > self.delivery_limit:",
        ("tests/broker/test_share_group.py", "tests/broker/test_share_group_frame.py"),
        "share group: one delivery more than group.share.delivery.count.limit",
    ),
    Bug(
        "M10",
        "eda_sim/broker/compaction.py",
        'if lay.dirty_bytes and lay.dirty_ratio > cfg["min.cleanable.dirty.ratio"]:',
        'if lay.dirty_bytes and lay.dirty_ratio >= cfg["min.cleanable.dirty.ratio"]:',
        ("tests/broker/test_compaction.py",),
        "compaction runs at a dirty ratio equal to min.cleanable.dirty.ratio (planted as > -> >=)",
    ),
    Bug(
        "M11",
        "eda_sim/broker/compaction.py",
        'horizon = now + cfg["delete.retention.ms"] / 1000.0',
        'horizon = now + cfg["retention.ms"] / 1000.0',
        ("tests/broker/test_compaction.py",),
        "tombstone horizon read from the wrong config key",
    ),
    Bug(
        "M12",
        "eda_sim/broker/transactions.py",
        "return min(self.open.values()) if self.open else log_end",
        "return max(self.open.values()) if self.open else log_end",
        ("tests/broker/test_transactions.py",),
        "last stable offset from the newest open transaction instead of the oldest",
    ),
    Bug(
        "M13",
        "eda_sim/broker/replication.py",
        'if acks == "all" and len(part.isr) < part.setting("min.insync.replicas"):',
        'if acks == "all" and len(part.isr) <= part.setting("min.insync.replicas"):',
        ("tests/broker/test_replication.py",),
        "acks=all refused with exactly min.insync.replicas in sync",
    ),
    Bug(
        "M14",
        "eda_sim/broker/replication.py",
        "if len(state[1]) > 5:",
        "if len(state[1]) > 4:",
        ("tests/broker/test_replication.py",),
        "a follower remembers four producer batches, not five",
    ),
    # ---------------------------------------------------------------- kafka client
    Bug(
        "M15",
        "eda_sim/kafka/partitioner.py",
        "if st is None or st[0] >= num_partitions or now - st[1] >= self._linger or not self._linger:",
        "if st is None or st[0] >= num_partitions or now - st[1] > self._linger or not self._linger:",
        (
            "tests/kafka/test_client.py",
            "tests/kafka/test_client_edges.py",
            "tests/kafka/test_partitioner.py",
        ),
        "sticky partition kept one instant past sticky.partitioning.linger.ms",
    ),
    Bug(
        "M16",
        "eda_sim/kafka/consumer.py",
        "if committed is not None and log.log_start_offset <= committed <= log.log_end_offset:",
        "if committed is not None and log.log_start_offset <= committed < log.log_end_offset:",
        (
            "tests/kafka/test_client.py",
            "tests/kafka/test_client_edges.py",
            "tests/kafka/test_delivery.py",
            "tests/kafka/test_refusals.py",
        ),
        "a committed offset equal to the log end treated as out of range",
    ),
    Bug(
        "M17",
        "eda_sim/kafka/consumer.py",
        "offs = {(message.topic(), message.partition()): message.offset() + 1}",
        "offs = {(message.topic(), message.partition()): message.offset()}",
        (
            "tests/kafka/test_client.py",
            "tests/kafka/test_client_edges.py",
            "tests/kafka/test_delivery.py",
            "tests/kafka/test_refusals.py",
        ),
        "commit(message=...) commits the message's offset, not the next one",
    ),
    Bug(
        "M18",
        "eda_sim/kafka/config.py",
        '"auto.offset.reset": ("latest", _reset),',
        '"auto.offset.reset": ("earliest", _reset),',
        (
            "tests/kafka/test_client.py",
            "tests/kafka/test_client_edges.py",
            "tests/kafka/test_delivery.py",
            "tests/kafka/test_refusals.py",
        ),
        "wrong default for auto.offset.reset",
    ),
    Bug(
        "M19",
        "eda_sim/kafka/config.py",
        '"session.timeout.ms": (45000, int_value(1, 3600000)),',
        '"session.timeout.ms": (10000, int_value(1, 3600000)),',
        (
            "tests/kafka/test_client.py",
            "tests/kafka/test_client_edges.py",
            "tests/kafka/test_delivery.py",
            "tests/kafka/test_refusals.py",
        ),
        "session.timeout.ms defaults to the old Java 10 s",
    ),
    Bug(
        "M20",
        "eda_sim/kafka/producer.py",
        'elif cfg["max.in.flight.requests.per.connection"] > 5:',
        'elif cfg["max.in.flight.requests.per.connection"] >= 5:',
        (
            "tests/kafka/test_client.py",
            "tests/kafka/test_client_edges.py",
            "tests/kafka/test_delivery.py",
            "tests/kafka/test_refusals.py",
        ),
        "idempotence refuses max.in.flight = 5",
    ),
    Bug(
        "M21",
        "eda_sim/kafka/schema_registry/client.py",
        'against = history if level.endswith("_TRANSITIVE") else history[-1:]',
        'against = history if level.endswith("_TRANSITIVE") else history[:1]',
        ("tests/kafka/test_schema_registry.py",),
        "schema compatibility checked against the first version, not the latest",
    ),
    Bug(
        "M22",
        "eda_sim/kafka/schema_registry/client.py",
        'if base in ("FORWARD", "FULL"):',
        'if base in ("FORWARD",):',
        ("tests/kafka/test_schema_registry.py",),
        "FULL compatibility skips the forward check",
    ),
    Bug(
        "M23",
        "eda_sim/kafka/schema_registry/client.py",
        'self._global_level = "BACKWARD"',
        'self._global_level = "FULL"',
        ("tests/kafka/test_schema_registry.py",),
        "wrong default compatibility level",
    ),
    # ---------------------------------------------------------------- services
    Bug(
        "M24",
        "eda_sim/services/service.py",
        "causation_id=parent.id if parent is not None else None,",
        "causation_id=parent.correlation_id if parent is not None else None,",
        SERVICE_TESTS,
        "a caused event points at the trace root instead of its parent",
    ),
    Bug(
        "M25",
        "eda_sim/services/service.py",
        "if retry.is_permanent(err) or attempt >= retry.attempts:",
        "if retry.is_permanent(err) or attempt > retry.attempts:",
        SERVICE_TESTS,
        "one attempt more than Retry(attempts=...) before dead-lettering",
    ),
    Bug(
        "M26",
        "eda_sim/services/retries.py",
        "return min(self.backoff * self.factor ** (attempt - 1), self.max_backoff)",
        "return min(self.backoff * self.factor**attempt, self.max_backoff)",
        (
            "tests/services/test_bad_records.py",
            "tests/services/test_metrics.py",
            "tests/services/test_outcomes.py",
            "tests/services/test_schema_dead_letters.py",
            "tests/services/test_service.py",
            "tests/services/test_service_speed_semantics.py",
            "tests/services/test_tracing.py",
        ),
        "backoff exponent off by one",
    ),
    Bug(
        "M27",
        "eda_sim/services/ratelimit.py",
        "tokens = min(self.burst, tokens + (now - self._at) * self.rate)",
        "tokens = tokens + (now - self._at) * self.rate",
        ("tests/services/test_autoscale.py",),
        "token bucket refills past its burst (missing clamp)",
    ),
    Bug(
        "M28",
        "eda_sim/services/autoscale.py",
        "if lag < self.scale_in_lag and running > self.min_instances:",
        "if lag < self.scale_in_lag and running >= self.min_instances:",
        ("tests/services/test_autoscale.py", "tests/services/test_service_edges.py"),
        "autoscaler scales in below min_instances",
    ),
    Bug(
        "M29",
        "eda_sim/services/autoscale.py",
        "if now - self._last_decision < self.cooldown - 1e-9:",
        "if now - self._last_decision < self.cooldown + 1e-9:",
        ("tests/services/test_autoscale.py", "tests/services/test_service_edges.py"),
        "no decision exactly one cooldown after the last",
    ),
    Bug(
        "M30",
        "eda_sim/services/metrics.py",
        "above = value > rule.above",
        "above = value >= rule.above",
        ("tests/services/test_metrics.py", "tests/services/test_service_edges.py"),
        "an alert fires at a value equal to its threshold",
    ),
    Bug(
        "M31",
        "eda_sim/services/metrics.py",
        "return np.minimum(np.floor(np.asarray(times, dtype=float) / bucket + _EPS), n - 1).astype(",
        "return np.minimum(np.floor(np.asarray(times, dtype=float) / bucket - _EPS), n - 1).astype(",
        ("tests/services/test_metrics.py", "tests/services/test_service_edges.py"),
        "a row on a bucket edge counted in the bucket before",
    ),
    Bug(
        "M32",
        "eda_sim/services/ordering.py",
        "while heap and heap[0][0] <= limit:",
        "while heap and heap[0][0] < limit:",
        (
            "tests/services/test_bad_records.py",
            "tests/services/test_ordering.py",
            "tests/services/test_service_edges.py",
        ),
        "reorder buffer holds back an event exactly at the watermark",
    ),
    Bug(
        "M33",
        "eda_sim/services/ordering.py",
        "if part is None or offset <= part.last_offset:  # new, or rewound by a rebalance: start over",
        "if part is None or offset < part.last_offset:  # new, or rewound by a rebalance: start over",
        (
            "tests/services/test_bad_records.py",
            "tests/services/test_ordering.py",
            "tests/services/test_service_edges.py",
        ),
        "a redelivery of the last offset is not seen as a rewind",
    ),
    Bug(
        "M34",
        "eda_sim/services/windows.py",
        "while k * self.step + self.size > t:",
        "while k * self.step + self.size >= t:",
        ("tests/services/test_streams.py", "tests/services/test_windows.py"),
        "an event at a window's end counted in that window (window closed on both ends)",
    ),
    Bug(
        "M35",
        "eda_sim/services/windows.py",
        "if start - gap <= time <= end + gap:",
        "if start - gap < time < end + gap:",
        ("tests/services/test_streams.py", "tests/services/test_windows.py"),
        "session windows: an event exactly one gap away starts a new session",
    ),
    Bug(
        "M36",
        "eda_sim/services/tracing.py",
        "stack.append((child, None if depth is None else depth + 1))",
        "stack.append((child, depth))",
        ("tests/services/test_service_edges.py", "tests/services/test_tracing.py"),
        "trace tree depth not increased below the root",
    ),
    Bug(
        "M37",
        "eda_sim/services/state.py",
        "if r.offset >= start:",
        "if r.offset > start:",
        ("tests/services/test_streams.py", "tests/services/test_state.py"),
        "state store restore skips the changelog record at its start offset",
    ),
    Bug(
        "M38",
        "eda_sim/services/streams.py",
        "if offset <= store.applied:",
        "if offset < store.applied:",
        ("tests/services/test_streams.py",),
        "a stream task applies the last applied record again after a restore",
    ),
    Bug(
        "M39",
        "eda_sim/services/tables.py",
        "i = bisect.bisect_right(times, time)",
        "i = bisect.bisect_left(times, time)",
        ("tests/services/test_streams.py", "tests/services/test_tables.py"),
        "table lookup at a record's exact timestamp returns the value before it",
    ),
    # ---------------------------------------------------------------- views
    Bug(
        "M40",
        "eda_sim/views/partition_board.py",
        'handles.append(_mpl.Line2D([], [], color="black", lw=2.2, label="committed"))',
        'handles.append(_mpl.Line2D([], [], color="black", lw=2.2, label="lag"))',
        ("tests/views/test_board_text.py",),
        "board legend calls the committed-offset line lag",
    ),
    Bug(
        "M41",
        "eda_sim/views/trace.py",
        '"  lost" if stuck["state"] == "lost" else "  stuck",',
        '"  stuck" if stuck["state"] == "lost" else "  lost",',
        ("tests/views/test_trace_view.py",),
        "trace picture swaps lost and stuck",
    ),
    # ---------------------------------------------------------------- redis backend
    Bug(
        "M42",
        "eda_sim/backends/redis/keys.py",
        'return 0 if id_str(entry_id) == "0-0" else entry_id_to_offset(entry_id) + 1',
        'return 0 if id_str(entry_id) == "0-0" else entry_id_to_offset(entry_id)',
        REDIS,
        "Redis: the offset after an entry id off by one",
    ),
    Bug(
        "M43",
        "eda_sim/backends/redis/producer.py",
        "elif partition >= partitions:",
        "elif partition > partitions:",
        REDIS,
        "Redis producer accepts partition == partition count",
    ),
    Bug(
        "M44",
        "eda_sim/backends/redis/service.py",
        "if before >= self.max_deliveries:",
        "if before > self.max_deliveries:",
        REDIS,
        "Redis service: one delivery more than max_deliveries before dead-lettering",
    ),
    Bug(
        "M45",
        "eda_sim/backends/redis/consumer.py",
        "self._positions[key] = m.offset() + 1",
        "self._positions[key] = m.offset()",
        REDIS,
        "Redis consumer position is the last offset, not the next",
    ),
]


def locate(text: str, old: str) -> list[int]:
    """Indexes of the lines of ``text`` equal to ``old`` once their indentation is set aside."""
    return [i for i, line in enumerate(text.split("\n")) if line.strip() == old]


def mutate(text: str, bug: Bug) -> str:
    """``text`` with the bug's one line replaced, its indentation kept."""
    lines = text.split("\n")
    (i,) = locate(text, bug.old)
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = indent + bug.new
    return "\n".join(lines)


def problems(root: Path = ROOT) -> list[str]:
    """Why a bug no longer applies to the tree at ``root`` (empty when every bug applies cleanly)."""
    out, seen = [], set()
    for b in BUGS:
        if b.id in seen:
            out.append(f"{b.id}: id used twice")
        seen.add(b.id)
        f = root / b.path
        if not f.is_file():
            out.append(f"{b.id}: {b.path} does not exist")
            continue
        n = len(locate(f.read_text(), b.old))
        if n != 1:
            out.append(f"{b.id}: {b.path} has the line {n} times, not once: {b.old!r}")
        if b.new.strip() == b.old:
            out.append(f"{b.id}: the new line is the old one")
        paths = [t for t in b.tests if t.startswith("tests")]
        out += [f"{b.id}: no test path {t}" for t in paths if not (root / t).exists()]
    return out


def scratch_copy() -> Path:
    """Copy the working tree (what git tracks or would track) into a new temporary directory."""
    dest = Path(tempfile.mkdtemp(prefix="planted_bugs_"))
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / os.fsdecode(name)
        if src.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(name))
    return dest


def run_tests(copy: Path, tests: tuple, workers: int, timeout: float) -> tuple[str, float, str]:
    """Run ``tests`` in ``copy``: ("failed" | "passed" | "timeout" | "error rc=N", seconds, output)."""
    cmd = [sys.executable, "-m", "pytest", *tests, "-x", "-q", "-p", "no:randomly"]
    cmd += ["-p", "no:nbval", "-o", "addopts=", "-n", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    t0 = time.monotonic()
    try:
        done = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - t0, ""
    # 1: a test failed; 2: collection failed (the mutant broke an import). Both are caught.
    rc = done.returncode
    verdict = {0: "passed", 1: "failed", 2: "failed"}.get(rc, f"error rc={rc}")
    return verdict, time.monotonic() - t0, (done.stdout + done.stderr).decode(errors="replace")


def first_failure(out: str) -> str:
    """The first ``FAILED``/``ERROR`` line of pytest's short summary, or what ended the run."""
    for line in out.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line[:160]
    return (out.strip().splitlines() or ["(no output)"])[-1][:160]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ids", nargs="*", help="run only these bugs (default: all)")
    ap.add_argument("--list", action="store_true", help="list the bugs and stop")
    ap.add_argument("--workers", type=int, default=0, help="pytest-xdist workers per run")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per test run")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    args = ap.parse_args(argv)
    wrong = problems()
    if wrong:
        print("the bug list no longer applies to the tree:\n  " + "\n  ".join(wrong))
        return 2
    bugs = [b for b in BUGS if not args.ids or b.id in args.ids]
    if args.list:
        for b in bugs:
            print(f"{b.id}  {b.path}: {b.what}\n      - {b.old}\n      + {b.new}")
        return 0
    copy = scratch_copy()
    try:
        if not args.no_baseline:
            for tests in sorted({b.tests for b in bugs}):
                verdict, secs, out = run_tests(copy, tests, args.workers, args.timeout)
                print(f"baseline {' '.join(tests)}: {verdict} ({secs:.0f} s)", flush=True)
                if verdict != "passed":
                    print(out[-3000:])
                    return 2
        caught, survived = [], []
        for b in bugs:
            f = copy / b.path
            original = f.read_text()
            f.write_text(mutate(original, b))
            try:
                verdict, secs, out = run_tests(copy, b.tests, args.workers, args.timeout)
            finally:
                f.write_text(original)
            if verdict.startswith("error"):
                print(f"{b.id} {verdict}: pytest could not run {b.tests}\n{out[-3000:]}")
                return 2
            (survived if verdict == "passed" else caught).append(b)
            word = "survived" if verdict == "passed" else f"caught ({verdict})"
            print(f"{b.id} {word:<18} {secs:5.0f} s  {b.path}: {b.what}", flush=True)
            if verdict != "passed":  # by which test: a flaky failure must not pass for a catch
                print(f"    by {first_failure(out)}", flush=True)
        n = len(bugs)
        print(f"\ncaught {len(caught)} of {n} ({100 * len(caught) / n:.0f} %)")
        if survived:
            print("survivors: " + ", ".join(f"{b.id} ({b.what})" for b in survived))
        return 0
    finally:
        shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
