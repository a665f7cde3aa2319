"""The Lambda asset: ``functions/`` plus its requirements, built for Linux arm64 without Docker.

No Docker engine runs on the machines that synthesize this app, so the asset is bundled locally
(:class:`LocalPythonBundling`, an ``ILocalBundling``):

1. ``pip install --platform manylinux2014_aarch64 --implementation cp --python-version 3.12
   --only-binary=:all: --target …`` of ``functions/requirements.txt``: binary wheels for the Lambda
   platform only, never a source build (which would compile for this machine, not for Lambda);
2. copy the code of ``functions/`` on top (without caches and tests);
3. compile both to bytecode for the runtime (:func:`compile_bytecode`), when a CPython 3.12 is found.

Bytecode. Lambda's ``/var/task`` is read-only, so without ``.pyc`` files in the asset every cold
start compiles every module of ours and every pure-Python module of the requirements from source.
Bytecode is specific to a Python minor version, so it is made by a CPython :data:`PYTHON_VERSION`
interpreter of this machine (:func:`find_bytecode_python`): ``$EDGEAUTH_BYTECODE_PYTHON`` (a path) if
set, which must be one (else :class:`BundlingError`); otherwise the synth's own interpreter if it is
one, the first ``python3.12`` on ``PATH`` that runs and is one, or one installed by pyenv. With none, the asset is built
without bytecode, as before, and the synth says so once on stderr (:data:`NO_BYTECODE_WARNING`).
The ``.pyc`` files are ``unchecked-hash`` (the CDK's asset zip normalises timestamps, so
timestamp-checked ones would be stale on Lambda and ignored), optimisation level 0, and name their
sources ``/var/task/…`` for tracebacks. Measured here (x86_64 build of the same bundle, CPython
3.12.1): a fresh import of the authorizer's modules (``edgeauth.authorizer``,
``edgeauth.adapters.dynamodb``, ``awscrt.auth``, the RSA of ``cryptography``) takes about 95 ms with
the bytecode against 147 ms without; the asset grows from 617 files, 31.2 MB to 1,137 files, 36.0 MB
unzipped (10.4 to 12.5 MB zipped).

The installed requirements are cached under ``build/lambda-deps/<key>``, keyed by the requirements
file's content, the Python version, the platform, :data:`BUNDLER_VERSION` and what compiled them (the
interpreter's version, or none), so repeated synths (the test session, ``cdk diff``) neither
reinstall nor recompile them; our code is compiled per bundle. Delete ``build/`` to force a fresh
install.

The asset hash is the hash of the bundled output (``AssetHashType.OUTPUT``): transitive requirements
are resolved by pip, so only the output says what will run. The bytecode is reproducible: the same
sources and interpreter version give byte-identical ``.pyc`` files, whatever the hash seed, the
directory or the order they are compiled in (``tests/infra/test_bytecode.py`` checks it). So the
hash changes only with the code, the pins or the compiling interpreter's version; but a machine
without a CPython 3.12 makes another asset (without bytecode) than one with it: deploy a stage from
machines that agree, or each switch redeploys every function.

A requirement without a wheel for the platform fails the synth with :class:`BundlingError` naming it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR: Final = REPO_ROOT / "functions"
REQUIREMENTS: Final = FUNCTIONS_DIR / "requirements.txt"
DEFAULT_CACHE_DIR: Final = REPO_ROOT / "build" / "lambda-deps"

PYTHON_VERSION: Final = "3.12"
"""The CPython version wheels are chosen for; must match :data:`RUNTIME`."""
RUNTIME: Final = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
PLATFORM: Final = "manylinux2014_aarch64"
"""pip's platform tag for Lambda arm64 (Amazon Linux 2023, glibc 2.34: manylinux2014 wheels run)."""

BUNDLER_VERSION: Final = 2
"""Bump to invalidate every cached install (part of the cache key)."""

