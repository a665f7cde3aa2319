"""Ship log lines to CloudWatch Logs (the moto server) in batches, off the request path.

The Lambda service and API Gateway deliver log lines asynchronously too: a request never waits
for its log line. Lines are queued and a background thread writes them with ``put_log_events``,
one call per log stream per flush (every ``interval`` seconds, or at once on :meth:`flush`).
Log streams are created on first use. Subscription filters of the groups then forward the lines
to Kinesis inside the moto server.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from typing import Any

MAX_BATCH = 1000


class LogShipper:
    def __init__(self, client: Any, *, interval: float = 0.2) -> None:
        self._client = client
        self._interval = interval
        self._queue: queue.Queue[tuple[str, str, str, int] | None] = queue.Queue()
        self._streams: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="edgeauth-log-shipper", daemon=True)
        self._errors = 0
        self.shipped = 0

    def start(self) -> None:
        self._thread.start()

    def put(self, group: str, stream: str, message: str, timestamp_ms: int | None = None) -> None:
        """Queue one log event (a line without its trailing newline)."""
        ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        with self._idle:
            self._pending += 1
        self._queue.put((group, stream, message.rstrip("\n"), ts))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued line is written (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def stop(self) -> None:
        self.flush(timeout=2.0)
        self._stop.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            batch: list[tuple[str, str, str, int]] = []
            try:
                item = self._queue.get(timeout=self._interval)
            except queue.Empty:
                continue
            if item is None:
                break
            batch.append(item)
            time.sleep(min(self._interval, 0.05))  # let a burst accumulate into one call
            while len(batch) < 10 * MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._stop.set()
                    break
                batch.append(more)
            self._write(batch)
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()

    def _write(self, batch: list[tuple[str, str, str, int]]) -> None:
        by_stream: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for group, stream, message, ts in batch:
            by_stream.setdefault((group, stream), []).append({"timestamp": ts, "message": message})
        for (group, stream), events in by_stream.items():
            events.sort(key=lambda e: int(e["timestamp"]))
            try:
                if (group, stream) not in self._streams:
                    with contextlib.suppress(self._client.exceptions.ResourceAlreadyExistsException):
                        self._client.create_log_stream(logGroupName=group, logStreamName=stream)
                    self._streams.add((group, stream))
                for i in range(0, len(events), MAX_BATCH):
                    self._client.put_log_events(
                        logGroupName=group, logStreamName=stream, logEvents=events[i : i + MAX_BATCH]
                    )
                    self.shipped += len(events[i : i + MAX_BATCH])
            except Exception as e:  # a log failure must never stop the gateway
                self._errors += 1
                if self._errors <= 3:
                    print(f"edgeauth-local: cannot write logs to {group}: {e}", file=sys.__stderr__)
