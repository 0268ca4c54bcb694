"""Hallucination judges: score how well an answer is supported by its source (1.0 fully, 0.0 not at all)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

_WORDS = re.compile(r"[a-z0-9]+")
_COMMON = frozenset(
    "a an the is are was were be of in on at to for and or but with by as it its this that what who which when"
    " where why how do does did can could should would will not no yes i you he she we they".split()
)


class Judge(Protocol):
    """Scores (premise, hypothesis) pairs: the probability that the hypothesis is consistent with the premise."""

    name: str

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]: ...


class OverlapJudge:
    """Deterministic stand-in: the share of the answer's content words that occur in the source."""

    name = "overlap"

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        out: list[float] = []
        for premise, hypothesis in pairs:
            source = set(_WORDS.findall(premise.lower()))
            words = [w for w in _WORDS.findall(hypothesis.lower()) if w not in _COMMON]
            out.append(sum(1 for w in words if w in source) / len(words) if words else 1.0)
        return out


class HhemJudge:
    """Vectara's HHEM-2.1-Open from a local directory (its own modelling code, hence trust_remote_code).

    The model builds on flan-t5-base, whose tokenizer and config it loads by name; with no hub, pass the
    directory holding flan-t5-base as `foundation`.
    """

    name = "hhem-2.1-open"

    def __init__(self, model_dir: Path, foundation: Path | None = None, batch_size: int = 8) -> None:
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir} has no config.json: not an HHEM model directory")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoConfig, AutoModelForSequenceClassification

        config = AutoConfig.from_pretrained(str(model_dir), trust_remote_code=True)
        if foundation is not None:
            config.foundation = str(foundation)
        self._model: Any = AutoModelForSequenceClassification.from_pretrained(
            str(model_dir), config=config, trust_remote_code=True
        )
        self._model.eval()
        self._batch_size = batch_size

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        import torch

        out: list[float] = []
        with torch.no_grad():
            for start in range(0, len(pairs), self._batch_size):
                batch = list(pairs[start : start + self._batch_size])
                scores = self._model.predict(batch)
                out.extend(float(s) for s in scores.tolist())
        return out
