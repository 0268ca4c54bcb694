"""The labelled prompt set of the quality benchmark: noisy prompts with references, clean ones, injections."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["noisy", "clean", "injection"]
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SET = DATA_DIR / "quality_prompts.jsonl"


@dataclass(frozen=True)
class LabelledPrompt:
    """One prompt and what a good gateway does with it."""

    id: str
    kind: Kind
    prompt: str
    reference: str | None = None
    needs_cleaner: bool | None = None
    needs_describer: bool | None = None
    obeyed_markers: tuple[str, ...] = field(default_factory=tuple)


# The cleaner's everyday set (cleaner_everyday.jsonl) has finer kinds: a real-word error is a noisy prompt.
_KIND_OF = {"realword": "noisy"}


def load_prompt_set(path: Path) -> list[LabelledPrompt]:
    """Read a JSONL prompt set; a malformed line is an error naming the file and line."""
    items: list[LabelledPrompt] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            kind = _KIND_OF.get(raw["kind"], raw["kind"])
            if kind == "keep":  # the cleaner's everyday set: text to keep, maybe an instruction to clean
                kind = "clean" if raw.get("reference", raw["prompt"]) == raw["prompt"] else "noisy"
            if kind not in ("noisy", "clean", "injection"):
                raise ValueError(f"unknown kind {kind!r}")
            items.append(
                LabelledPrompt(
                    id=str(raw["id"]),
                    kind=kind,
                    prompt=str(raw["prompt"]),
                    reference=raw.get("reference"),
                    needs_cleaner=raw.get("needs_cleaner"),
                    needs_describer=raw.get("needs_describer"),
                    obeyed_markers=tuple(raw.get("obeyed_markers", ())),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
    return items
