#!/usr/bin/env python3
"""Execute notebooks in place, top to bottom in a fresh kernel, and save them with outputs.

Usage: .venv/bin/python tools/run_notebooks.py [NOTEBOOK ...]   (default: every notebook)
       .venv/bin/python tools/run_notebooks.py --finish [NOTEBOOK ...]   (no run: fallbacks, kernelspec)

This is how notebooks are saved before a commit, so that `pytest --nbval`
compares against outputs of a clean run. Widget state is stored in the
notebook metadata (nbclient's default), so static renderers show the last
state of the controls.

Before saving, :func:`finish` makes a notebook readable without a kernel:
each live widget output also carries its last frame (the picture of the
controls, or the table/text an ``explore`` cell showed) as a plain output
type, which GitHub, nbviewer and an untrusted JupyterLab show instead of the
widget's ``VBox(...)`` text (JupyterLab with widgets still picks the widget
view, ranked first); and the kernelspec's display name is the one JupyterLab
writes, so opening a notebook does not mark it modified.

Cells run under :class:`Client`, nbclient's client with one workaround: a
kernel's reply is waited for in short polls (jupyter/nbclient#312, below).
"""

import base64
import json
import re
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


#: The longest single wait on a kernel channel, in seconds (see :func:`short_polls`).
POLL_SLICE = 1.0


def short_polls(channel, slice_s: float = POLL_SLICE, clock=time.monotonic) -> None:
    """Make ``channel.get_msg(timeout)`` wait in polls of at most ``slice_s`` seconds.

    jupyter/nbclient#312: on a widget cell nbclient sometimes gets the
    kernel's reply only when its wait times out (the whole cell timeout,
    120 s here), although the reply came at once. An asyncio zmq socket
    is woken by its file descriptor, which signals edges, not levels: an
    edge can go by while the client is busy with the other channel, and
    the socket's poll then sleeps out its timeout with the message queued.
    A fresh poll looks at the socket's queue first, so waiting in short
    slices turns a missed wake-up into at most ``slice_s`` of delay; the
    overall deadline (and ``Empty`` at its end) is kept.
    """
    wait = channel.get_msg

    async def get_msg(timeout: float | None = None):
        deadline = None if timeout is None else clock() + timeout
        while True:
            left = slice_s if deadline is None else min(slice_s, max(0.0, deadline - clock()))
            try:
                return await wait(timeout=left)
            except Empty:
                if deadline is not None and clock() >= deadline:
                    raise

    channel.get_msg = get_msg


class Client(NotebookClient):
    """nbclient's client whose shell and iopub waits are short polls (:func:`short_polls`)."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            short_polls(channel)
        return kc


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    Client(
        nb,
        timeout=120,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    elapsed = time.perf_counter() - start
    if not _has_widgets(nb):
        nb.metadata.pop("widgets", None)
    nbformat.write(finish(_stable_widget_ids(nb, path.stem)), path)
    return elapsed


#: What JupyterLab writes for the venv's kernel; saved as is, opening changes nothing.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def finish(nb):
    """Add each widget output's last frame as a fallback type, and JupyterLab's kernelspec; returns ``nb``."""
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            for key in ("image/png", "text/html"):
                out["data"].pop(key, None)  # a fallback from an earlier finish is replaced
            frame = _last_frame(models, view.get("model_id"), set())
            if frame:
                out["data"].update(frame)
    return nb


def _last_frame(models: dict, model_id, seen: set) -> dict:
    """The last picture (or table, or text) a widget and its children show, as an output bundle."""
    model = models.get(model_id)
    if model is None or model_id in seen:
        return {}
    seen.add(model_id)
    name, st = model.get("model_name"), model.get("state", {})
    if name == "ImageModel" and st.get("format", "png") == "png":
        for buf in model.get("buffers", []):
            if buf.get("path") == ["value"]:
                data = buf["data"]
                if buf.get("encoding") != "base64":
                    data = base64.b64encode(data.encode("latin-1")).decode()
                return {"image/png": data}
    if name == "OutputModel":
        frame, text = {}, []
        for o in st.get("outputs", []):
            data = o.get("data", {})
            if "image/png" in data:
                frame = {"image/png": data["image/png"]}
            elif "text/html" in data and "image/png" not in frame:
                frame = {"text/html": data["text/html"]}
            if o.get("output_type") == "stream":
                text.append("".join(o.get("text", "")))
            elif "text/plain" in data:
                text.append("".join(data["text/plain"]) + "\n")
        if not frame and text:  # printed results: shown as text instead of the widget's repr
            frame = {"text/plain": "".join(text).rstrip("\n")}
        return frame
    found = {}
    for child in st.get("children", []):
        frame = _last_frame(models, str(child).removeprefix("IPY_MODEL_"), seen)
        if "image/png" in frame or (frame and not found):
            found = frame
    return found


_MODEL_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def _stable_widget_ids(nb, name: str):
    """Rename ipywidgets' random model ids to ids numbered in order of appearance.

    ipywidgets names each widget model with a fresh uuid4; saved as is, every
    run would change the notebook. Renaming them consistently everywhere (the
    outputs and the saved widget state, which refer to each other) keeps the
    saved notebook the same run after run.
    """
    text = json.dumps(nb)
    ids = []
    for found in _MODEL_ID.findall(json.dumps(nb.metadata.get("widgets", {}))):
        if found not in ids:
            ids.append(found)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view and view.get("model_id") not in ids:
                ids.append(view["model_id"])
    mapping = {old: f"{name[:12]}-{i:04d}".ljust(32, "0")[:32] for i, old in enumerate(ids)}
    text = _MODEL_ID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
    return nbformat.from_dict(json.loads(text))


def _has_widgets(nb) -> bool:
    return any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


def main(argv):
    only_finish = "--finish" in argv
    argv = [a for a in argv if a != "--finish"]
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").rglob("[0-9]*.ipynb"))
    for p in paths:
        if ".ipynb_checkpoints" in p.parts:
            continue
        if only_finish:
            nbformat.write(finish(nbformat.read(p, as_version=4)), p)
            print(f"{p}: finished")
            continue
        print(f"{p.relative_to(ROOT) if p.is_absolute() else p}: {run(p):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
