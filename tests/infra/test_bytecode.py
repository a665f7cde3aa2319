"""The bundle's bytecode: compiled by a CPython of the runtime's version, unchecked, stable, optional.

The mechanism is tested with this interpreter (``sys.executable``, whatever its version): what it
writes, that Python uses it without looking at the sources, that two builds are identical. Which
interpreter compiles a real synth is tested with fake interpreters (scripts that print what a Python
would). The session synth is checked both ways: bytecode exactly when a CPython 3.12 is found here.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import marshal
import os
import py_compile
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from types import CodeType

import pytest

from infra import bundling
from infra.bundling import (
    BYTECODE_PYTHON_ENV,
    FUNCTIONS_DIR,
    NO_BYTECODE_WARNING,
    PYTHON_VERSION,
    TASK_ROOT,
    BundlingError,
    BytecodePython,
    LocalPythonBundling,
    bundle,
    bytecode_python,
    find_bytecode_python,
    install_requirements,
    probe_python,
    requirements_cache_key,
)
from tests.infra.conftest import Synth
from tests.infra.test_bundling import asset_dir

THIS_PYTHON = probe_python(sys.executable)
#: The .pyc header's flags word: hash-based (bit 0), without checking the source (bit 1 clear).
UNCHECKED_HASH = 0b01
DEP = "edgeauth_testdep"
#: Modules of ours that the authorizer's cold start imports.
OUR_MODULES = ("edgeauth/authorizer.py", "edgeauth/adapters/dynamodb.py", "edgeauth/constants.py")


# --- helpers -----------------------------------------------------------------------------------------------


def make_wheel(wheelhouse: Path) -> None:
    """A pure-Python wheel of a requirement with a package and a submodule (no network needed)."""
    files = {
        f"{DEP}/__init__.py": "VALUE = 1\n",
        # Set constants: marshalled in an order that could depend on the hash seed (the last test).
        f"{DEP}/sub.py": "NAMES = frozenset({'a', 'b', 'c', 'd'})\n\ndef f(x):\n    return x in {'e', 'f'}\n",
        f"{DEP}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {DEP}\nVersion: 1.0\n",
        f"{DEP}-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append(f"{DEP}-1.0.dist-info/RECORD,,")
    wheelhouse.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheelhouse / f"{DEP}-1.0-py3-none-any.whl", "w") as whl:
        for name, text in files.items():
            whl.writestr(name, text)
        whl.writestr(f"{DEP}-1.0.dist-info/RECORD", "\n".join(record) + "\n")


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    """A requirements file of the test wheel, and the pip options that install it offline."""
    make_wheel(tmp_path / "wheels")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{DEP}==1.0\n")
    return requirements, ("--no-index", "--find-links", str(tmp_path / "wheels"))


def build(
    out: Path,
    inputs: tuple[Path, tuple[str, ...]],
    python: BytecodePython | None,
    cache: Path,
    source: Path = FUNCTIONS_DIR,
) -> Path:
    requirements, pip_options = inputs
    bundle(
        out, source=source, requirements=requirements, cache_dir=cache, pip_options=pip_options, python=python
    )
    return out


def pyc_of(root: Path, source: str, python: BytecodePython) -> Path:
    path = root / source
    return path.parent / "__pycache__" / f"{path.stem}.{python.cache_tag}.pyc"


def fake_python(directory: Path, name: str, script: str) -> Path:
    """An executable that behaves like an interpreter asked what it is (``script`` is its shell body)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def says(implementation: str, version: str) -> str:
    major, minor, micro = version.split(".")
    return f"echo {implementation} {major} {minor} {micro} {implementation}-{major}{minor}"


MAJOR, MINOR = PYTHON_VERSION.split(".")
RUNTIME_CPYTHON = says("cpython", f"{PYTHON_VERSION}.9")
OTHER_CPYTHON = says("cpython", f"{MAJOR}.{int(MINOR) - 1}.7")
BROKEN_SHIM = 'echo "pyenv: python3.12: command not found" >&2; exit 127'


