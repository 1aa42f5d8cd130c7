"""Fixtures shared across the test packages: a throwaway Redis server for the real-broker tests."""

import pytest

from eda_sim.backends.redis.server import RedisServer, installed
from eda_sim.testing import need

try:
    import redis
except ImportError:  # pragma: no cover - requirements.txt installs it
    redis = None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A ``redis-server`` on a free loopback port with persistence off, for one test module.

    Skips with the reason outside CI when the client package or the server is missing; fails on CI.
    """
    if redis is None:
        need("the redis client package is missing", "pip install -r requirements.txt")
    if not installed():
        need(
            "redis-server is not installed",
            "apt-get install redis-server (Debian's 7.0 is what CI uses)",
        )
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


_SESSION_START: list = []


def pytest_sessionstart(session):
    import time

    _SESSION_START.append(time.time())


def pytest_terminal_summary(terminalreporter):
    """Show the browser test's click-to-picture figures (written by whichever worker ran it)."""
    from pathlib import Path

    report = Path(__file__).resolve().parents[1] / "artifacts" / "browser" / "click_to_picture.txt"
    if _SESSION_START and report.exists() and report.stat().st_mtime >= _SESSION_START[0]:
        terminalreporter.write_sep("-", "browser: click to new picture")
        terminalreporter.write_line(report.read_text().rstrip())
