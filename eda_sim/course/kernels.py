"""Kernels for grading: each submission gets a fresh process, forked from one that has the imports done.

Starting a Python kernel and importing ipykernel, pandas, matplotlib,
ipywidgets and ``eda_sim`` costs a few CPU seconds per notebook, more than
most notebooks' own cells. So each grading worker starts one *zygote*: a
process that imports all that once (in grading mode, ``EDA_SIM_GRADING=1``,
with the notebook's matplotlib backend chosen) and never runs any notebook
code. :func:`take` asks it to fork: the child moves into the notebook's
folder and becomes an ordinary ipykernel on a fresh connection file, in a
few tenths of a second. After one submission the kernel is killed
(:meth:`Forked.stop`): a kernel is never reused between submissions, and
the zygote's own state is never touched by one (a fork copies it).

POSIX only (``os.fork``); elsewhere :func:`take` returns None and the grade
command starts a plain kernel per notebook.
"""

from __future__ import annotations

import json
import multiprocessing.util
import os
import signal
import subprocess
import sys
from pathlib import Path

#: The modules the zygote imports once (the ones most notebooks load).
WARM_MODULES = (
    "ipykernel.kernelapp",
    "numpy",
    "pandas",
    "matplotlib.pyplot",
    "ipywidgets",
    "PIL.Image",
    "simpy",
    "eda_sim",
    "eda_sim.views.widgets",
    "eda_sim.course.grading",
    "eda_sim.course.feedback",
)

#: The backend a kernel gives matplotlib (set before matplotlib is first imported).
BACKEND = "module://matplotlib_inline.backend_inline"

_ZYGOTE = f"""
import importlib, json, os, signal, sys
if sys.path and sys.path[0] == "":
    del sys.path[0]  # as ipykernel_launcher does; the kernel puts the notebook's folder back
for name in {WARM_MODULES!r}:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
def _reap(*_):
    # collect ended kernels (so their CPU time counts as this process's children's, as usual)
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
signal.signal(signal.SIGCHLD, _reap)
requests, answers = sys.stdin, sys.stdout
print("ready", file=answers, flush=True)
for line in requests:
    ask = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(2, 1)  # the kernel's own output goes where a launched kernel's would
            os.chdir(ask["cwd"])
            from ipykernel.kernelapp import IPKernelApp
            IPKernelApp.launch_instance(argv=["-f", ask["connection_file"], *ask["arguments"]])
        finally:
            os._exit(0)
    print(pid, file=answers, flush=True)
"""


class _Process:
    """What jupyter_client asks of a kernel's provisioner, for a process the zygote forked."""

    def __init__(self, pid: int):
        self.pid = pid

    @property
    def has_process(self) -> bool:
        return self.alive()

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        try:  # an ended kernel the zygote has not collected yet is a zombie: not alive
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
                return stat.read().rpartition(")")[2].split()[0] != "Z"
        except OSError:
            return True

    async def poll(self):
        return None if self.alive() else 0


class Forked:
    """A kernel forked from this worker's zygote, in ``folder``; ``km`` is what nbclient is given."""

    def __init__(self, zygote: subprocess.Popen, folder: Path):
        from jupyter_client import AsyncKernelManager

        self.km = AsyncKernelManager(kernel_name="python3")
        self.km.write_connection_file()
        ask = {
            "connection_file": self.km.connection_file,
            "cwd": str(Path(folder).resolve()),
            "arguments": ["--HistoryManager.hist_file=:memory:"],
        }
        zygote.stdin.write(json.dumps(ask) + "\n")
        zygote.stdin.flush()
        answer = zygote.stdout.readline()
        if not answer.strip().isdigit():
            raise RuntimeError(f"the grading zygote did not fork a kernel (said {answer!r})")
        self.process = _Process(int(answer))
        self.km.provisioner = self.process  # has_kernel, is_alive: what nbclient asks

    def stop(self) -> None:
        """Kill the kernel (it served one submission) and remove its connection file."""
        try:
            os.kill(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.km.provisioner = None
        self.km.cleanup_connection_file()


_zygote: subprocess.Popen | None = None


def _start_zygote() -> subprocess.Popen:
    from eda_sim.views.offstage import ENV

    # JPY_PARENT_PID: what jupyter_client gives a kernel it launches (the kernel exits with its parent)
    env = {**os.environ, ENV: "1", "MPLBACKEND": BACKEND, "JPY_PARENT_PID": str(os.getpid())}
    zygote = subprocess.Popen(
        [sys.executable, "-c", _ZYGOTE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    if zygote.stdout.readline().strip() != "ready":
        zygote.kill()
        raise RuntimeError("the grading zygote did not start")
    multiprocessing.util.Finalize(None, _stop_zygote, exitpriority=10)  # at the worker's exit
    return zygote


def _stop_zygote() -> None:
    global _zygote
    if _zygote is not None:
        _zygote, zygote = None, _zygote
        zygote.stdin.close()
        zygote.kill()
        zygote.wait()


def take(folder: Path) -> Forked | None:
    """A fresh kernel for one submission in ``folder``, forked from this worker's zygote (started on first use).

    None where processes cannot fork (Windows): the caller starts a plain kernel.
    """
    global _zygote
    if not hasattr(os, "fork"):
        return None
    if _zygote is None or _zygote.poll() is not None:
        _zygote = _start_zygote()
    return Forked(_zygote, folder)
