"""Every live cell of the course, driven in a real JupyterLab in a real (headless) Chromium.

JupyterLab from this venv serves a copy of ``notebooks/``; Playwright opens
each notebook that has live cells (``controls(...)`` or ``explore(...)``),
runs all its cells, and drives every live cell as a learner would:

* ``controls``: Step several times (the journal's row count rises at every
  Step and the picture changes with the readout), Play for a while (time moves,
  the output keeps one height: no flicker), and move every knob (the world is
  rebuilt: the readout goes back to 0 and a new picture shows);
* ``explore``: move every knob; the output is redrawn each time, and some
  knob changes what it shows.

Before running, each live cell must show its saved last frame (a picture, a
table or text, never ``VBox(...)``), as an untrusted notebook does.

No console errors are allowed. One JupyterLab server and one browser serve
the whole module; every wait is bounded. Click-to-new-picture times (from
the click to the new image's ``load`` event) are printed at the end, median
and 95th percentile, for controls with one view and with two, and kept in
``artifacts/browser/click_to_picture.txt``.

Debian's ``chromium`` is used through its executable path (never a browser
that Playwright downloads). Without it the test is skipped, except under CI
(the ``CI`` environment variable set), where ``.ci/run`` installs it and a
missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Bounded waits, in milliseconds (Playwright's unit) unless named _S.
SERVER_START_S = 60
KERNEL_IDLE_MS = 90_000
RUN_ALL_MS = 300_000
CLICK_EFFECT_MS = 30_000
PLAY_MS = 2_500

STEPS = 4
LIVE = re.compile(r"^(?:\w+\s*=\s*)?(controls|explore)\(", re.M)


def live_cells(path: Path) -> list:
    """(cell index, "controls" or "explore") for every cell of a notebook that displays a live control."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        m = LIVE.search(source)
        if m:
            found.append((i, m.group(1)))
    return found


LIVE_NOTEBOOKS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if live_cells(p))
TIMES: dict = {1: [], 2: []}


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