# --- what the compile step writes --------------------------------------------------------------------------


def test_the_bundle_has_unchecked_bytecode_naming_var_task_for_our_code_and_requirements(
    tmp_path: Path, inputs: tuple[Path, tuple[str, ...]]
) -> None:
    # GIVEN a bundle compiled with this interpreter
    out = build(tmp_path / "out", inputs, THIS_PYTHON, tmp_path / "cache")
    # THEN every module of ours and of the requirement has its .pyc, with the interpreter's cache tag
    for source in (*OUR_MODULES, f"{DEP}/__init__.py", f"{DEP}/sub.py"):
        pyc = pyc_of(out, source, THIS_PYTHON)
        assert pyc.is_file(), pyc
        data = pyc.read_bytes()
        # AND its header: this interpreter's magic number, unchecked-hash, the hash of the source
        assert data[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(data[4:8], "little") == UNCHECKED_HASH, source
        assert data[8:16] == importlib.util.source_hash((out / source).read_bytes())
        # AND the code (and the functions in it) names the file where Lambda unpacks it
        code = marshal.loads(data[16:])  # noqa: S302 -- the .pyc this test just had written
        assert code.co_filename == f"{TASK_ROOT}/{source}"
        nested = [c for c in code.co_consts if isinstance(c, CodeType)]
        assert all(c.co_filename == f"{TASK_ROOT}/{source}" for c in nested)
    # AND every .py of ours has one; tests and local caches are still not shipped
    ours = [p for p in (out / "edgeauth").rglob("*.py")]
    assert ours and all(pyc_of(out, str(p.relative_to(out)), THIS_PYTHON).is_file() for p in ours)
    assert not (out / "tests").exists() and not (out / "bin").exists()
    # AND nothing but the .pyc of one interpreter, at optimisation level 0 (no .opt-1.pyc)
    assert {p.name.split(".", 1)[1] for p in out.rglob("*.pyc")} == {f"{THIS_PYTHON.cache_tag}.pyc"}


def test_without_an_interpreter_the_bundle_has_no_bytecode(
    tmp_path: Path, inputs: tuple[Path, tuple[str, ...]]
) -> None:
    out = build(tmp_path / "out", inputs, None, tmp_path / "cache")
    assert (out / "edgeauth" / "authorizer.py").is_file() and (out / DEP / "sub.py").is_file()
    assert not list(out.rglob("__pycache__")) and not list(out.rglob("*.pyc"))


def test_the_cached_install_is_keyed_by_what_compiled_it(
    tmp_path: Path, inputs: tuple[Path, tuple[str, ...]]
) -> None:
    requirements, pip_options = inputs
    cache = tmp_path / "cache"
    # GIVEN an install compiled with this interpreter
    compiled = install_requirements(requirements, cache, pip_options=pip_options, python=THIS_PYTHON)
    assert pyc_of(compiled, f"{DEP}/sub.py", THIS_PYTHON).is_file()
    # WHEN the same requirements are installed without bytecode THEN that is another install, without it
    plain = install_requirements(requirements, cache, pip_options=pip_options, python=None)
    assert plain != compiled and not list(plain.rglob("*.pyc"))
    # AND each is reused as it is
    assert install_requirements(requirements, cache, pip_options=pip_options, python=THIS_PYTHON) == compiled
    assert install_requirements(requirements, cache, pip_options=pip_options) == plain
    # AND another interpreter (another version) would not reuse this one's
    other = BytecodePython("/elsewhere/python3", "cpython", (3, 99, 0), "cpython-399")
    assert requirements_cache_key(requirements, pip_options, other) != requirements_cache_key(
        requirements, pip_options, THIS_PYTHON
    )


def test_code_that_does_not_compile_fails_the_bundle_naming_the_file(
    tmp_path: Path, inputs: tuple[Path, tuple[str, ...]]
) -> None:
    source = tmp_path / "functions"
    (source / "broken").mkdir(parents=True)
    (source / "broken" / "handler.py").write_text("def handler(event, context)\n    return event\n")
    with pytest.raises(BundlingError) as info:
        build(tmp_path / "out", inputs, THIS_PYTHON, tmp_path / "cache", source=source)
    message = str(info.value)
    assert message.startswith(
        f"cannot bundle {source}: {THIS_PYTHON.description} ({sys.executable}) could not"
    )
    assert "handler.py" in message


# --- Python uses the bytecode without looking at the sources -----------------------------------------------


def loaded_from(root: Path, modules: tuple[str, ...]) -> set[Path]:
    """The files (a source or a .pyc) a fresh interpreter importing ``modules`` from ``root`` loads."""
    program = f"import sys; sys.path.insert(0, {str(root)!r})\n" + "".join(f"import {m}\n" for m in modules)
    # -B: write no bytecode (as on Lambda's read-only /var/task); -I: only the bundle and the stdlib;
    # -v: the import system says what each module's code object is made from.
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-v", "-c", program], capture_output=True, text=True, check=True
    )
    prefix = "# code object from "
    lines = [
        line.removeprefix(prefix).strip("'") for line in result.stderr.splitlines() if line.startswith(prefix)
    ]
    return {Path(line) for line in lines}


