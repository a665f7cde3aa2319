"""``python -m bench.import_profile [--runs N] [--docs]``: where the authorizer's cold start goes.

Runs the cold path of row 5 (a fresh interpreter imports ``authorizer.handler`` and answers its first
request, JWKS from a loopback server, roles from moto's server) under ``python -X importtime``,
``--runs`` times, and prints two Markdown tables of import time: by top-level package and the
costliest modules, each the minimum over the runs (the least noisy estimate on a shared machine).
With ``--docs`` the tables replace the block between the ``import-profile`` markers of
docs/benchmarks.md ("Cold start: no boto3 on the request path").
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


def render(own: dict[str, int], cumulative: dict[str, int], runs: int, top: int = 12) -> str:
    total = sum(own.values())
    packages: dict[str, int] = collections.Counter()
    for module, us in own.items():
        # A C extension counts with its package: ``_awscrt`` with ``awscrt``, ``_hashlib`` with
        # ``hashlib``.
        packages[module.split(".")[0].lstrip("_") or module] += us

    def ms(us: int) -> str:
        return f"{us / 1000:.1f} ms"

    lines = [
        f"Import time of the cold path, `python -X importtime`, minimum of {runs} runs "
        f"(CPython {platform.python_version()}, {platform.machine()}): {ms(total)} in "
        f"{len(own)} modules. Produced by `python -m bench.import_profile --docs`.",
        "",
        "| package | import time (self, all its modules) | share |",
        "|---|---|---|",
    ]
    for name, us in sorted(packages.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| `{name}` | {ms(us)} | {100 * us / total:.0f} % |")
    lines += ["", "| module | self | cumulative |", "|---|---|---|"]
    for name, us in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| `{name}` | {ms(us)} | {ms(cumulative[name])} |")
    return "\n".join(lines)


def write_page(table: str, page: Path = PAGE) -> None:
    """``table`` between the ``import-profile`` markers of ``page`` (the documentation's benchmarks)."""
    text = page.read_text(encoding="utf-8")
    start, end = text.index(START) + len(START), text.index(END)
    page.write_text(text[:start] + "\n" + table + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_profile", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--docs", action="store_true", help="write the tables into docs/benchmarks.md (between its markers)"
    )
    args = parser.parse_args(argv)
    aws_test_credentials()  # the moto server's table is seeded with boto3
    own, cumulative = profile(args.runs)
    table = render(own, cumulative, args.runs)
    print(table)
    if args.docs:
        write_page(table)


if __name__ == "__main__":
    main()
