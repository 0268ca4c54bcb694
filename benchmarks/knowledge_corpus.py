"""A deterministic synthetic encyclopedia for scale tests: realistic title and summary lengths, Zipfian words."""

from __future__ import annotations

import itertools
import json
import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_ONSETS = tuple("b br c ch d dr f g gr h k l m n p pr r s st t tr v w z".split())
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ea")
_CODAS = ("", "", "n", "r", "l", "s", "th", "nd", "m", "x")
_QUALIFIERS = ("film", "album", "river", "novel", "band", "city", "ship", "company", "play", "song")


def pseudo_word(index: int, syllables: int) -> str:
    """The index-th pronounceable pseudo-word (a bijection for a fixed syllable count)."""
    # Scrambled first (an odd multiplier coprime with the space), so consecutive indices differ in every syllable.
    index = index * 2654435761 % (len(_ONSETS) * len(_VOWELS) * len(_CODAS)) ** syllables
    parts = []
    for _ in range(syllables):
        index, onset = divmod(index, len(_ONSETS))
        index, vowel = divmod(index, len(_VOWELS))
        index, coda = divmod(index, len(_CODAS))
        parts.append(_ONSETS[onset] + _VOWELS[vowel] + _CODAS[coda])
    return "".join(parts)


@dataclass(frozen=True)
class SyntheticSpec:
    """How big the corpus is and how its words are distributed."""

    articles: int
    seed: int = 7
    vocabulary: int = 200_000  # common words of the text, Zipf-distributed
    names: int = 400_000  # name words of titles (flatter: most are rare)
    mean_words: int = 42  # pseudo-words are long: a summary of ~500 characters, like the wheel's (mean 486)


class SyntheticCorpus:
    """Yields {"title", "text"} records; the same spec always gives the same corpus."""

    def __init__(self, spec: SyntheticSpec) -> None:
        self.spec = spec
        self._rng = random.Random(spec.seed)
        self._words = [pseudo_word(i, 2 + i % 2) for i in range(spec.vocabulary)]
        self._cum_words = list(itertools.accumulate(1.0 / (r + 1) for r in range(spec.vocabulary)))
        self._names = [pseudo_word(spec.vocabulary + i, 2 + i % 2).capitalize() for i in range(spec.names)]
        self._cum_names = list(itertools.accumulate(1.0 / (r + 10) ** 0.6 for r in range(spec.names)))

    def _pick(self, pool: list[str], cum: list[float], k: int) -> list[str]:
        total = cum[-1]
        return [pool[min(bisect(cum, self._rng.random() * total), len(pool) - 1)] for _ in range(k)]

    def _title(self, seen: set[int]) -> str:
        while True:
            words = self._pick(self._names, self._cum_names, self._rng.choice((1, 2, 2, 2, 3, 3)))
            title = " ".join(words)
            if self._rng.random() < 0.05:
                title += f" ({self._rng.choice(_QUALIFIERS)})"
            key = hash(title)
            if key not in seen:
                seen.add(key)
                return title

    def _text(self, title: str) -> str:
        rng = self._rng
        count = max(8, int(rng.lognormvariate(0, 0.45) * self.spec.mean_words))
        words = self._pick(self._words, self._cum_words, count)
        head = " ".join(words[:4])
        sentences = [f"{title} is a {head} of the {self._pick(self._names, self._cum_names, 1)[0]} region."]
        rest = words[4:]
        while rest:
            size = rng.randint(9, 22)
            chunk, rest = rest[:size], rest[size:]
            if rng.random() < 0.3:
                chunk.insert(rng.randrange(len(chunk) + 1), str(rng.randint(1000, 2025)))
            sentences.append(" ".join(chunk).capitalize() + ".")
        return " ".join(sentences)

    def __iter__(self) -> Iterator[dict[str, str]]:
        seen: set[int] = set()
        for _ in range(self.spec.articles):
            title = self._title(seen)
            yield {"title": title, "text": self._text(title)}

    def write(self, path: Path) -> Path:
        """Write the corpus as JSONL (once per spec: an existing complete file is reused)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as handle:
            for record in self:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        partial.rename(path)
        return path