def test_a_compiled_module_is_used_whatever_its_sources_timestamps(
    tmp_path: Path, inputs: tuple[Path, tuple[str, ...]]
) -> None:
    # GIVEN a bundle compiled with this interpreter
    out = build(tmp_path / "out", inputs, THIS_PYTHON, tmp_path / "cache")
    sources = ("edgeauth/constants.py", f"{DEP}/__init__.py", f"{DEP}/sub.py")
    pycs = [pyc_of(out, s, THIS_PYTHON) for s in sources]
    written = [p.stat().st_mtime_ns for p in pycs]
    for when in (315_532_800, 4_102_444_800):  # 1980-01-01 (a zip's earliest time), 2100-01-01
        # WHEN its sources' timestamps change (as the CDK's asset zip and Lambda's unzip do)
        for path in out.rglob("*.py"):
            os.utime(path, (when, when))
        # THEN a fresh interpreter loads those modules from their .pyc, not from the source
        loaded = loaded_from(out, ("edgeauth.constants", f"{DEP}.sub"))
        assert set(pycs) <= loaded, loaded
        assert not {out / source for source in sources} & loaded
    # AND no .pyc was rewritten
    assert [p.stat().st_mtime_ns for p in pycs] == written


def test_a_timestamp_pyc_would_be_ignored_after_the_same_change(tmp_path: Path) -> None:
    # The control of the test above: the default (timestamp) .pyc is stale once the time changes.
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("VALUE = 1\n")
    py_compile.compile(
        str(package / "__init__.py"), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP
    )
    os.utime(package / "__init__.py", (315_532_800, 315_532_800))
    assert package / "__init__.py" in loaded_from(tmp_path, ("pkg",))


# --- which interpreter compiles ----------------------------------------------------------------------------


def test_the_explicit_setting_wins_and_must_be_cpython_of_the_runtimes_version(tmp_path: Path) -> None:
    good = fake_python(tmp_path / "explicit", "python", RUNTIME_CPYTHON)
    on_path = fake_python(tmp_path / "bin", f"python{PYTHON_VERSION}", RUNTIME_CPYTHON)
    env = {BYTECODE_PYTHON_ENV: str(good), "PATH": str(on_path.parent)}
    found = find_bytecode_python(env, running=None)
    assert (
        found is not None and found.executable == str(good) and found.cache_tag == f"cpython-{MAJOR}{MINOR}"
    )


