"""Keep the run's peak memory down where the C library would hold on to freed buffers.

Each mapping request in flight holds its body (~1.2 MB of JSON, built as a str and encoded
to bytes) on one of the sending threads. glibc's malloc serves blocks that large with mmap
and hands them back to the system when freed, but it raises that threshold to the size of
each mmapped block freed (its "dynamic mmap threshold"), after which the next bodies come from
the threads' heaps, whose freed space it keeps. Setting the threshold fixes it, at its default
of 128 KiB. Measured on the 1M bench first sync at 300 ms (20 in flight): peak RSS 465-473 MB
to 428-433 MB (bench/README.md, "Share of the quota"). Polars, PyArrow and DuckDB allocate with
their own allocators and are not affected.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # glibc's default, no longer raised by what is freed


def return_large_blocks_when_freed() -> bool:
    """On Linux with glibc, fix malloc's mmap threshold; elsewhere do nothing. True if set."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
