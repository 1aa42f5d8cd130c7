"""benchmarks/client_path.py runs with a small N and prints its three lines (figures are not asserted).

N is a multiple of the program's commit interval (1,000), its default's case: the final commit
then has nothing new to send, which a real client refuses with _NO_OFFSET.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_client_path_benchmark_prints_the_floor_the_simulator_and_mockafka_side_by_side():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "client_path.py"), "--records", "2000"]
        + ["--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    figures = r"\s+[\d,]+\s+\d+\.\d\d\s+\d+\.\d\d$"
    assert any(re.match(r"bare deques \(floor\)" + figures, line) for line in lines), run.stdout
    assert any(re.match(r"eda_sim\.kafka, journal on" + figures, line) for line in lines), (
        run.stdout
    )
    mock = [line for line in lines if line.startswith("mockafka-py")]
    assert len(mock) == 1, run.stdout
    if importlib.util.find_spec("mockafka") is None:
        assert "skipped: mockafka-py is not installed" in mock[0]
    else:
        assert re.match(r"mockafka-py" + figures, mock[0]), mock[0]
