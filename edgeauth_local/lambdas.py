"""Run the Lambda handlers in-process, with the environment the template gives them.

No Docker here, so moto cannot run Lambda code: the local stack imports each handler and calls it.
What a Lambda container would provide is reproduced:

* the function's environment from the template (plus local credentials and the moto endpoint in
  ``EDGEAUTH_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL``), set in ``os.environ`` for the duration of
  an invocation; invocations of such functions are serialised by one lock, since ``os.environ``
  is process-wide (the pollers call them one batch at a time anyway);
* a context object (``function_name``, ``aws_request_id``, ``get_remaining_time_in_millis`` …);
* stdout: what the handler prints during an invocation goes to the function's log group, with the
  platform's ``START``/``END``/``REPORT`` lines, as in Lambda. ``sys.stdout`` is replaced once by a
  stream that routes each thread's writes (so a Powertools logger created at import writes to the
  right place), and passes other threads' writes through;
* a cold start per runtime: the handler's package is imported afresh, so module-level state (clients
  built for another stack's moto server in the same process) never leaks from one stack to the next;
* the timeout: an invocation that runs longer than the function's ``Timeout`` raises
  :class:`LambdaTimeoutError` (the thread is left to finish, as Python cannot kill it).

The authorizer is built with :func:`edgeauth.bootstrap.build_authorizer` from the same environment
instead of importing its handler module (which reads ``os.environ`` at import): that lets it run
on many threads at once, like many warm containers, without touching ``os.environ``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TextIO

from edgeauth_local.template import ACCOUNT, REGION, REPO_ROOT, FunctionSpec

FUNCTIONS_DIR = REPO_ROOT / "functions"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


class LambdaError(Exception):
    """The handler raised. ``error_message`` is what Lambda reports as ``errorMessage``."""

    def __init__(self, error_type: str, error_message: str) -> None:
        super().__init__(error_message)
        self.error_type = error_type
        self.error_message = error_message


class LambdaTimeoutError(LambdaError):
    def __init__(self, seconds: float) -> None:
        super().__init__("Sandbox.Timedout", f"Task timed out after {seconds:.2f} seconds")


# --- stdout routing ------------------------------------------------------------------------------

_local = threading.local()


class _RoutedStdout(io.TextIOBase):
    """``sys.stdout`` replacement: a thread with a sink writes there, other threads pass through."""

    def __init__(self, passthrough: TextIO) -> None:
        self._passthrough = passthrough
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        sink: Callable[[str], None] | None = getattr(_local, "sink", None)
        if sink is None:
            return self._passthrough.write(s)
        buf: list[str] = _local.buffer
        buf.append(s)
        if "\n" in s:
            text = "".join(buf)
            *lines, rest = text.split("\n")
            buf.clear()
            if rest:
                buf.append(rest)
            for line in lines:
                sink(line)
        return len(s)

    def flush(self) -> None:
        if getattr(_local, "sink", None) is None:
            self._passthrough.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


_install_lock = threading.Lock()


def install_stdout_router() -> None:
    with _install_lock:
        if not isinstance(sys.stdout, _RoutedStdout):
            sys.stdout = _RoutedStdout(sys.stdout)


@contextlib.contextmanager
def captured_stdout(sink: Callable[[str], None]) -> Iterator[None]:
    """Route this thread's stdout lines to ``sink`` (one call per line, newline stripped)."""
    install_stdout_router()
    previous = getattr(_local, "sink", None), getattr(_local, "buffer", None)
    _local.sink, _local.buffer = sink, []
    try:
        yield
    finally:
        if _local.buffer:
            sink("".join(_local.buffer))
        _local.sink, _local.buffer = previous


# --- invocation ------------------------------------------------------------------------------------


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, deadline: float, log_stream: str) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.name}"
        self.memory_limit_in_mb = 128
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = spec.log_group
        self.log_stream_name = log_stream
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def log_stream_name() -> str:
    return time.strftime("%Y/%m/%d", time.gmtime()) + "/[$LATEST]" + uuid.uuid4().hex


LogSink = Callable[[str, str, str], None]
"""``(log group, log stream, line)``."""

_ENV_LOCK = threading.RLock()


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def local_environment(spec: FunctionSpec, endpoint_url: str, overrides: Mapping[str, str]) -> dict[str, str]:
    """The function's environment as the local stack runs it."""
    from edgeauth import constants as C

    env = dict(LOCAL_CREDENTIALS)
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_ENDPOINT_URL": endpoint_url,
            C.ENV_ENDPOINT_URL: endpoint_url,
        }
    )
    env.update(spec.environment)
    env.update(overrides)
    return env


