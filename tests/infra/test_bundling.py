"""The Lambda asset: built without Docker, with cryptography for Linux arm64; missing wheels fail clearly."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from edgeauth import constants as C
from infra.bundling import PLATFORM, PYTHON_VERSION, REQUIREMENTS, BundlingError, install_requirements
from tests.infra.conftest import Synth

EM_AARCH64 = 183  # ELF e_machine of 64-bit ARM


def asset_dir(synth: Synth) -> Path:
    keys = {f["Properties"]["Code"]["S3Key"] for f in synth.resources("AWS::Lambda::Function").values()}
    assert len(keys) == 1, "every function runs the one shared asset"
    (key,) = keys
    path = synth.outdir / f"asset.{key.removesuffix('.zip')}"
    assert path.is_dir()
    return path


def test_asset_contains_cryptography_built_for_linux_aarch64(synth: Synth) -> None:
    asset = asset_dir(synth)
    (dist_info,) = asset.glob("cryptography-*.dist-info")
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist_info / "WHEEL").read_text().splitlines()
        if line.startswith("Tag:")
    ]
    assert tags and all(tag.endswith("aarch64") and "manylinux" in tag for tag in tags), tags
    shared_objects = list((asset / "cryptography").rglob("*.so"))
    assert shared_objects
    for so in shared_objects:
        header = so.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", so
        assert header[4] == 2, f"{so} is not 64-bit"
        assert struct.unpack_from("<H", header, 18)[0] == EM_AARCH64, f"{so} is not built for aarch64"


def test_asset_contains_awscrt_built_for_linux_aarch64(synth: Synth) -> None:
    # The authorizer's DynamoDB client signs and connects with awscrt (no boto3 on its path).
    asset = asset_dir(synth)
    (dist_info,) = asset.glob("awscrt-*.dist-info")
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist_info / "WHEEL").read_text().splitlines()
        if line.startswith("Tag:")
    ]
    assert tags and all(tag.endswith("aarch64") for tag in tags), tags
    (native,) = asset.glob("_awscrt*.so")
    header = native.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and struct.unpack_from("<H", header, 18)[0] == EM_AARCH64


def test_awscrt_is_pinned_in_the_bundles_requirements() -> None:
    pins = [line.split("==") for line in REQUIREMENTS.read_text().splitlines() if line.startswith("awscrt")]
    assert len(pins) == 1 and pins[0][0] == "awscrt" and pins[0][1]


def test_a_bundle_without_an_awscrt_wheel_fails_naming_awscrt(tmp_path: Path) -> None:
    # GIVEN the bundle's awscrt pin and a package index without it (an empty offline wheelhouse)
    requirements = tmp_path / "requirements.txt"
    (pin,) = [line for line in REQUIREMENTS.read_text().splitlines() if line.startswith("awscrt==")]
    requirements.write_text(pin + "\n")
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    # WHEN bundling for Lambda THEN the error names awscrt and the platform
    with pytest.raises(BundlingError) as info:
        install_requirements(
            requirements, tmp_path / "cache", pip_options=("--no-index", "--find-links", str(wheelhouse))
        )
    assert f"no wheel of {pin!r}" in str(info.value) and PLATFORM in str(info.value)


def test_asset_contains_the_code_and_no_local_artifacts(synth: Synth) -> None:
    asset = asset_dir(synth)
    assert (asset / "edgeauth" / "constants.py").is_file()
    assert not (asset / "jwt").exists()  # verification uses cryptography directly (core/jose.py)
    assert (asset / "aws_lambda_powertools").is_dir()
    # No local byte-code caches: the only .pyc files are the runtime's, compiled for the bundle
    # (tests/infra/test_bytecode.py), never a copy of this machine's (cpython-311…).
    assert {p.name.split(".", 1)[1] for p in asset.rglob("*.pyc")} <= {
        f"cpython-{PYTHON_VERSION.replace('.', '')}.pyc"
    }
    assert all(p.parent.name == "__pycache__" for p in asset.rglob("*.pyc"))
    assert not (asset / "bin").exists()
    assert not (asset / "tests").exists()
    assert C.HANDLER_AUTHORIZER.startswith("authorizer.")
    assert (asset / "authorizer").is_dir()


def test_missing_wheel_is_a_clear_error_naming_the_requirement(tmp_path: Path) -> None:
    # GIVEN a requirement no wheel exists for (an empty offline wheelhouse: no network needed)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("edgeauth-missing-wheel==1.0\n")
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    # WHEN installing for the Lambda platform THEN the error names it and the platform
    with pytest.raises(BundlingError) as info:
        install_requirements(
            requirements,
            tmp_path / "cache",
            pip_options=("--no-index", "--find-links", str(wheelhouse)),
        )
    message = str(info.value)
    assert "no wheel of 'edgeauth-missing-wheel==1.0'" in message
    assert PLATFORM in message
    # AND nothing half-installed is left to be mistaken for a complete install
    assert not [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]


def test_install_is_cached_by_requirements_content(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("")  # nothing to install: exercises the cache without the network
    cache = tmp_path / "cache"
    first = install_requirements(requirements, cache, pip_options=("--no-index",))
    marker = first / ".complete"
    assert marker.is_file()
    stamp = marker.stat().st_mtime_ns
    assert install_requirements(requirements, cache, pip_options=("--no-index",)) == first
    assert marker.stat().st_mtime_ns == stamp
    requirements.write_text("# changed\n")
    assert install_requirements(requirements, cache, pip_options=("--no-index",)) != first
