"""An append-only sequence of tuples that costs the garbage collector next to nothing until it is read.

A long simulation keeps a row per thing that happened: journal rows, spans,
inbox entries, a million of each in the benchmark. In a plain list, every full
collection of CPython's cyclic garbage collector walks every element, and
collections come more often the more objects a program allocates; the
service benchmark spent a fifth of its time there. :class:`AppendLog` fills a
short list and, when it is full, freezes it into a tuple. The collector stops
tracking a tuple of plain tuples of strings and numbers, so a full collection
walks one reference per chunk instead of one per row.

With ``row_type`` (a NamedTuple class) rows are handed out as that type. A
frozen chunk is converted once, the first time one of its rows is read, and
kept converted: a log that is read again and again (the views redraw from the
journal on every Step) pays for the conversion once, and costs the collector
what a list of NamedTuples would (the collector never untracks those); a log
only written (a benchmark, a long unattended run) stays cheap.

Example::

    log = AppendLog()
    log.append((0.5, "handled", "evt-000001"))
    len(log), log[0], log[-1], list(log)
"""

from __future__ import annotations

from collections.abc import Sequence

#: Rows per frozen chunk.
CHUNK = 1024

_new = tuple.__new__


class AppendLog(Sequence):
    """An append-only sequence of tuples, stored in frozen chunks of :data:`CHUNK` rows."""

    __slots__ = ("_chunks", "_tail", "_type", "_typed")

    def __init__(self, rows=(), row_type: type | None = None):
        self._chunks: list[tuple] = []
        self._tail: list = []
        self._type = row_type
        self._typed = 0  # frozen chunks already converted to row_type
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

    def _chunk(self, c: int) -> tuple:
        """Frozen chunk ``c``, converted to ``row_type`` (with every chunk before it) if it was not yet."""
        cls = self._type
        if cls is not None and c >= self._typed:
            chunks = self._chunks
            for i in range(self._typed, c + 1):
                chunks[i] = tuple([_new(cls, r) for r in chunks[i]])
            self._typed = c + 1
        return self._chunks[c]

    def _out(self, row: tuple):
        return row if self._type is None else _new(self._type, row)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} rows")
        chunk, at = divmod(index, CHUNK)
        return self._chunk(chunk)[at] if chunk < len(self._chunks) else self._out(self._tail[at])

    def __iter__(self):
        # Rows appended while iterating are seen, as with a list, also when the tail is frozen meanwhile.
        chunks = self._chunks
        c = j = 0
        while True:
            if c < len(chunks):
                chunk = self._chunk(c)
                yield from chunk[j:] if j else chunk
                c += 1
                j = 0
                continue
            tail = self._tail
            if j >= len(tail):
                return
            yield self._out(tail[j])
            j += 1

    def since(self, start: int) -> list:
        """The rows from position ``start`` on, as a list."""
        n = len(self)
        start = max(start, 0)
        if start >= n:
            return []
        first, at = divmod(start, CHUNK)
        out: list = []
        for c in range(first, len(self._chunks)):
            chunk = self._chunk(c)
            out.extend(chunk[at:] if c == first else chunk)
        tail = self._tail
        skip = at if first == len(self._chunks) else 0
        if self._type is None:
            out.extend(tail[skip:])
        else:
            cls = self._type
            out.extend([_new(cls, r) for r in tail[skip:]])
        return out

    def __repr__(self) -> str:
        return f"AppendLog({list(self)!r})"
