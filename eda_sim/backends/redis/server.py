"""Start and stop a throwaway ``redis-server`` on localhost, and find the one a learner configured.

Tests, the Redis benchmark and notebook 16 need a real Redis server without
touching anyone's data: :class:`RedisServer` starts ``redis-server`` on a free
loopback port with persistence off (``--save '' --appendonly no``) and a
working directory it is given, waits until it answers ``PING``, and stops it
(SIGTERM, then SIGKILL) on :meth:`RedisServer.stop` or at the end of a
``with`` block.

Addresses are never built in: a server the learner runs is found through the
``EDA_REDIS_URL`` environment variable (:func:`url_from_env`), and a server
this module starts reports its own URL.

Example::

    import tempfile
    from eda_sim.backends.redis.server import RedisServer, installed

    if installed():
        with tempfile.TemporaryDirectory() as tmp, RedisServer(tmp) as server:
            server.url            # 'redis://127.0.0.1:<free port>/0'
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

#: The environment variable that names the Redis server to use.
ENV_URL = "EDA_REDIS_URL"

#: The loopback interface a started server listens on (never a remote address).
LOOPBACK = "127.0.0.1"


def binary() -> str | None:
    """The path of ``redis-server`` on ``PATH``, or None when it is not installed."""
    return shutil.which("redis-server")


def installed() -> bool:
    """Whether ``redis-server`` is installed (on ``PATH``)."""
    return binary() is not None


def url_from_env(default: str | None = None) -> str | None:
    """The Redis URL in ``$EDA_REDIS_URL``, else ``default``."""
    value = os.environ.get(ENV_URL, "").strip()
    return value or default


def start_hint() -> str:
    """One line that tells a learner how to get a server for the Redis notebook."""
    return (
        f"Start one with:  redis-server --port 6379 --save '' --appendonly no   "
        f"then set {ENV_URL}=redis://localhost:6379/0 (Debian/Ubuntu: apt-get install redis-server)"
    )


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _answers(host: str, port: int, timeout: float) -> bool:
    """A raw ``PING`` over a socket: True when a Redis server answers ``+PONG``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` child process on a free loopback port, with persistence off.

    ``directory`` is its working directory (``--dir``) and holds its log
    (``redis.log``); nothing else is written there because ``--save ''`` and
    ``--appendonly no`` turn persistence off. Use it as a context manager or
    call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        directory,
        *,
        port: int | None = None,
        executable: str | None = None,
        startup_timeout: float = 10.0,
    ):
        self.directory = Path(directory)
        self.port = port
        self.executable = executable or binary()
        self.startup_timeout = float(startup_timeout)
        self.process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RedisServer {self.url if self.port else '(no port yet)'} {state}>"

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        if self.port is None:
            raise RuntimeError("the server has no port yet; call start() first")
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self.process is not None and self.process.poll() is None

    @property
    def log_path(self) -> Path:
        """Where the server writes its log."""
        return self.directory / "redis.log"

    def start(self) -> RedisServer:
        """Start the server and wait until it answers; ``RuntimeError`` (with its log) if it does not."""
        if self.running:
            return self
        if self.executable is None:
            raise RuntimeError("redis-server is not installed; " + start_hint())
        self.directory.mkdir(parents=True, exist_ok=True)
        fixed = self.port is not None
        for _ in range(
            1 if fixed else 5
        ):  # a port found free can be taken before the server binds it
            port = self.port if fixed else free_port()
            if self._launch(port):
                self.port = port
                return self
        raise RuntimeError(f"redis-server did not start; its log says:\n{self._log_tail()}")

    def _launch(self, port: int) -> bool:
        args = [
            self.executable,
            "--port",
            str(port),
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.log_path),
            "--daemonize",
            "no",
        ]
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if _answers(LOOPBACK, port, 0.2):
                return True
            time.sleep(0.01)
        self._terminate()
        return False

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _terminate(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after 5 s); its data goes with it."""
        self._terminate()
        self.process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
