"""Live controls in a real JupyterLab, in a real (headless) Chromium driven by Playwright.

One focused end-to-end check: JupyterLab from this venv serves a small
notebook with ``controls``; the browser runs all cells, clicks Step several
times, and the virtual-time readout and the flow diagram's image change.
A screenshot is kept as ``artifacts/browser/jupyterlab_controls.png``.

Debian's ``chromium`` is used through its executable path (never a browser
that Playwright downloads). Without it the test is skipped, except under CI
(the ``CI`` environment variable set), where ``.ci/run`` installs it and a
missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "artifacts" / "browser" / "jupyterlab_controls.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Bounded waits, in milliseconds (Playwright's unit).
SERVER_START_S = 60
KERNEL_IDLE_MS = 60_000
CLICK_EFFECT_MS = 20_000

STEPS = 5

FIXTURE_CELLS = [
    # A small world: a feed into a 3-partition topic, read by a 2-member group.
    "from eda_sim import Simulation\n"
    "from eda_sim.views.widgets import controls\n"
    "from eda_sim.services.load import Feed\n"
    "\n"
    "def build():\n"
    "    sim = Simulation(seed=3, name='browser-check')\n"
    "    sim.create_topic('orders', partitions=3)\n"
    "    Feed(sim, 'orders', ((f'customer-{i % 12}', f'order-{i}') for i in range(300)), rate=50)\n"
    "    for n in (1, 2):\n"
    "        sim.member('billing', ['orders'], name=f'billing-{n}', processing_time=0.02,\n"
    "                   config={'auto.offset.reset': 'earliest'})\n"
    "    return sim\n",
    "controls(build, ['flow'])\n",
]


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _missing(reason: str):
    """Skip on a developer machine without the browser; fail loudly under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: .ci/run must install it)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook() -> dict:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(FIXTURE_CELLS)
    ]
    return {
        "cells": cells,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
    }


@pytest.fixture
def chromium():
    """The system Chromium's path, once Playwright's Python package is known to import."""
    path = _chromium()
    if path is None:
        _missing("Debian's chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing(
            "the playwright Python package is not installed (pip install -r requirements-test.txt)"
        )
    return path


@pytest.fixture
def jupyterlab(chromium, tmp_path):
    """A JupyterLab server on a free localhost port, no token, serving a temporary root; yields its URL."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "controls.ipynb").write_text(json.dumps(_notebook(), indent=1))

    # Fresh, isolated user settings and workspaces; the news popup and update check off.
    settings = tmp_path / "lab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Isolated from the user's Jupyter config and data (a user kernelspec named python3 could point at
    # another Python); the venv's own kernel and widget extension come from sys.prefix.
    env = {
        k: v for k, v in os.environ.items() if k != "MPLBACKEND"
    }  # the kernel needs its inline backend
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )

    port = _free_port()
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                raise AssertionError(
                    f"JupyterLab exited with {server.returncode}:\n"
                    + (tmp_path / "jupyterlab.log").read_text()[-3000:]
                )
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"JupyterLab did not answer on {url} within {SERVER_START_S} s:\n"
                    + (tmp_path / "jupyterlab.log").read_text()[-3000:]
                )
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()  # SIGTERM: the server shuts its kernels down and exits
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()


def test_step_button_advances_the_readout_and_redraws_the_diagram_in_jupyterlab(
    chromium, jupyterlab
):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(CLICK_EFFECT_MS)
            page.goto(f"{jupyterlab}/lab/tree/controls.ipynb?reset", timeout=KERNEL_IDLE_MS)

            # The notebook is open and its kernel has started and gone idle. The status bar's
            # kernel item is the signal to wait for (as Galata does): the toolbar's execution
            # indicator says "idle" while the kernel is still initializing, and Run All Cells
            # then does nothing.
            statusbar = page.locator("#jp-main-statusbar")
            expect(statusbar.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(
                timeout=KERNEL_IDLE_MS
            )

            page.locator("#jp-MainMenu").get_by_text("Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            # The controls appear once the kernel has imported, built and drawn the world.
            panel = page.locator(".jp-NotebookPanel")
            step = panel.locator(".jupyter-widgets button", has_text="Step")
            readout = panel.locator(".widget-html-content", has_text="journal rows")
            diagram = panel.locator(".widget-output .jp-RenderedImage img")
            expect(step).to_be_visible(timeout=KERNEL_IDLE_MS)
            expect(readout).to_have_text("t = 0.000 s · 1 journal rows", timeout=KERNEL_IDLE_MS)
            expect(diagram).to_have_count(1, timeout=KERNEL_IDLE_MS)
            first_text, first_src = readout.inner_text(), diagram.get_attribute("src")
            assert first_src.startswith("data:image/png;base64,")

            # Each click goes to the kernel and back: the readout changes first, then the Output
            # widget replaces its image (even when a step leaves the picture's bytes the same).
            # Mark the shown image stale before a click and wait for a fresh one, so the click's
            # work is finished before the next click, the final checks and the screenshot.
            fresh = panel.locator(".widget-output .jp-RenderedImage img:not([data-stale])")
            text, srcs = first_text, [first_src]
            for _ in range(STEPS):
                fresh.evaluate("img => img.setAttribute('data-stale', '')")
                step.click()
                expect(readout).not_to_have_text(text, timeout=CLICK_EFFECT_MS)
                expect(fresh).to_have_count(1, timeout=CLICK_EFFECT_MS)
                text, srcs = readout.inner_text(), srcs + [fresh.get_attribute("src")]
            expect(diagram).to_have_count(1)
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=fresh.element_handle()
            )

            rows = int(text.split("·")[1].split()[0].replace(",", ""))
            assert text.startswith("t = ") and rows > 1, text
            assert srcs[-1] != first_src and srcs[-1].startswith("data:image/png;base64,")

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
