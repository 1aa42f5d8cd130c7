"""An append-only sequence of tuples that costs the garbage collector next to nothing.

A long simulation keeps a row per thing that happened: journal rows, spans,
inbox entries, a million of each in the benchmark. In a plain list, every full
collection of CPython's cyclic garbage collector walks every element, and
collections come more often the more objects a program allocates; the
service benchmark spent a fifth of its time there. :class:`AppendLog` fills a
short list and, when it is full, freezes it into a tuple. A tuple of plain
tuples of strings and numbers is untracked by the collector, so a full
collection walks one reference per chunk instead of one per row.

Example::

    log = AppendLog()
    log.append((0.5, "handled", "evt-000001"))
    len(log), log[0], log[-1], list(log)
"""

from __future__ import annotations

from collections.abc import Sequence

#: Rows per frozen chunk.
CHUNK = 1024


class AppendLog(Sequence):
    """An append-only sequence of tuples, stored in frozen chunks of :data:`CHUNK` rows."""

    __slots__ = ("_chunks", "_tail")

    def __init__(self, rows=()):
        self._chunks: list[tuple] = []
        self._tail: list = []
        for row in rows:
            self.append(row)

    def append(self, row: tuple) -> None:
        """Add one row at the end."""
        tail = self._tail
        tail.append(row)
        if len(tail) == CHUNK:
            self._chunks.append(tuple(tail))
            self._tail = []

    def __len__(self) -> int:
        return len(self._chunks) * CHUNK + len(self._tail)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} rows")
        chunk, at = divmod(index, CHUNK)
        return self._chunks[chunk][at] if chunk < len(self._chunks) else self._tail[at]

    def __iter__(self):
        # Rows appended while iterating are seen, as with a list, also when the tail is frozen meanwhile.
        chunks = self._chunks
        c = j = 0
        while True:
            if c < len(chunks):
                chunk = chunks[c]
                yield from chunk[j:] if j else chunk
                c += 1
                j = 0
                continue
            tail = self._tail
            if j >= len(tail):
                return
            yield tail[j]
            j += 1

    def since(self, start: int) -> list:
        """The rows from position ``start`` on, as a list."""
        n = len(self)
        if start <= 0:
            return list(self)
        if start >= n:
            return []
        chunk, at = divmod(start, CHUNK)
        out = list(self._chunks[chunk][at:]) if chunk < len(self._chunks) else list(self._tail[at:])
        for c in self._chunks[chunk + 1:]:
            out.extend(c)
        if chunk < len(self._chunks):
            out.extend(self._tail)
        return out

    def __repr__(self) -> str:
        return f"AppendLog({list(self)!r})"
