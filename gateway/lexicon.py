"""The English word list and spelling corrector, loaded once per app from symspellpy's frequency dictionary."""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field

from symspellpy import SymSpell, Verbosity
from symspellpy.editdistance import DistanceAlgorithm, EditDistance

from config.cluster import SpellingConfig

DICTIONARY_FILE = "frequency_dictionary_en_82_765.txt"

# Everyday words of prompts that the 2016-era frequency dictionary lacks; known, never corrected.
EXTRA_WORDS = frozenset(
    """ok ai api apis url urls html css sql pdf pdfs csv json yaml xml http https www npm github gitlab
    blockchain crypto cryptocurrency bitcoin ethereum dataset datasets chatbot chatbots chatgpt openai llm llms
    gpt instagram tiktok kubernetes pytorch tensorflow numpy scipy async backend frontend javascript typescript
    eg ie vs etc covid emoji emojis username usernames login logout signup webhook webhooks microservice
    microservices devops podcast podcasts selfie smartwatch""".split()
)


_VARIANTS = (("er", "re"), ("re", "er"), ("or", "our"), ("our", "or"), ("ize", "ise"), ("ise", "ize"))
_VARIANT_INFIXES = (("iz", "is"), ("is", "iz"), ("yz", "ys"), ("ys", "yz"), ("or", "our"), ("our", "or"))


def spelling_variants(word: str) -> list[str]:
    """American/British spellings of a word (kilometers/kilometres, color/colour, organize/organise ...)."""
    stem = word
    for suffix in ("s", "ed", "ing", "d"):
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            stem = word[: -len(suffix)]
            break
    tail = word[len(stem) :]
    out = [stem[: -len(a)] + b + tail for a, b in _VARIANTS if stem.endswith(a)]
    for a, b in _VARIANT_INFIXES:
        at = word.rfind(a)
        if at > 2:
            out.append(word[:at] + b + word[at + len(a) :])
    return out


def _edit_kind(typo: str, term: str) -> int:
    """1 for restoring a letter (or undoing a doubled one), 0 for a substitution, -1 for dropping a letter."""
    if len(term) > len(typo):
        return 1
    if len(term) == len(typo):
        return 0
    undoubled = any(typo[i] == typo[i + 1] and typo[:i] + typo[i + 1 :] == term for i in range(len(typo) - 1))
    return 1 if undoubled else -1


_CORRECTIONS_CACHED = 50_000


@dataclass(frozen=True)
class Lexicon:
    """Word frequencies for detection (the whole dictionary) and a pruned SymSpell index for correction."""

    counts: Mapping[str, int]
    speller: SymSpell
    max_edit_distance: int
    comparer: EditDistance
    # correct() is pure and the hot path's costliest call (symspell lookups): memoised, bounded.
    _corrections: dict[tuple[str, int], str | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, config: SpellingConfig) -> Lexicon:
        """Read the bundled dictionary; only words at least `min_count` frequent become correction targets."""
        counts: dict[str, int] = {}
        source = importlib.resources.files("symspellpy") / DICTIONARY_FILE
        with source.open("r", encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2:
                    counts[parts[0]] = int(parts[1])
        speller = SymSpell(
            max_dictionary_edit_distance=config.max_edit_distance,
            prefix_length=config.prefix_length,
            count_threshold=1,
        )
        for word, count in counts.items():
            if count >= config.min_count:
                speller.create_dictionary_entry(word, count)
        comparer = EditDistance(DistanceAlgorithm.DAMERAU_OSA)
        return cls(counts, speller, config.max_edit_distance, comparer)

    def known(self, word: str) -> bool:
        """Whether a word (any case) is an English word, including plain contractions like "don't"."""
        lower = word.lower()
        if lower in self.counts or lower in EXTRA_WORDS:
            return True
        if any(variant in self.counts for variant in spelling_variants(lower)):
            return True
        if "'" in lower:
            stem = lower.split("'", 1)[0]
            return not stem or stem in self.counts or (stem.endswith("n") and stem[:-1] in self.counts)
        return False

    def distance(self, first: str, second: str, limit: int) -> int:
        """Damerau (OSA) edit distance, or -1 when it exceeds `limit`."""
        return int(self.comparer.compare(first, second, limit))

    def correct(self, word: str, max_distance: int | None = None) -> str | None:
        """The most frequent known word within the edit distance (1 for words up to 4 letters), or None."""
        lower = word.lower()
        limit = 1 if len(lower) <= 4 else self.max_edit_distance
        if max_distance is not None:
            limit = min(limit, max_distance)
        if len(lower) < 3 or limit < 1:
            return None
        key = (lower, limit)
        if key in self._corrections:
            return self._corrections[key]
        if len(self._corrections) >= _CORRECTIONS_CACHED:
            self._corrections.clear()
        corrected = self._lookup(lower, limit)
        self._corrections[key] = corrected
        return corrected

    def _lookup(self, lower: str, limit: int) -> str | None:
        found = self.speller.lookup(lower, Verbosity.CLOSEST, max_edit_distance=limit)
        if not found:
            return None
        # At equal distance: same letters reordered (a transposition) first, then restoring an omitted letter
        # (the commonest slip), then a substitution, then dropping a letter; frequency breaks the rest.
        letters = sorted(lower)
        best = max(
            found,
            key=lambda item: (sorted(item.term) == letters, _edit_kind(lower, item.term), item.count),
        )
        if best.term == lower:
            return None
        # A tie at the smallest distance between two common words is ambiguous only if close in frequency.
        rivals = [item for item in found if item.term != best.term and item.count * 3 > best.count]
        return None if rivals and best.distance > 1 else str(best.term)
