"""tools/run_notebooks.py waits for a kernel's messages in short polls (jupyter/nbclient#312).

A fake channel stands for a kernel channel whose socket missed the wake-up of
a message already queued: a poll started before the message counts as missed
and sleeps out its whole timeout, a poll started after it returns at once.
The clock is the fake channel's own, so nothing here depends on the machine's
speed.
"""

import asyncio
import importlib.util
from pathlib import Path
from queue import Empty

import pytest

_spec = importlib.util.spec_from_file_location(
    "run_notebooks", Path(__file__).resolve().parents[1] / "tools" / "run_notebooks.py"
)
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)


class MissedWakeUp:
    """A channel whose message arrives at ``arrives``; a poll begun earlier misses it until timeout."""

    def __init__(self, arrives: float | None):
        self.now, self.arrives, self.waits = 0.0, arrives, []

    def clock(self) -> float:
        return self.now

    async def get_msg(self, timeout=None):
        self.waits.append(timeout)
        assert timeout is not None, "a wait without a timeout is what stalls"
        began, self.now = self.now, self.now + timeout  # the missed edge: the poll sleeps it out
        if self.arrives is not None and began >= self.arrives:
            self.now = began  # a fresh poll sees the queued message at once
            return {"msg_id": "reply"}
        raise Empty


def wait(channel, timeout):
    run_notebooks.short_polls(channel, slice_s=1.0, clock=channel.clock)
    return asyncio.run(channel.get_msg(timeout=timeout))


def test_a_missed_wake_up_costs_one_slice_not_the_cell_timeout():
    channel = MissedWakeUp(arrives=0.2)
    assert wait(channel, timeout=120) == {"msg_id": "reply"}
    assert channel.now == 1.0  # found by the second poll, not after 120 s
    assert channel.waits == [1.0, 1.0]


def test_the_deadline_still_holds_and_ends_in_empty():
    channel = MissedWakeUp(arrives=None)
    with pytest.raises(Empty):
        wait(channel, timeout=2.5)
    assert channel.now == 2.5 and channel.waits == [1.0, 1.0, 0.5]


def test_no_timeout_waits_in_slices_until_the_message_comes():
    channel = MissedWakeUp(arrives=3.5)
    assert wait(channel, timeout=None) == {"msg_id": "reply"}
    assert channel.waits == [1.0] * 5 and channel.now == 4.0


def test_the_runner_client_puts_short_polls_on_shell_and_iopub():
    import nbformat

    class FakeKernelClient:
        def __init__(self):
            self.shell_channel, self.iopub_channel = MissedWakeUp(0.0), MissedWakeUp(0.0)

        def start_channels(self):
            pass

        def wait_for_ready(self, timeout=None):
            pass

    class FakeKernelManager:
        def client(self):
            return FakeKernelClient()

    client = run_notebooks.Client(nbformat.v4.new_notebook(), km=FakeKernelManager())
    kc = asyncio.run(client.async_start_new_kernel_client())
    for channel in (kc.shell_channel, kc.iopub_channel):
        assert asyncio.run(channel.get_msg(timeout=120)) == {"msg_id": "reply"}
        assert channel.waits == [run_notebooks.POLL_SLICE]  # a slice, not the whole 120 s
