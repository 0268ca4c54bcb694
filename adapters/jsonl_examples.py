"""Examples as JSON lines: the text a data file holds and the sha256 the training metrics record of it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol


class JsonLine(Protocol):
    def to_json(self) -> str: ...


def jsonl_text(examples: Iterable[JsonLine]) -> str:
    return "".join(e.to_json() + "\n" for e in examples)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_jsonl_examples(examples: Iterable[JsonLine], path: Path) -> str:
    """Write one example per line; returns the file's sha256 (recorded in the training metrics)."""
    text = jsonl_text(examples)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text_sha256(text)
