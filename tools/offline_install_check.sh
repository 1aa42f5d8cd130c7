#!/usr/bin/env bash
# The teaching guide's offline install, end to end: an instructor builds a wheelhouse once (online),
# and a lab machine installs the student bundle from it with no index at all, then runs a notebook.
# Usage: bash tools/offline_install_check.sh   (from a clone with .venv set up; CI runs it;
#        PYTHON=... names another environment that has the course installed)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
py=${PYTHON:-$repo/.venv/bin/python}  # the clone's environment (CI: .venv)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$py" -m eda_sim.course release --notebooks 01 --out "$work/dist" >/dev/null
cd "$work/dist/student"

# Online, once: a wheel for everything the bundle's requirements.txt names, the course package
# included, and setuptools, which pip needs to build the course package from a bundle folder.
"$py" -m pip wheel -q -w "$work/wheelhouse" -r requirements.txt setuptools

echo "wheelhouse: $(ls "$work/wheelhouse" | wc -l) wheels, $(du -sh "$work/wheelhouse" | cut -f1)"

# Offline, on each lab machine: no index, only the wheelhouse.
python3 -m venv "$work/venv"
env -u PYTHONPATH "$work/venv/bin/pip" install -q --no-index --find-links "$work/wheelhouse" -r requirements.txt

# The notebook runs in the offline environment, and its check works.
env -u PYTHONPATH "$work/venv/bin/python" - <<'PY'
import nbformat
from nbclient import NotebookClient

nb = nbformat.read("notebooks/01_events.ipynb", as_version=4)
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
shown = "".join(
    o.get("text", "") + o.get("data", {}).get("text/plain", "")
    for c in nb.cells
    if c.cell_type == "code"
    for o in c.outputs
)
assert "Exercise 01" in shown, "the exercise check did not run"
print("offline install: notebook 01 ran from a wheelhouse install")
PY
