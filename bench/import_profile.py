"""``python -m bench.import_profile [--runs N] [--docs]``: where the authorizer's cold start goes.

Runs the cold path of row 5 (a fresh interpreter imports ``authorizer.handler`` and answers its first
request, JWKS from a loopback server, roles from moto's server) under ``python -X importtime``,
``--runs`` times, and prints two Markdown tables of import time: by top-level package and the
costliest modules, each the minimum over the runs (the least noisy estimate on a shared machine).
With ``--docs`` the tables replace the block between the ``import-profile`` markers of
docs/benchmarks.md ("Cold start: no boto3 on the request path"), and a few lines of summary (the
largest packages) the block between the ``import-summary`` markers of the README.
"""

from __future__ import annotations

import argparse
import collections
import platform
import re
import subprocess
from pathlib import Path

from bench.cold_start import handler_env, lambda_like_python, ours
from bench.world import aws_test_credentials, token_claims
from tests.support.tokens import jwks, make_key, sign

PAGE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START = "<!-- import-profile:start -->"
END = "<!-- import-profile:end -->"
README = PAGE.parent.parent / "README.md"
SUMMARY_START = "<!-- import-summary:start -->"
SUMMARY_END = "<!-- import-summary:end -->"
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def profile(runs: int) -> tuple[dict[str, int], dict[str, int]]:
    """Per module, the smallest self and cumulative import time (µs) over ``runs`` cold starts."""
    key = make_key("RS256", "rs-1")
    own: dict[str, list[int]] = collections.defaultdict(list)
    cumulative: dict[str, list[int]] = collections.defaultdict(list)
    with (
        handler_env(jwks(key), sign(key, token_claims("jti-import-profile"))) as env,
        lambda_like_python() as python,
    ):
        for _ in range(runs):
            proc = subprocess.run(
                # The launcher's answer pipe is not there: the child answers on its stdout instead.
                [python, "-X", "importtime", "-c", ours(answer_fd=1)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"cold path failed: {proc.stderr[-2000:]}")
            for line in proc.stderr.splitlines():
                match = LINE.match(line)
                if match:
                    own[match[4]].append(int(match[1]))
                    cumulative[match[4]].append(int(match[2]))
    return {m: min(v) for m, v in own.items()}, {m: min(v) for m, v in cumulative.items()}


def by_package(own: dict[str, int]) -> dict[str, int]:
    """Import time (µs) by top-level package, largest first. A C extension counts with its
    package: ``_awscrt`` with ``awscrt``, ``_hashlib`` with ``hashlib``."""
    packages: dict[str, int] = collections.Counter()
    for module, us in own.items():
        packages[module.split(".")[0].lstrip("_") or module] += us
    return dict(sorted(packages.items(), key=lambda kv: -kv[1]))


def ms(us: int) -> str:
    return f"{us / 1000:.1f} ms"


def headline(own: dict[str, int], runs: int) -> str:
    """What was measured, and the total."""
    return (
        f"Import time of the cold path, `python -X importtime`, minimum of {runs} runs "
        f"(CPython {platform.python_version()}, {platform.machine()}): {ms(sum(own.values()))} in "
        f"{len(own)} modules"
    )


def render(own: dict[str, int], cumulative: dict[str, int], runs: int, top: int = 12) -> str:
    total = sum(own.values())
    packages = by_package(own)
    lines = [
        f"{headline(own, runs)}. Produced by `python -m bench.import_profile --docs`.",
        "",
        "| package | import time (self, all its modules) | share |",
        "|---|---|---|",
    ]
    for name, us in list(packages.items())[:top]:
        lines.append(f"| `{name}` | {ms(us)} | {100 * us / total:.0f} % |")
    lines += ["", "| module | self | cumulative |", "|---|---|---|"]
    for name, us in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| `{name}` | {ms(us)} | {ms(cumulative[name])} |")
    return "\n".join(lines)


def summary(own: dict[str, int], runs: int, top: int = 4) -> str:
    """The README's few lines: the total and the ``top`` largest packages, the rest in one sum."""
    total = sum(own.values())
    largest = list(by_package(own).items())[:top]
    parts = [f"`{name}` {ms(us)} ({100 * us / total:.0f} %)" for name, us in largest]
    rest = total - sum(us for _, us in largest)
    return (
        f"{headline(own, runs)}: {', '.join(parts)}, everything else {ms(rest)} (the Lambda runtime's "
        "own modules among it). Produced by `python -m bench.import_profile --docs`; the whole table: "
        "[the cold path's import profile](docs/benchmarks.md#cold-start-no-boto3-on-the-request-path)."
    )


def write_page(table: str, page: Path = PAGE, start_marker: str = START, end_marker: str = END) -> None:
    """``table`` between the markers of ``page`` (by default the documentation's benchmarks and the
    ``import-profile`` markers)."""
    text = page.read_text(encoding="utf-8")
    start, end = text.index(start_marker) + len(start_marker), text.index(end_marker)
    page.write_text(text[:start] + "\n" + table + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_profile", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--docs",
        action="store_true",
        help="write the tables into docs/benchmarks.md and the summary into README.md (between their markers)",
    )
    args = parser.parse_args(argv)
    aws_test_credentials()  # the moto server's table is seeded with boto3
    own, cumulative = profile(args.runs)
    table = render(own, cumulative, args.runs)
    print(table)
    if args.docs:
        write_page(table)
        write_page(summary(own, args.runs), README, SUMMARY_START, SUMMARY_END)


if __name__ == "__main__":
    main()