def _invoke(
    submit: Callable[[], Future[Any]],
    timeout: float,
    request_id: str,
    platform_line: Callable[[str], None] | None,
) -> Any:
    """Run one invocation as Lambda does: START, the call bounded by the timeout, END and REPORT.

    Raises :class:`LambdaTimeoutError` past the timeout and :class:`LambdaError` for any failure of
    the handler (its type and message, as Lambda's error payload carries them).
    """
    started = time.perf_counter()
    if platform_line is not None:
        platform_line(f"START RequestId: {request_id} Version: $LATEST")
    future = submit()
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise LambdaTimeoutError(timeout) from None
    except LambdaError:
        raise
    except Exception as e:
        raise LambdaError(type(e).__name__, str(e)) from e
    finally:
        if platform_line is not None:
            ms = (time.perf_counter() - started) * 1000
            platform_line(f"END RequestId: {request_id}")
            platform_line(
                f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\tBilled Duration: {int(ms) + 1} ms\t"
                "Memory Size: 128 MB\tMax Memory Used: 128 MB"
            )


class FunctionRuntime:
    """One function, invoked in-process (one invocation at a time across all such runtimes)."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        log_sink: LogSink,
        *,
        timeout: float | None = None,
        platform_lines: bool = True,
    ) -> None:
        self.spec = spec
        self.env = dict(env)
        self.timeout = timeout if timeout is not None else spec.timeout
        self._log_sink = log_sink
        self._platform_lines = platform_lines
        self._handler: Callable[[Any, Any], Any] | None = None
        self._stream = log_stream_name()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"lambda-{spec.logical_id}")
        self.invocations = 0

    def _load(self) -> Callable[[Any, Any], Any]:
        if self._handler is None:
            module_name, _, attr = self.spec.handler.rpartition(".")
            # A cold start: the handler module (and its package) is imported afresh for this runtime,
            # so clients it built for an earlier stack in this process (another moto URL) are gone.
            package = module_name.split(".")[0]
            for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
                del sys.modules[name]
            try:
                module = importlib.import_module(module_name)
            except ImportError as e:
                raise LambdaError(
                    "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}"
                ) from e
            handler = getattr(module, attr, None)
            if not callable(handler):
                raise LambdaError(
                    "Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'"
                )
            self._handler = handler
        return self._handler

    def _run(self, event: Any, context: LambdaContext) -> Any:
        with _ENV_LOCK, patched_environ(self.env), captured_stdout(self._log_line):
            handler = self._load()
            return handler(event, context)

    def invoke(self, event: Any) -> Any:
        """Call the handler; raises :class:`LambdaError` or :class:`LambdaTimeoutError`."""
        self.invocations += 1
        deadline = time.monotonic() + self.timeout
        context = LambdaContext(self.spec, deadline, self._stream)
        return _invoke(
            lambda: self._pool.submit(self._run, event, context),
            self.timeout,
            context.aws_request_id,
            self._log_line if self._platform_lines else None,
        )

    def _log_line(self, line: str) -> None:
        self._log_sink(self.spec.log_group, self._stream, line)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class AuthorizerRuntime:
    """The authorizer function: many concurrent invocations, each bounded by the function timeout."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        log_sink: LogSink,
        *,
        timeout: float | None = None,
        workers: int = 64,
        platform_lines: bool = True,
    ) -> None:
        from edgeauth.bootstrap import build_authorizer

        self.spec = spec
        self.env = dict(env)
        self.timeout = timeout if timeout is not None else spec.timeout
        self._log_sink = log_sink
        self._platform_lines = platform_lines
        self._stream = log_stream_name()
        # Cold start: a bad setting raises ConfigError here, as the function would fail its init.
        self.authorizer = build_authorizer(self.env, emit=self._emit_text, log=self._log_line)
        self.invocations = 0
        self._count_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda-authorizer")
        self.hook: Callable[[Callable[[Mapping[str, Any]], Any], Mapping[str, Any]], Any] | None = None
        """Fault injection for tests: ``hook(call, event)`` replaces ``call(event)``."""

    def _emit_text(self, text: str) -> None:
        for line in text.splitlines():
            self._log_line(line)

    def _call(self, event: Mapping[str, Any]) -> Any:
        with captured_stdout(self._log_line):
            hook = self.hook
            if hook is not None:
                return hook(self.authorizer.authorize, event)
            return self.authorizer.authorize(event)

    def invoke(self, event: Mapping[str, Any]) -> Any:
        with self._count_lock:
            self.invocations += 1
        return _invoke(
            lambda: self._pool.submit(self._call, event),
            self.timeout,
            str(uuid.uuid4()),
            self._log_line if self._platform_lines else None,
        )

    def _log_line(self, line: str) -> None:
        self._log_sink(self.spec.log_group, self._stream, line)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
