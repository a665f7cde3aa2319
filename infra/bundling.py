"""The Lambda asset: ``functions/`` plus its requirements, built for Linux arm64 without Docker.

No Docker engine runs on the machines that synthesize this app, so the asset is bundled locally
(:class:`LocalPythonBundling`, an ``ILocalBundling``):

1. ``pip install --platform manylinux2014_aarch64 --implementation cp --python-version 3.12
   --only-binary=:all: --target …`` of ``functions/requirements.txt``: binary wheels for the Lambda
   platform only, never a source build (which would compile for this machine, not for Lambda);
2. copy the code of ``functions/`` on top (without caches and tests).

The installed requirements are cached under ``build/lambda-deps/<key>``, keyed by the requirements
file's content, the Python version, the platform and :data:`BUNDLER_VERSION`, so repeated synths (the
test session, ``cdk diff``) do not reinstall. Delete ``build/`` to force a fresh install.

The asset hash is the hash of the bundled output (``AssetHashType.OUTPUT``): transitive requirements
are resolved by pip, so only the output says what will run.

A requirement without a wheel for the platform fails the synth with :class:`BundlingError` naming it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
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

BUNDLER_VERSION: Final = 1
"""Bump to invalidate every cached install (part of the cache key)."""

# What of functions/ is not code to ship. Test code and byte-code caches would only make the asset
# larger and its hash depend on who ran what locally.
CODE_IGNORE: Final = ("__pycache__", "*.pyc", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache")
# What of a `pip install --target` is not needed at run time: console scripts carry this machine's
# interpreter path in their shebang, which would make the asset differ between machines.
DEPS_IGNORE: Final = ("bin", "__pycache__", "*.pyc")

_COMPLETE_MARKER: Final = ".complete"
_NO_WHEEL = re.compile(r"No matching distribution found for (\S+)")


class BundlingError(Exception):
    """The Lambda asset cannot be built. The message says which requirement and what to do."""


def requirements_cache_key(requirements: Path, pip_options: Sequence[str] = ()) -> str:
    """The cache key of an install: requirements content, Python version, platform, bundler version."""
    digest = hashlib.sha256()
    for part in (
        requirements.read_bytes(),
        PYTHON_VERSION.encode(),
        PLATFORM.encode(),
        str(BUNDLER_VERSION).encode(),
        "\0".join(pip_options).encode(),
    ):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def install_requirements(
    requirements: Path = REQUIREMENTS,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    *,
    pip_options: Sequence[str] = (),
) -> Path:
    """Install ``requirements`` for the Lambda platform into the cache; return the install directory.

    Reuses a complete earlier install with the same key. ``pip_options`` are extra pip arguments
    (``--no-index --find-links DIR`` for an offline wheelhouse); pip's own configuration
    (``PIP_INDEX_URL``…) applies too. Raises :class:`BundlingError` when pip cannot install.
    """
    target = cache_dir / requirements_cache_key(requirements, pip_options)
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
) -> None:
    """Write the Lambda bundle into ``output_dir``: the installed requirements, then the code of ``source``."""
    deps = install_requirements(requirements, cache_dir, pip_options=pip_options)
    shutil.copytree(
        deps,
        output_dir,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(*DEPS_IGNORE, _COMPLETE_MARKER),
    )
    # The code last: a module of ours wins over a same-named one from a requirement.
    shutil.copytree(source, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*CODE_IGNORE))


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
    ) -> None:
        self._source = source
        self._requirements = requirements
        self._cache_dir = cache_dir
        self._pip_options = tuple(pip_options)

    def try_bundle(self, output_dir: str, _options: Any = None) -> bool:
        # A BundlingError raised here reaches the app wrapped in jsii's RuntimeError (its message
        # included); the stack installs the requirements before staging for a plain Python error.
        bundle(
            Path(output_dir),
            source=self._source,
            requirements=self._requirements,
            cache_dir=self._cache_dir,
            pip_options=self._pip_options,
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
