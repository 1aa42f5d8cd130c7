"""Kernels for grading: a fresh process per submission, forked warm, clean, in its folder, in grading mode."""

from __future__ import annotations

import json

from eda_sim.course import kernels

PROBE = (
    "import json, os, sys\n"
    "print(json.dumps({'pid': os.getpid(), 'cwd': os.getcwd(), 'grading': os.environ.get('EDA_SIM_GRADING'),\n"
    "  'warm': 'pandas' in sys.modules and 'eda_sim.views.widgets' in sys.modules,\n"
    "  'names': sorted(k for k in globals() if 'warm' in k or k == '_o'),\n"
    "  'count': get_ipython().execution_count}))"
)


def _probe(kernel: kernels.Forked) -> dict:
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_info(kernel.km.get_connection_info())
    client.start_channels()
    client.wait_for_ready(timeout=60)
    lines = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            lines.append(msg["content"]["text"])

    reply = client.execute_interactive(PROBE, timeout=60, output_hook=hook)
    client.stop_channels()
    return {**json.loads("".join(lines)), "count": reply["content"]["execution_count"]}


def test_each_submission_gets_a_fresh_warm_kernel_in_its_folder(tmp_path):
    (tmp_path / "ada").mkdir()
    (tmp_path / "bo").mkdir()
    first = kernels.take(tmp_path / "ada")
    try:
        one = _probe(first)
        second = kernels.take(tmp_path / "bo")
        two = _probe(second)
        first.stop()
        assert (
            _gone_within(first.process, 10) and second.process.alive()
        )  # killed after its one run
        second.stop()
    finally:
        kernels._stop_zygote()
    assert one["pid"] != two["pid"]  # never the same kernel for two submissions
    assert one["cwd"].endswith("ada") and two["cwd"].endswith("bo")
    assert one["grading"] == two["grading"] == "1" and one["warm"] and two["warm"]
    # the imports and the move left no names behind and did not count as cells
    assert one["names"] == two["names"] == [] and one["count"] == two["count"] == 1


def _gone_within(process, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while process.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
