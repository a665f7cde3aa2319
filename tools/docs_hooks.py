"""MkDocs hooks (``hooks:`` in ``mkdocs.yml``): fill each page's generated sections from the code.

MkDocs loads this file by path and restores ``sys.path`` afterwards, so the repository (``infra``,
``bench``, ``tools``) and ``functions/`` (``edgeauth``) are put on it again when the build starts,
for the generators' imports. See :mod:`tools.docs_reference`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]


def _on_path() -> None:
    for path in (str(_ROOT / "functions"), str(_ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)


_on_path()

from tools.docs_reference import expand  # noqa: E402 - after the path set-up above


def on_config(config: Any) -> Any:
    _on_path()
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return expand(markdown, page.file.src_uri)