BYTECODE_PYTHON_ENV: Final = "EDGEAUTH_BYTECODE_PYTHON"
"""The setting naming the interpreter that compiles the bundle (a path); it must be CPython
:data:`PYTHON_VERSION`."""
TASK_ROOT: Final = "/var/task"
"""Where Lambda unpacks the asset: the bytecode records its files' paths under it, as tracebacks show them."""

# What of functions/ is not code to ship. Test code and byte-code caches would only make the asset
# larger and its hash depend on who ran what locally.
CODE_IGNORE: Final = ("__pycache__", "*.pyc", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache")
# What of a `pip install --target` is not needed at run time: console scripts carry this machine's
# interpreter path in their shebang, which would make the asset differ between machines. (pip runs
# with --no-compile: the only byte-code of an install is the one compile_bytecode wrote into it.)
DEPS_IGNORE: Final = ("bin",)

_COMPLETE_MARKER: Final = ".complete"
_NO_WHEEL = re.compile(r"No matching distribution found for (\S+)")


class BundlingError(Exception):
    """The Lambda asset cannot be built. The message says which requirement and what to do."""


# ---------------------------------------------------------------------------------------------------
# Bytecode. Lambda's /var/task is read-only, so a bundle without .pyc files is compiled from source at
# every cold start. The .pyc files must be made by the runtime's own Python version (bytecode and its
# magic number change with every minor version: this venv's interpreter cannot make them), so a
# CPython PYTHON_VERSION interpreter of this machine compiles the bundle.

_RUNTIME_VERSION: Final = tuple(int(part) for part in PYTHON_VERSION.split("."))
_IMPLEMENTATIONS: Final = {"cpython": "CPython", "pypy": "PyPy"}
# What a candidate interpreter says about itself: implementation, version, cache tag (cpython-312).
_PROBE: Final = (
    "import sys; print(sys.implementation.name, *sys.version_info[:3], sys.implementation.cache_tag)"
)

NO_BYTECODE_WARNING: Final = (
    f"edgeauth: warning: the Lambda bundle has no bytecode: no CPython {PYTHON_VERSION} found "
    f"(EDGEAUTH_BYTECODE_PYTHON is not set, and neither this Python, a python{PYTHON_VERSION} on "
    "PATH nor one installed by pyenv is one). Every cold start will compile the functions' code from source (about 50 ms of the "
    f"authorizer's). Install CPython {PYTHON_VERSION}, or set EDGEAUTH_BYTECODE_PYTHON to its path."
)
"""Printed once on stderr when the bundle is built without bytecode."""
_warned_no_bytecode = False


@dataclass(frozen=True)
class BytecodePython:
    """An interpreter that compiles the bundle, and what it said it is when it was run."""

    executable: str
    implementation: str
    """``sys.implementation.name``: ``cpython``…"""
    version: tuple[int, int, int]
    cache_tag: str
    """``sys.implementation.cache_tag``: the ``cpython-312`` of ``__pycache__/<module>.cpython-312.pyc``."""

    @property
    def description(self) -> str:
        name = _IMPLEMENTATIONS.get(self.implementation, self.implementation)
        return f"{name} {'.'.join(map(str, self.version))}"

    @property
    def matches_runtime(self) -> bool:
        """CPython of the Lambda runtime's version (:data:`PYTHON_VERSION`): its bytecode is the runtime's."""
        return self.implementation == "cpython" and self.version[:2] == _RUNTIME_VERSION


class _NotAPython(Exception):
    """A candidate interpreter that does not run or does not say what it is; the message says why."""


@functools.cache
def probe_python(executable: str) -> BytecodePython:
    """Run ``executable`` and ask what it is. Raises ``_NotAPython`` when it cannot tell (a pyenv shim
    of a version that is not selected exists on ``PATH`` but exits with an error). Each interpreter
    is run once per process: a synth looks for one twice (the early install, then the asset's
    bundling), and every candidate before the one found is run each time."""
    try:
        result = subprocess.run(  # noqa: S603
            [executable, "-c", _PROBE], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise _NotAPython(f"does not run ({e})") from e
    if result.returncode != 0:
        first_line = next((line.strip() for line in result.stderr.splitlines() if line.strip()), "")
        raise _NotAPython(f"does not run (exit {result.returncode}: {first_line})")
    parts = result.stdout.split()
    if len(parts) != 5 or not all(part.isdigit() for part in parts[1:4]):
        raise _NotAPython(f"does not say which Python it is (it printed {result.stdout.strip()!r})")
    major, minor, micro = (int(part) for part in parts[1:4])
    return BytecodePython(executable, parts[0], (major, minor, micro), parts[4])


def find_bytecode_python(
    environ: Mapping[str, str] | None = None, *, running: str | None = sys.executable
) -> BytecodePython | None:
    """The CPython :data:`PYTHON_VERSION` that compiles the bundle, or None when there is none.

    ``$EDGEAUTH_BYTECODE_PYTHON`` (of ``environ``, default ``os.environ``) wins, and it must be one:
    anything else raises :class:`BundlingError` saying what it is. Without it, the first of the
    ``running`` interpreter (the synth's own, when the venv is 3.12), every ``python3.12`` on
    ``PATH`` and pyenv's installed 3.12 versions (:func:`pyenv_pythons`), in order, that runs and
    says it is CPython 3.12.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(BYTECODE_PYTHON_ENV)
    if explicit:
        try:
            python = probe_python(explicit)
            found = f"is {python.description}"
        except _NotAPython as e:
            found = str(e)
        else:
            if python.matches_runtime:
                return python
        raise BundlingError(
            f"cannot bundle with EDGEAUTH_BYTECODE_PYTHON={explicit}: it {found}, not CPython "
            f"{PYTHON_VERSION}. The bundle's bytecode must be made by the Lambda runtime's version "
            f"({RUNTIME.name}): set it to the path of a CPython {PYTHON_VERSION}, or unset it."
        )
    candidates = [running] if running else []
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        on_path = shutil.which(f"python{PYTHON_VERSION}", path=directory) if directory else None
        if on_path:
            candidates.append(on_path)
    candidates += pyenv_pythons(env.get("PYENV_ROOT"))
    for candidate in dict.fromkeys(candidates):
        try:
            python = probe_python(candidate)
        except _NotAPython:
            continue
        if python.matches_runtime:
            return python
    return None


def pyenv_pythons(pyenv_root: str | None) -> list[str]:
    """The ``python3.12`` of every 3.12 version installed under ``$PYENV_ROOT``, newest first.

    pyenv's ``python3.12`` shim on ``PATH`` fails unless 3.12 is a selected version (``pyenv: python3.12:
    command not found``), although it is installed: its interpreter is used directly."""
    if not pyenv_root:
        return []
    found = []
    for directory in Path(pyenv_root, "versions").glob(f"{PYTHON_VERSION}.*"):
        micro = directory.name.removeprefix(f"{PYTHON_VERSION}.")
        executable = directory / "bin" / f"python{PYTHON_VERSION}"
        if micro.isdigit() and executable.is_file():
            found.append((int(micro), str(executable)))
    return [executable for _, executable in sorted(found, reverse=True)]


def bytecode_python(
    environ: Mapping[str, str] | None = None, *, running: str | None = sys.executable
) -> BytecodePython | None:
    """:func:`find_bytecode_python`; without one, say once on stderr what it costs and how to fix it."""
    global _warned_no_bytecode  # noqa: PLW0603 -- once per process, however many bundles
    python = find_bytecode_python(environ, running=running)
    if python is None and not _warned_no_bytecode:
        print(NO_BYTECODE_WARNING, file=sys.stderr)
        _warned_no_bytecode = True
    return python


def compile_bytecode(root: Path, python: BytecodePython, *, what: str, paths: Sequence[str] = (".",)) -> None:
    """Compile the ``.py`` files of ``paths`` (files or directories, relative to ``root``) with ``python``.

    Writes ``__pycache__/<module>.<cache tag>.pyc`` beside each source, with the standard library's
    ``compileall``:

    * ``--invalidation-mode unchecked-hash``: the CDK's asset zip normalises every file's timestamp,
      so a timestamp-checked ``.pyc`` would be found stale on Lambda, ignored, and the module compiled
      from source anyway. An unchecked-hash ``.pyc`` is used without looking at its source;
    * ``-o 0``: the optimisation level Lambda runs at (no ``-O``);
    * ``-s root -p /var/task``: tracebacks name ``/var/task/…``, where Lambda unpacks the asset.

    The output depends only on the sources and the interpreter's version (``tests/infra/
    test_bytecode.py`` checks two builds are byte-identical), so the asset hash is stable.
    Raises :class:`BundlingError` when a file does not compile.
    """
    root = root.absolute()  # compileall strips -s from the path as given: both must be absolute
    command = [
        python.executable,
        "-I",  # isolated: no PYTHONPATH or user site that could change what compileall is
        "-m",
        "compileall",
        "-q",
        "-f",
        "--invalidation-mode",
        "unchecked-hash",
        "-o",
        "0",
        "-s",
        str(root),
        "-p",
        TASK_ROOT,
        *(str(root / path) for path in paths),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        tail = "\n".join(line for line in output[-15:] if line.strip())
        raise BundlingError(
            f"cannot bundle {what}: {python.description} ({python.executable}) could not compile it to "
            f"bytecode (exit {result.returncode}):\n{tail}"
        )


def _compiler_key(python: BytecodePython | None) -> str:
    return "no bytecode" if python is None else f"{python.cache_tag} {python.description} unchecked-hash -o0"


def requirements_cache_key(
    requirements: Path, pip_options: Sequence[str] = (), python: BytecodePython | None = None
) -> str:
    """The cache key of an install: requirements content, Python version, platform, bundler version,
    and what compiled it (``python``, or none: an install without bytecode is another install)."""
    digest = hashlib.sha256()
    for part in (
        requirements.read_bytes(),
        PYTHON_VERSION.encode(),
        PLATFORM.encode(),
        str(BUNDLER_VERSION).encode(),
        "\0".join(pip_options).encode(),
        _compiler_key(python).encode(),
    ):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def install_requirements(
    requirements: Path = REQUIREMENTS,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    *,
    pip_options: Sequence[str] = (),
    python: BytecodePython | None = None,
) -> Path:
    """Install ``requirements`` for the Lambda platform into the cache; return the install directory.

    Reuses a complete earlier install with the same key. ``pip_options`` are extra pip arguments
    (``--no-index --find-links DIR`` for an offline wheelhouse); pip's own configuration
    (``PIP_INDEX_URL``…) applies too. With ``python``, the install is compiled to bytecode once, here
    (:func:`compile_bytecode`). Raises :class:`BundlingError` when pip cannot install or a file does
    not compile.
    """
    target = cache_dir / requirements_cache_key(requirements, pip_options, python)
    if (target / _COMPLETE_MARKER).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Install beside the target and rename: an interrupted install never looks complete, and two
    # concurrent synths do not write into the same directory.
    staging = cache_dir / f".tmp-{uuid.uuid4().hex}"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--platform",
        PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        str(staging),
        "-r",
        str(requirements),
        *pip_options,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(_explain_pip_failure(requirements, result.returncode, result.stderr))
        if python is not None:
            compile_bytecode(staging, python, what=_display(requirements))
        (staging / _COMPLETE_MARKER).write_text("\n".join(command) + "\n")
        try:
            staging.rename(target)
        except OSError:
            if not (target / _COMPLETE_MARKER).is_file():
                raise
            # Another synth finished the same install first; its result is identical.
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _explain_pip_failure(requirements: Path, returncode: int, stderr: str) -> str:
    where = f"{_display(requirements)} for Lambda ({PLATFORM}, CPython {PYTHON_VERSION})"
    missing = _NO_WHEEL.search(stderr)
    if missing:
        return (
            f"cannot bundle {where}: no wheel of {missing.group(1)!r} for this platform. The bundle "
            "installs binary wheels only (a source build would compile for this machine, not for "
            "Lambda): pin a version that publishes a manylinux2014_aarch64 (or pure-Python) wheel, "
            "or check that the package index is reachable."
        )
    tail = "\n".join(line for line in stderr.strip().splitlines()[-15:] if line.strip())
    return f"cannot bundle {where}: pip exited with {returncode}:\n{tail}"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def bundle(
    output_dir: Path,
    *,
    source: Path = FUNCTIONS_DIR,
    requirements: Path = REQUIREMENTS,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    pip_options: Sequence[str] = (),
    python: BytecodePython | None = None,
) -> None:
    """Write the Lambda bundle into ``output_dir``: the installed requirements, then the code of ``source``.

    With ``python`` (see :func:`bytecode_python`), both with their bytecode: the requirements' compiled
    once into the cached install, the code's here.
    """
    deps = install_requirements(requirements, cache_dir, pip_options=pip_options, python=python)
    shutil.copytree(
        deps,
        output_dir,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(*DEPS_IGNORE, _COMPLETE_MARKER),
    )
    # The code last: a module of ours wins over a same-named one from a requirement (and its .pyc,
    # compiled next, over the requirement's: compile_bytecode always rewrites).
    ignore = shutil.ignore_patterns(*CODE_IGNORE)
    shutil.copytree(source, output_dir, dirs_exist_ok=True, ignore=ignore)
    if python is not None:
        names = os.listdir(source)
        code = sorted(set(names) - ignore(str(source), names))
        compile_bytecode(output_dir, python, what=_display(source), paths=code)


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    """``ILocalBundling`` that runs :func:`bundle`; it never falls back to Docker."""

    def __init__(
        self,
        *,
        source: Path = FUNCTIONS_DIR,
        requirements: Path = REQUIREMENTS,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        pip_options: Sequence[str] = (),
        find_python: Callable[[], BytecodePython | None] = bytecode_python,
    ) -> None:
        self._source = source
        self._requirements = requirements
        self._cache_dir = cache_dir
        self._pip_options = tuple(pip_options)
        # Called when bundling, not before: `cdk ls` and `destroy` skip bundling and need no Python 3.12.
        self._find_python = find_python

    def try_bundle(self, output_dir: str, _options: Any = None) -> bool:
        # A BundlingError raised here reaches the app wrapped in jsii's RuntimeError (its message
        # included); the stack installs the requirements before staging for a plain Python error.
        bundle(
            Path(output_dir),
            source=self._source,
            requirements=self._requirements,
            cache_dir=self._cache_dir,
            pip_options=self._pip_options,
            python=self._find_python(),
        )
        return True


def function_code(
    *,
    source: Path = FUNCTIONS_DIR,
    requirements: Path = REQUIREMENTS,
    cache_dir: Path | None = None,
) -> lambda_.Code:
    """The one asset every function of the stack runs (bind it to several functions: it is staged once).

    ``cache_dir`` defaults to ``$EDGEAUTH_BUNDLE_CACHE`` or ``build/lambda-deps``.
    """
    cache = cache_dir or Path(os.environ.get("EDGEAUTH_BUNDLE_CACHE") or DEFAULT_CACHE_DIR)
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds or raises. The name says why it exists.
            image=DockerImage.from_registry("edgeauth-bundles-locally-without-docker"),
            # cast: jsii calls try_bundle(output_dir, options) positionally, which the generated
            # keyword-only stub signature cannot express.
            local=cast(
                ILocalBundling, LocalPythonBundling(source=source, requirements=requirements, cache_dir=cache)
            ),
        ),
    )
