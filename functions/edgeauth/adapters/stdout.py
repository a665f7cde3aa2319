"""The audit line's way to stdout: one ``os.write`` to the stream's file descriptor per line.

In Lambda, the Python runtime (awslambdaric ``bootstrap.run``) replaces ``sys.stdout`` with its
``Unbuffered`` wrapper before it imports the handler: every ``sys.stdout.write`` is a Python call
that copies the text into the ``TextIOWrapper``, then a ``flush`` that copies it again into the
``BufferedWriter`` before the one ``write`` system call. Writing the encoded line to the descriptor
does the same system call without the two layers: 1–1.5 µs less per repeated token and 2–4 µs per
new one here, on that very wrapper (docs/benchmarks.md, "Lambda's stdout").

Order with everything else written to the stream (Powertools' log lines, ``print``) is kept: the
stream is flushed before each line, so text it still buffers goes out first (in Lambda there is
none; elsewhere, with a buffered ``sys.stdout``, there may be). A short write (a signal during a
write to a pipe) is completed by writing the rest. Lines from several threads may interleave
beyond ``PIPE_BUF`` (4 KB) as they may through the stream's own buffer: the handler is
single-threaded; the local gateway, which is not, writes through its own sink.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TextIO


def line_writer(stream: TextIO) -> Callable[[str], None]:
    """A function that writes each line it is given (without its newline), and a newline, to
    ``stream``'s file descriptor, in order with the stream's own writes; through ``stream.write``
    when the stream has no descriptor (a test's ``StringIO``, pytest's capture)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both

        def write_through(line: str) -> None:
            stream.write(line + "\n")

        return write_through
    flush = stream.flush
    encoding = getattr(stream, "encoding", None) or "utf-8"
    write = os.write

    def write_line(line: str) -> None:
        flush()
        data = (line + "\n").encode(encoding)
        written = write(fd, data)
        if written != len(data):
            _write_rest(fd, memoryview(data)[written:])

    return write_line


def _write_rest(fd: int, rest: memoryview) -> None:
    while rest:
        rest = rest[os.write(fd, rest) :]
