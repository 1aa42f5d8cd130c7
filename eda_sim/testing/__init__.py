"""Helpers for tests that need something from outside Python (a server, a browser).

Shipped in the package so the project's tests and a learner's own tests use
the same rule: without the tool, skip with the reason; on CI, where
``.ci/run`` installs it, fail instead, because a skip there would hide a
missing install step.
"""

from __future__ import annotations

import os


def need(what: str, reason: str) -> None:
    """Skip the calling test because ``what`` is missing (``reason`` says how to get it); fail when CI is set."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {what}: {reason}", pytrace=False)
    pytest.skip(f"{what}: {reason}")
