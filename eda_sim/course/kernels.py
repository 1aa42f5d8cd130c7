"""A grading worker's next kernel: started, with the course's heavy imports done, while the current notebook runs.

Starting a Python kernel and importing pandas, matplotlib, ipywidgets and
``eda_sim`` takes a few seconds, most of it before the first cell runs. A
:class:`Spare` is a kernel launched ahead of time in grading mode
(``EDA_SIM_GRADING=1``), which imports those modules at once, with a silent
request that leaves the learner's namespace, execution count and history as
they were. :func:`take` hands the worker's spare to the next submission and
launches the one after it, so a kernel boots while another notebook runs.

Every submission still gets a kernel of its own, used once and then killed
(:meth:`Spare.stop`): a kernel is never reused between submissions.
"""

from __future__ import annotations

import multiprocessing.util
import os
from pathlib import Path

#: The modules a spare kernel imports before it is handed out (the ones most notebooks load).
WARM_MODULES = (
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

_WARM = (
    "def _eda_sim_warm():\n"
    "    import importlib\n"
    f"    for name in {WARM_MODULES!r}:\n"
    "        try:\n"
    "            importlib.import_module(name)\n"
    "        except ImportError:\n"
    "            pass\n"
    "_eda_sim_warm()\n"
    "del _eda_sim_warm\n"
)


class Spare:
    """A kernel launched in grading mode that imports :data:`WARM_MODULES` as soon as it is up."""

    def __init__(self, cwd: Path):
        from jupyter_client import AsyncKernelManager, BlockingKernelClient
        from jupyter_core.utils import run_sync

        from eda_sim.views.offstage import ENV

        self.km = AsyncKernelManager(kernel_name="python3")
        run_sync(self.km.start_kernel)(
            cwd=str(Path(cwd).resolve()),
            env={**os.environ, ENV: "1"},
            extra_arguments=["--HistoryManager.hist_file=:memory:"],
        )
        self._kc = BlockingKernelClient()
        self._kc.load_connection_info(self.km.get_connection_info())
        self._kc.start_channels()
        # queued until the kernel is up; silent: no execution count, no output, no history
        self._warm = self._kc.execute(_WARM, silent=True, store_history=False)

    def ready(self, folder: Path, timeout: float) -> None:
        """Wait until the imports are done, then move the kernel into ``folder`` (the notebook's own)."""
        self._reply(self._warm, timeout)
        code = f"import os as _o\n_o.chdir({str(Path(folder).resolve())!r})\ndel _o\n"
        self._reply(self._kc.execute(code, silent=True, store_history=False), timeout)

    def _reply(self, msg_id: str, timeout: float) -> None:
        while True:  # raises queue.Empty after `timeout` seconds without a reply
            msg = self._kc.get_shell_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") == msg_id:
                if msg["content"].get("status") != "ok":
                    raise RuntimeError(f"the spare kernel's set-up failed: {msg['content']}")
                return

    def stop(self) -> None:
        """Kill the kernel (it served one submission) and close the connections."""
        from jupyter_core.utils import run_sync

        try:
            self._kc.stop_channels()
        finally:
            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except RuntimeError:  # already dead ("No kernel is running!"): nothing to kill
                pass


_spare: Spare | None = None


def take(folder: Path, timeout: float = 60) -> Spare:
    """This worker's spare kernel, ready in ``folder``; launches the next spare before returning.

    The first call of a worker starts its kernel then and there. A spare that
    does not come up within ``timeout`` seconds (nbclient's own start-up
    timeout is 60) is dropped for a new one.
    """
    global _spare
    if _spare is None:
        multiprocessing.util.Finalize(None, _drop, exitpriority=10)  # kill the last spare at exit
        kernel = Spare(folder)
    else:
        kernel, _spare = _spare, None
    try:
        kernel.ready(folder, timeout)
    except Exception:  # noqa: BLE001 - a spare that did not come up is replaced, once
        kernel.stop()
        kernel = Spare(folder)
        kernel.ready(folder, timeout)
    _spare = Spare(folder)
    return kernel


def _drop() -> None:
    global _spare
    if _spare is not None:
        _spare, spare = None, _spare
        spare.stop()
