"""Customer files (docs/tiktok-api.md §3.1) built from the checked column, and their multipart body.

A file is header-less, one lower-case hex hash per line, every line ending in "\\n". At 50 MB per
file the copies count: `file_content` writes the file once, straight from the Arrow
buffers of the Polars column, and `FormData` sends it inside a multipart/form-data body without
copying it again.
"""

from __future__ import annotations

import os
import sys
from array import array
from collections.abc import Iterator, Mapping
from typing import NamedTuple, cast

import polars as pl
import pyarrow as pa
from urllib3.fields import RequestField

_VIEW_INTS = 4  # an Arrow string view: int32 length, 4-byte prefix, int32 buffer, int32 offset
MAX_RUNS = 1024  # more pieces than this: build the file the simple way


class _Run(NamedTuple):
    """`rows` values stored back to back in `data` from `start`, each `length` bytes."""

    row: int
    rows: int
    data: memoryview
    start: int


def file_content(hashes: pl.Series, length: int) -> memoryview:
    """The file of `hashes`, each `length` characters: checked (`check_hashes`) beforehand.

    One allocation of the file's size. When every value lies back to back in the column's
    Arrow data buffers (how a column read from the warehouse is laid out) the hashes are copied
    from there, `length` strided copies per piece; any other layout takes the simple path, a
    joined string encoded, which holds the file about three times over for a moment.
    """
    runs = _runs(hashes, length)
    if runs is None:
        joined: str = hashes.str.join("\n").item() if len(hashes) else ""
        return memoryview((joined + "\n").encode("ascii") if joined else b"")
    line = length + 1
    view = memoryview(bytearray(len(hashes) * line))
    view[length::line] = b"\n" * len(hashes)
    for run in runs:
        source = run.data[run.start : run.start + run.rows * length]
        target = view[run.row * line : (run.row + run.rows) * line]
        for column in range(length):
            target[column::line] = source[column::length]
    return view


def _runs(hashes: pl.Series, length: int) -> list[_Run] | None:
    """The column as pieces of consecutive values in its data buffers; None for another layout."""
    if sys.byteorder != "little" or hashes.null_count() or length <= 12:  # 12: stored inline
        return None
    runs: list[_Run] = []
    row = 0
    for chunk in hashes.get_chunks():
        column = chunk.to_arrow(compat_level=pl.CompatLevel.newest())
        if column.type != pa.string_view() or column.null_count:
            return None
        buffers = column.buffers()
        views = memoryview(buffers[1]).cast("B").cast("i")
        data = [memoryview(b).cast("B") for b in buffers[2:] if b is not None]
        first, count = column.offset, len(column)
        done = 0
        while done < count:
            at = _VIEW_INTS * (first + done)
            size, index, start = views[at], views[at + 2], views[at + 3]
            if size != length or not 0 <= index < len(data) or start < 0:
                return None
            fits = min(count - done, (len(data[index]) - start) // length)
            if fits < 1:
                return None
            rows = _longest_run(views, first + done, fits, index, start, length)
            runs.append(_Run(row + done, rows, data[index], start))
            if len(runs) > MAX_RUNS:
                return None
            done += rows
        row += count
    return runs


def _longest_run(
    views: memoryview, first: int, most: int, index: int, start: int, length: int
) -> int:
    """How many views from `first` (1 to `most`) point back to back into buffer `index`."""
    if _back_to_back(views, first, most, index, start, length):
        return most
    good, bad = 1, 2  # gallop, then halve: the cost follows the run's length, not the column's
    while bad < most and _back_to_back(views, first, bad, index, start, length):
        good, bad = bad, bad * 2
    bad = min(bad, most)
    while bad - good > 1:
        middle = (good + bad) // 2
        if _back_to_back(views, first, middle, index, start, length):
            good = middle
        else:
            bad = middle
    return good


def _back_to_back(
    views: memoryview, first: int, rows: int, index: int, start: int, length: int
) -> bool:
    at, stop = _VIEW_INTS * first, _VIEW_INTS * (first + rows)
    return (
        views[at:stop:_VIEW_INTS] == array("i", [length]) * rows
        and views[at + 2 : stop : _VIEW_INTS] == array("i", [index]) * rows
        and views[at + 3 : stop : _VIEW_INTS]
        == array("i", range(start, start + rows * length, length))
    )


class FormData:
    """A multipart/form-data body of text fields and then one file, sent without copying the file.

    Byte for byte what requests sends for `data=fields, files={name: (file_name, content,
    content_type)}` (the part headers are urllib3's, which requests uses), but iterated as three
    pieces, the file being the caller's buffer itself. It has a length, so requests sends a
    Content-Length rather than chunks, and it can be iterated again for a retry.
    """

    def __init__(
        self,
        fields: Mapping[str, str],
        name: str,
        file_name: str,
        content: bytes | bytearray | memoryview,
        content_type: str,
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or os.urandom(16).hex()  # as urllib3's choose_boundary()
        head = bytearray()
        for field, value in fields.items():
            head += self._part(RequestField(field, value), None) + value.encode() + b"\r\n"
        head += self._part(RequestField(name, b"", filename=file_name), content_type)
        self._pieces = (
            bytes(head),
            memoryview(content).cast("B"),
            f"\r\n--{self.boundary}--\r\n".encode("latin-1"),
        )

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _part(self, field: RequestField, content_type: str | None) -> bytes:
        field.make_multipart(content_type=content_type)
        return f"--{self.boundary}\r\n".encode("latin-1") + field.render_headers().encode()

    def __len__(self) -> int:
        return sum(len(piece) for piece in self._pieces)  # the file is a view of bytes: len = size

    def __iter__(self) -> Iterator[bytes]:
        # The file piece is a memoryview, which the socket's sendall() takes as it takes bytes.
        return cast(Iterator[bytes], iter(self._pieces))