@pytest.mark.parametrize(
    ("script", "found"),
    [
        (OTHER_CPYTHON, f"it is CPython {MAJOR}.{int(MINOR) - 1}.7"),
        (says("pypy", f"{PYTHON_VERSION}.0"), f"it is PyPy {PYTHON_VERSION}.0"),
        (BROKEN_SHIM, "it does not run (exit 127: pyenv: python3.12: command not found)"),
        ("echo hello", "it does not say which Python it is (it printed 'hello')"),
    ],
)
def test_an_explicit_setting_that_is_not_cpython_of_the_runtimes_version_fails(
    tmp_path: Path, script: str, found: str
) -> None:
    wrong = fake_python(tmp_path, "python", script)
    # A good one on PATH does not make up for it: what was asked for cannot be done.
    fake_python(tmp_path / "bin", f"python{PYTHON_VERSION}", RUNTIME_CPYTHON)
    with pytest.raises(BundlingError) as info:
        find_bytecode_python({BYTECODE_PYTHON_ENV: str(wrong), "PATH": str(tmp_path / "bin")}, running=None)
    message = str(info.value)
    assert message.startswith(
        f"cannot bundle with {BYTECODE_PYTHON_ENV}={wrong}: {found}, not CPython {PYTHON_VERSION}."
    )
    assert f"set it to the path of a CPython {PYTHON_VERSION}" in message


def test_an_explicit_setting_that_does_not_exist_fails(tmp_path: Path) -> None:
    with pytest.raises(BundlingError, match=r"it does not run \(.*No such file"):
        find_bytecode_python({BYTECODE_PYTHON_ENV: str(tmp_path / "nothing")}, running=None)


def test_on_path_a_shim_that_fails_and_other_versions_are_skipped(tmp_path: Path) -> None:
    name = f"python{PYTHON_VERSION}"
    shim = fake_python(tmp_path / "shims", name, BROKEN_SHIM)
    other = fake_python(tmp_path / "other", name, OTHER_CPYTHON)
    good = fake_python(tmp_path / "good", name, RUNTIME_CPYTHON)
    path = os.pathsep.join(str(p.parent) for p in (shim, other, good))
    found = find_bytecode_python({"PATH": path}, running=None)
    assert found is not None and found.executable == str(good)
    # AND without the good one, there is none
    assert (
        find_bytecode_python({"PATH": os.pathsep.join([str(shim.parent), str(other.parent)])}, running=None)
        is None
    )


def test_a_pyenv_install_is_found_when_its_shim_fails(tmp_path: Path) -> None:
    # GIVEN pyenv's failing shim on PATH and, under PYENV_ROOT, another version and two of the runtime's
    name = f"python{PYTHON_VERSION}"
    shims = fake_python(tmp_path / "shims", name, BROKEN_SHIM).parent
    root = tmp_path / "pyenv"
    fake_python(root / "versions" / f"{MAJOR}.{int(MINOR) - 1}.7" / "bin", name, OTHER_CPYTHON)
    fake_python(root / "versions" / f"{PYTHON_VERSION}.2" / "bin", name, RUNTIME_CPYTHON)
    newest = fake_python(root / "versions" / f"{PYTHON_VERSION}.10" / "bin", name, RUNTIME_CPYTHON)
    # WHEN the interpreter is looked for
    found = find_bytecode_python({"PATH": str(shims), "PYENV_ROOT": str(root)}, running=None)
    # THEN the newest installed 3.12 is the one
    assert found is not None and found.executable == str(newest)
    # AND without PYENV_ROOT pyenv is not looked at
    assert find_bytecode_python({"PATH": str(shims)}, running=None) is None


def test_the_running_interpreter_counts_when_it_is_the_runtimes_version(tmp_path: Path) -> None:
    running = fake_python(tmp_path, "python", RUNTIME_CPYTHON)
    found = find_bytecode_python({"PATH": str(tmp_path / "empty")}, running=str(running))
    assert found is not None and found.executable == str(running)
    other = fake_python(tmp_path, "python-other", OTHER_CPYTHON)
    assert find_bytecode_python({"PATH": str(tmp_path / "empty")}, running=str(other)) is None