@pytest.fixture(scope="module")
def jupyterlab(chromium, tmp_path_factory):
    """A JupyterLab server on a free localhost port, no token, serving a temporary root; yields its URL."""
    tmp_path = tmp_path_factory.mktemp("jupyterlab")
    root = tmp_path / "root"
    root.mkdir()
    for name in LIVE_NOTEBOOKS:  # a copy: running cells in the browser must not touch the course
        shutil.copy(NOTEBOOKS / name, root / name)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # Fresh, isolated user settings and workspaces; the news popup and update check off.
    settings = tmp_path / "lab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # every cell in the DOM (no windowing), so a live cell can be found by its index
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
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
            "--ServerApp.disable_check_xsrf=True",  # the test ends sessions through the REST API
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


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def page(chromium, jupyterlab):
    """One headless browser page for the module; console errors are collected in ``page.errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1280, "height": 1000})
            pg.set_default_timeout(CLICK_EFFECT_MS)
            pg.errors = []
            pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
            pg.on("pageerror", lambda e: pg.errors.append(str(e)))
            pg.lab = jupyterlab
            yield pg
        finally:
            browser.close()
    if any(TIMES.values()):
        report = click_report()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "click_to_picture.txt").write_text(report + "\n")
        # shown in the terminal summary by tests/conftest.py (a pytest-xdist worker cannot print)


def click_report() -> str:
    lines = ["click to new picture in JupyterLab (ms, from the click to the new image's load):"]
    for views, times in sorted(TIMES.items()):
        if times:
            ordered = sorted(times)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            lines.append(
                f"  {views} view{'s' if views > 1 else ''}: median {statistics.median(times):.0f}, "
                f"p95 {p95:.0f} ({len(times)} clicks)"
            )
    return "\n".join(lines)


# JavaScript run in the page: a digest of an image's bytes (blob URLs change on every update even
# when the picture does not), and a click timed to the next 'load' of the image.
DIGEST_JS = """async img => {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const hash = await crypto.subtle.digest('SHA-1', bytes);
    return Array.from(new Uint8Array(hash)).map(b => b.toString(16).padStart(2, '0')).join('');
}"""
TIMED_CLICK_JS = """([button, img]) => {
    window.__edaLoaded = null;
    img.addEventListener('load', () => { window.__edaLoaded = performance.now(); }, {once: true});
    window.__edaClicked = performance.now();
    button.click();
}"""
HEIGHTS_JS = """([box, ms]) => new Promise(done => {
    const seen = [];
    const end = performance.now() + ms;
    const sample = () => {
        seen.push(box.getBoundingClientRect().height);
        if (performance.now() < end) requestAnimationFrame(sample); else done(seen);
    };
    sample();
})"""


def _open_and_run_all(page, name: str):
    from playwright.sync_api import expect

    page.goto(f"{page.lab}/lab/tree/{name}?reset", timeout=KERNEL_IDLE_MS)
    statusbar = page.locator("#jp-main-statusbar")
    # the status bar's kernel item is the signal to wait for: the toolbar says idle too early
    expect(statusbar.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(
        timeout=KERNEL_IDLE_MS
    )
    panel = page.locator(".jp-NotebookPanel:visible")
    # before anything runs (an untrusted notebook, as first opened) each live cell shows its saved
    # last frame: a picture, a table or text, never the widget's repr
    cells = panel.locator(".jp-Notebook .jp-Cell")
    for index, kind in live_cells(NOTEBOOKS / name):
        shown = cells.nth(index).locator(".jp-OutputArea-output")
        expect(shown.first).to_be_attached(timeout=CLICK_EFFECT_MS)
        text = shown.first.inner_text()
        assert shown.locator("img").count() or (text.strip() and not text.startswith("VBox(")), (
            f"{name} cell {index} ({kind}) shows {text[:80]!r} before it runs"
        )
    page.locator("#jp-MainMenu").get_by_text("Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # done when every code cell has an execution count and none is waiting ([*])
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=RUN_ALL_MS,
        polling=500,
    )
    errors = panel.locator('.jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')
    assert errors.count() == 0, f"{name}: a cell raised:\n{errors.first.inner_text()[:2000]}"
    return panel


def _readout(box):
    text = box.locator(".widget-html-content", has_text="journal rows").inner_text()
    m = re.match(r"t = ([\d.,]+) s · ([\d,]+) journal rows", text)
    assert m, text
    return float(m.group(1).replace(",", "")), int(m.group(2).replace(",", "")), text


def _digest(page, img) -> str:
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    return img.evaluate(DIGEST_JS)


def _timed_click(page, button, img, views: int | None = None, where: str = "", box=None):
    """Click ``button``; wait for the readout to change and ``img`` to load a new picture.

    Returns the milliseconds from the click to the new picture's ``load``. The
    kernel sends the picture before the readout, so once the readout has
    changed a new picture is at most a moment away; none means the click left
    the picture as it was (an unchanged value is not sent at all).
    """
    from playwright.sync_api import TimeoutError as Timeout

    readout = (box or img.locator("xpath=ancestor::*[contains(@class,'eda-controls')][1]")).locator(
        ".widget-html-content", has_text="journal rows"
    )
    text = readout.inner_text()
    page.evaluate(TIMED_CLICK_JS, [button.element_handle(), img.element_handle()])
    try:
        page.wait_for_function(
            "([el, text]) => el.textContent !== text",
            arg=[readout.element_handle(), text],
            timeout=CLICK_EFFECT_MS,
        )
    except Timeout:
        raise AssertionError(
            f"{where}: the click changed nothing: the readout stayed {text!r}"
        ) from None
    try:
        page.wait_for_function("() => window.__edaLoaded !== null", timeout=5_000)
    except Timeout:
        raise AssertionError(
            f"{where}: the click left the picture as it was ({text!r} -> {readout.inner_text()!r})"
        ) from None
    ms = page.evaluate("() => window.__edaLoaded - window.__edaClicked")
    if views in TIMES:
        TIMES[views].append(ms)
    return ms


def _knobs(box):
    """(kind, locator) for each knob of a live cell (not the Play speed slider)."""
    found = []
    for slider in box.locator(".widget-slider").all():
        if "ms/tick" not in slider.locator(".widget-label").inner_text():
            found.append(("slider", slider))
    found += [("checkbox", c) for c in box.locator(".widget-checkbox").all()]
    found += [("dropdown", d) for d in box.locator(".widget-dropdown").all()]
    return found


def _move(page, kind: str, knob) -> str:
    """Move one knob as a learner would; returns its description for messages."""
    label = knob.locator(".widget-label").first.inner_text() if kind != "checkbox" else ""
    if kind == "slider":
        handle = knob.locator(".noUi-handle").first
        now = float(handle.get_attribute("aria-valuenow"))
        top = float(handle.get_attribute("aria-valuemax"))
        handle.focus()
        page.keyboard.press("ArrowLeft" if now >= top else "ArrowRight")
    elif kind == "checkbox":
        label = knob.inner_text()
        knob.locator("input").click()
    else:
        select = knob.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        select.select_option(label=next(o for o in options if o != current))
    return f"{kind} {label.strip()!r}"


def _drive_controls(page, box, where: str):
    from playwright.sync_api import expect

    img = box.locator("img.eda-picture")
    expect(img).to_have_count(1)
    classes = img.get_attribute("class")
    views = int(re.search(r"eda-views-(\d+)", classes).group(1))
    step = box.locator("button", has_text="Step")
    t0, rows0, _ = _readout(box)
    pictures = [_digest(page, img)]
    rows = rows0
    for k in range(STEPS):
        _timed_click(page, step, img, views, where, box)
        t, now_rows, text = _readout(box)
        assert now_rows > rows, (
            f"{where}: Step {k + 1} wrote no journal rows ({text}): the world makes no traffic"
        )
        rows = now_rows
        pictures.append(_digest(page, img))
        assert img.count() == 1
    assert len(set(pictures)) > 1, f"{where}: {STEPS} Steps left the picture as it was"
    assert pictures[-1] != pictures[0], f"{where}: the picture after {STEPS} Steps is the first one"

    # Play: time moves, the picture changes, the output keeps one height
    play = box.locator(".widget-play button:has(.fa-play)")
    before_t, before = _readout(box)[0], pictures[-1]
    play.click()
    heights = page.evaluate(HEIGHTS_JS, [box.element_handle(), PLAY_MS])
    box.locator(".widget-play button:has(.fa-pause)").click()
    page.wait_for_timeout(300)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    after_t = _readout(box)[0]
    assert after_t > before_t, f"{where}: Play did not move the clock ({before_t} -> {after_t})"
    assert _digest(page, img) != before, f"{where}: Play did not change the picture"
    assert max(heights) - min(heights) <= 2, (
        f"{where}: the output's height changed during Play: {min(heights):.0f} to {max(heights):.0f} px"
    )

    # every knob rebuilds the world: the clock goes back to the start and a new picture shows
    for kind, knob in _knobs(box):
        _timed_click(
            page, step, img, None, where, box
        )  # so that a rebuilt world's clock is behind this one's
        shown, t_before = _digest(page, img), _readout(box)[0]
        readout = box.locator(".widget-html-content", has_text="journal rows")
        text = readout.inner_text()
        what = _move(page, kind, knob)
        page.wait_for_function(  # the readout is set last, after the picture
            "([el, text]) => el.textContent !== text", arg=[readout.element_handle(), text]
        )
        t_after = _readout(box)[0]
        assert t_after < t_before, f"{where}: moving {what} did not rebuild the world"
        _timed_click(page, step, img, None, where, box)
        assert _digest(page, img) != shown, f"{where}: moving {what} left the picture as it was"


def _explore_state(box) -> str:
    out = box.locator(".widget-output")
    imgs = out.locator("img").all()
    return out.inner_text() + "|".join((i.get_attribute("src") or "")[-200:] for i in imgs)


WATCH_JS = """box => {
    const out = box.querySelector('.widget-output');
    window.__edaRedrawn = false;
    if (window.__edaWatch) window.__edaWatch.disconnect();
    window.__edaWatch = new MutationObserver(() => { window.__edaRedrawn = true; });
    window.__edaWatch.observe(out, {childList: true, subtree: true, characterData: true});
}"""


def _drive_explore(page, box, where: str):
    """Every knob re-runs the function (the output is redrawn); at least one changes what it shows."""
    first, changed = _explore_state(box), []
    for kind, knob in _knobs(box):
        before = _explore_state(box)
        box.evaluate(WATCH_JS)
        what = _move(page, kind, knob)
        try:
            page.wait_for_function("() => window.__edaRedrawn", timeout=CLICK_EFFECT_MS)
            page.wait_for_timeout(200)  # let the output settle (cleared, then drawn)
            page.wait_for_function(
                "box => box.querySelector('.widget-output').innerText.trim() !== ''"
                " || box.querySelector('.widget-output img')",
                arg=box.element_handle(),
                timeout=CLICK_EFFECT_MS,
            )
        except Exception as err:  # noqa: BLE001 - said as what the learner sees
            raise AssertionError(f"{where}: moving {what} did not redraw the output") from err
        if _explore_state(box) != before:
            changed.append(what)
    assert changed or not _knobs(box), f"{where}: no knob changed what the cell shows"
    assert _explore_state(box) != first, f"{where}: after every knob moved, the output is the first"


@pytest.mark.parametrize("name", LIVE_NOTEBOOKS)
def test_every_live_cell_works_as_a_learner_drives_it(page, name):
    errors_before = len(page.errors)
    panel = _open_and_run_all(page, name)
    cells = panel.locator(".jp-Notebook .jp-Cell")
    for index, kind in live_cells(NOTEBOOKS / name):
        where = f"{name} cell {index} ({kind})"
        cell = cells.nth(index)
        cell.scroll_into_view_if_needed()
        box = cell.locator(f".eda-{kind}").first
        box.wait_for(timeout=CLICK_EFFECT_MS)
        if kind == "controls":
            _drive_controls(page, box, where)
        else:
            _drive_explore(page, box, where)
    page.screenshot(path=str(ARTIFACTS / f"{Path(name).stem}.png"), full_page=False)
    new = page.errors[errors_before:]
    assert not new, f"{name}: console errors:\n" + "\n".join(new[:10])
    _shut_down_sessions(page.lab)  # the next notebook has the machine to itself


def _shut_down_sessions(url: str) -> None:
    """End every session and its kernel through the server's REST API (bounded waits)."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as response:
        sessions = json.loads(response.read())
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()
