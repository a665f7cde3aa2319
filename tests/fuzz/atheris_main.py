"""Coverage-guided fuzzing of the same targets with atheris (optional; not run by pytest).

    pip install atheris            # not in requirements-dev.txt: CI uses the hypothesis fuzzers
    python -m tests.fuzz.atheris_main token -max_total_time=300
    python -m tests.fuzz.atheris_main dpop -max_total_time=300
    python -m tests.fuzz.atheris_main rolefile -runs=100000

Targets: ``token``, ``dpop`` (DPoP proofs), ``role_item``, ``rolefile``, ``insights``. The corpus directory of the target
(``tests/fuzz/corpus/<target>``) seeds the run; pass another directory after the target to keep what
libFuzzer finds there, and copy a crashing input into the corpus as ``found-<what>``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable


def _targets() -> dict[str, Callable[[bytes], None]]:
    from tests.fuzz import harness

    def text(data: bytes) -> str:
        return data.decode("utf-8", errors="surrogateescape")

    def role_item(data: bytes) -> None:
        try:
            item = json.loads(data)
        except (ValueError, RecursionError):
            return
        if isinstance(item, dict) and all(isinstance(v, dict) and len(v) == 1 for v in item.values()):
            try:
                harness.check_role_item("r", item)
            except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
                # Attribute values DynamoDB itself would never return (``{"S": 1}``, ``{"N": "%.5"}``):
                # outside the parser's contract.
                return

    return {
        "token": lambda d: harness.check_token(text(d)),
        "dpop": lambda d: harness.check_dpop_proof(text(d)),
        "role_item": role_item,
        "rolefile": lambda d: harness.check_role_file(text(d)),
        "insights": lambda d: harness.check_insights(
            text(d), ['{"decision": "allow", "latency_ms": 3}', "x"]
        ),
    }


def main(argv: list[str]) -> None:
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

    # Coverage feedback for the product's code and the parsers it relies on (imported here first).
    with atheris.instrument_imports(include=["edgeauth", "edgeauth_cli", "edgeauth_local", "yaml", "jwt"]):
        import edgeauth_cli.rolefile  # noqa: F401 - imported for instrumentation
        import edgeauth_local.insights  # noqa: F401
        import tests.fuzz.harness  # noqa: F401

    from tests.fuzz.harness import CORPUS

    if len(argv) < 2 or argv[1] not in _targets():
        sys.exit(f"usage: python -m tests.fuzz.atheris_main {{{','.join(_targets())}}} [libFuzzer options]")
    name, rest = argv[1], argv[2:]
    target = _targets()[name]
    dirs = [a for a in rest if not a.startswith("-")] or [str(CORPUS / name)]
    flags = [a for a in rest if a.startswith("-")]
    atheris.Setup([argv[0], *flags, *dirs], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
