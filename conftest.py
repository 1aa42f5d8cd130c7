"""pytest settings for the whole repository.

The one documented place where notebook output comparison is relaxed: nbval
compares each cell's saved ``text/plain`` output exactly, but not ``text/html``,
because pandas renders the same DataFrame to different HTML between versions.
A DataFrame's plain-text repr is still compared, so a changed number fails.
Everything the simulator prints is deterministic; nothing else is relaxed.
"""


def pytest_collectstart(collector):
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb":
        collector.skip_compare += ("text/html",)