def test_none_found_bundles_without_bytecode_and_says_so_once(
    tmp_path: Path,
    inputs: tuple[Path, tuple[str, ...]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bundling, "_warned_no_bytecode", False)
    shims = fake_python(tmp_path / "shims", f"python{PYTHON_VERSION}", BROKEN_SHIM).parent
    requirements, pip_options = inputs

    def find() -> BytecodePython | None:
        return bytecode_python({"PATH": str(shims)}, running=None)

    local = LocalPythonBundling(
        requirements=requirements, cache_dir=tmp_path / "cache", pip_options=pip_options, find_python=find
    )
    # WHEN two bundles are made with no CPython 3.12 to be found
    for out in (tmp_path / "out1", tmp_path / "out2"):
        assert local.try_bundle(str(out))
        # THEN they are made, without bytecode
        assert (out / "edgeauth" / "authorizer.py").is_file() and not list(out.rglob("*.pyc"))
    # AND stderr says so, once: what is missing, what it costs, how to fix it
    assert capsys.readouterr().err == NO_BYTECODE_WARNING + "\n"
    for part in (f"no CPython {PYTHON_VERSION} found", "Every cold start will compile", BYTECODE_PYTHON_ENV):
        assert part in NO_BYTECODE_WARNING


# --- the session synth -------------------------------------------------------------------------------------


def test_the_synth_ships_bytecode_exactly_when_a_cpython_of_the_runtimes_version_is_found(
    synth: Synth,
) -> None:
    asset = asset_dir(synth)
    python = find_bytecode_python()
    pycs = list(asset.rglob("*.pyc"))
    if python is None:
        assert pycs == [] and not list(asset.rglob("__pycache__"))
        return
    tag = f"cpython-{MAJOR}{MINOR}"
    assert python.cache_tag == tag
    assert {p.name.split(".", 1)[1] for p in pycs} == {f"{tag}.pyc"}
    for source in (
        *OUR_MODULES,
        "authorizer/__init__.py",
        "awscrt/auth.py",
        "cryptography/hazmat/primitives/asymmetric/rsa.py",
        "aws_lambda_powertools/__init__.py",
    ):
        pyc = pyc_of(asset, source, python)
        assert pyc.is_file(), pyc
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == UNCHECKED_HASH
    # AND the code records /var/task (read by the interpreter that compiled it: marshal is per version)
    pyc = pyc_of(asset, OUR_MODULES[0], python)
    read = "import marshal, sys; print(marshal.loads(open(sys.argv[1], 'rb').read()[16:]).co_filename)"
    shown = subprocess.run(
        [python.executable, "-I", "-c", read, str(pyc)], capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == f"{TASK_ROOT}/{OUR_MODULES[0]}"


# --- determinism -------------------------------------------------------------------------------------------


def test_two_bundles_of_the_same_inputs_have_identical_bytecode(
    tmp_path: Path, inputs: tuple[Path, tuple[str, ...]]
) -> None:
    # The asset hash is the output's: bytecode that changed between synths would redeploy every function.
    # Each compile runs in its own process (isolated: a new hash seed each), in another directory.
    found = find_bytecode_python()  # and the runtime's version, when this machine has it
    for i, python in enumerate([THIS_PYTHON] + ([found] if found else [])):
        builds = []
        for n in (1, 2):
            out = build(tmp_path / f"out-{i}-{n}", inputs, python, tmp_path / f"cache{n}")
            builds.append({str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*.pyc")})
        assert builds[0] and builds[0] == builds[1]
        assert any(name.startswith(f"{DEP}/") for name in builds[0])
        for n in (1, 2):
            shutil.rmtree(tmp_path / f"cache{n}")  # the next interpreter compiles its own install
