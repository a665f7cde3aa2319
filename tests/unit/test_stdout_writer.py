"""edgeauth.adapters.stdout.line_writer: whole lines, each with its newline, on the stream's
descriptor, in order with the stream's own writes.

The stream is a real pipe, as stdout is in Lambda, wrapped as the Lambda runtime wraps it
(awslambdaric's ``Unbuffered``) or left buffered, as ``sys.stdout`` is elsewhere.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import pytest
from awslambdaric.bootstrap import Unbuffered

from edgeauth.adapters import stdout
from edgeauth.adapters.stdout import line_writer


@contextmanager
def pipe_stream(wrap: bool) -> Iterator[tuple[TextIO, list[bytes]]]:
    """A text stream on the write end of a pipe, and what its read end received once closed."""
    r, w = os.pipe()
    received: list[bytes] = []

    def drain() -> None:
        with open(r, "rb") as f:
            received.append(f.read())

    reader = threading.Thread(target=drain)
    reader.start()
    raw = open(w, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    stream: Any = Unbuffered(raw) if wrap else raw
    try:
        yield stream, received
    finally:
        raw.close()
        reader.join(timeout=10)


@pytest.mark.parametrize("wrap", [True, False], ids=["lambda-unbuffered", "buffered"])
def test_lines_arrive_whole_and_in_order_with_the_streams_own_writes(wrap: bool) -> None:
    with pipe_stream(wrap) as (stream, received):
        write_line = line_writer(stream)
        stream.write("before\n")  # buffered in the TextIOWrapper unless wrapped
        write_line('{"event":"decision","n":1}')
        print("between", file=stream)
        write_line('{"event":"decision","n":2,"sub":"é"}')
        stream.write("after\n")
    assert received[0].decode("utf-8") == (
        'before\n{"event":"decision","n":1}\nbetween\n{"event":"decision","n":2,"sub":"é"}\nafter\n'
    )


def test_a_short_write_is_completed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.write
    calls: list[int] = []

    def short(fd: int, data: Any) -> int:
        calls.append(len(data))
        return real(fd, bytes(data)[:7])

    monkeypatch.setattr(stdout.os, "write", short)
    line = '{"event":"decision","reason":"allowed"}'
    with pipe_stream(True) as (stream, received):
        write_line = line_writer(stream)
        write_line(line)
        write_line("second")
    assert received[0].decode() == line + "\nsecond\n"
    assert len(calls) > 2  # the line really was written in pieces


def test_a_stream_without_a_descriptor_is_written_as_usual() -> None:
    stream = io.StringIO()
    write_line = line_writer(stream)
    stream.write("a\n")
    write_line("b")
    assert stream.getvalue() == "a\nb\n"
