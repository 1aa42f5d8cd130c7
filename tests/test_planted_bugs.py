"""The planted-bug list of tools/planted_bugs.py still applies to the tree (the run itself is slow)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    if "planted_bugs" not in sys.modules:
        path = ROOT / "tools" / "planted_bugs.py"
        spec = importlib.util.spec_from_file_location("planted_bugs", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["planted_bugs"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["planted_bugs"]


def test_every_planted_bug_finds_its_line_exactly_once():
    tool = _tool()
    assert len(tool.BUGS) >= 30
    assert tool.problems() == []


def test_a_planted_bug_changes_one_line_and_keeps_its_indentation():
    tool = _tool()
    text = "def f(x):\n    if x > 1:\n        return x\n"
    bug = tool.Bug("T", "f.py", "if x > 1:", "if x >= 1:", ("tests",), "threshold")
    assert tool.mutate(text, bug) == "def f(x):\n    if x >= 1:\n        return x\n"
    assert tool.problems(ROOT / "no-such-tree")  # a tree without the files is reported, not passed
