"""The command line as a user meets it: help, usage errors without tracebacks, a seed that matters,
and a benchmark that says what it is doing."""

import subprocess
import sys

import pytest

from eda_sim import bench
from eda_sim.__main__ import demo, main


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "eda_sim", *args], capture_output=True, text=True, timeout=120
    )


def test_help_names_the_commands():
    done = run("--help")
    assert done.returncode == 0 and "demo" in done.stdout and "bench" in done.stdout
    assert "usage: python -m eda_sim" in done.stdout


@pytest.mark.parametrize(
    "args, says",
    [
        (["demo", "abc"], "invalid int value: 'abc'"),
        (["frob"], "invalid choice: 'frob'"),
        (["demo", "3", "--seed", "4"], "two different seeds"),
    ],
)
def test_bad_arguments_are_a_usage_error_not_a_traceback(args, says, capsys):
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and says in err and "usage:" in err
    assert "Traceback" not in err


def test_no_command_prints_the_help_and_fails():
    done = run()
    assert done.returncode == 2 and "demo" in done.stderr and "Traceback" not in done.stderr


def test_the_seed_changes_the_run_not_only_the_header():
    body = {seed: demo(seed).split("\n", 1)[1] for seed in (7, 8)}
    assert body[7] != body[8]
    assert demo(8) == demo(8)
    assert main(["demo", "--seed", "8"]) == 0


def test_the_benchmark_shows_progress_on_stderr(capsys):
    assert main(["bench", "--records", "2000", "--repeat", "1"]) == 0
    captured = capsys.readouterr()
    steps = [line for line in captured.err.splitlines() if line.startswith("[")]
    assert steps[0].startswith("[1/8] 8 bare deques") and steps[-1].startswith("[8/8] peak memory")
    assert "done in" in captured.err and "[1/8]" not in captured.out
    assert bench.Progress(2).total == 2
