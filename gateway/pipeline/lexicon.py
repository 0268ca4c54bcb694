"""The English word list, word-pair counts and spelling corrector, loaded once per app from symspellpy."""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from symspellpy import SymSpell, Verbosity
from symspellpy.editdistance import DistanceAlgorithm, EditDistance

from config.cluster import SpellingConfig

DICTIONARY_FILE = "frequency_dictionary_en_82_765.txt"
BIGRAM_FILE = "frequency_bigramdictionary_en_243_342.txt"

# Everyday words of prompts that the 2016-era frequency dictionary lacks; known, never corrected.
EXTRA_WORDS = frozenset(
    """ok ai api apis url urls html css sql pdf pdfs csv json yaml xml http https www npm github gitlab
    blockchain crypto cryptocurrency bitcoin ethereum dataset datasets chatbot chatbots chatgpt openai llm llms
    gpt instagram tiktok kubernetes pytorch tensorflow numpy scipy async backend frontend javascript typescript
    eg ie vs etc covid emoji emojis username usernames login logout signup webhook webhooks microservice
    microservices devops podcast podcasts selfie smartwatch""".split()
)

# Names people type in lower case that are never anything else (so: no "china", "turkey", "may", "polish",
# "nice", "reading", "jordan"): the local cleaner capitalises them.
PROPER_NOUNS = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february april june july september
    october november december africa america antarctica asia australia europe afghanistan albania algeria
    argentina armenia austria bangladesh belgium bolivia brazil bulgaria cambodia cameroon canada colombia
    croatia cuba denmark ecuador egypt england estonia ethiopia finland france germany ghana greece hungary
    iceland india indonesia iran iraq ireland israel italy jamaica japan kenya korea latvia lebanon lithuania
    malaysia mexico mongolia morocco nepal netherlands nigeria norway pakistan peru philippines poland portugal
    romania russia scotland senegal serbia singapore slovakia slovenia somalia spain sweden switzerland syria
    taiwan tanzania thailand tunisia uganda ukraine uruguay venezuela vietnam zimbabwe amsterdam athens
    bangkok barcelona beijing berlin boston brussels budapest cairo chicago copenhagen delhi dublin edinburgh
    istanbul jerusalem lisbon london madrid melbourne milan montreal moscow mumbai munich oslo paris prague
    rome seoul shanghai stockholm sydney tokyo toronto vancouver venice vienna warsaw zurich english french
    german spanish italian portuguese russian japanese chinese korean arabic hindi dutch swedish norwegian
    danish finnish greek hebrew irish scottish welsh british american canadian australian mexican brazilian
    indian african european asian christmas easter google youtube facebook wikipedia""".split()
)

# A listed name whose capitals are not just its first letter.
_WRITTEN = {"youtube": "YouTube"}

_VARIANTS = (("er", "re"), ("re", "er"), ("or", "our"), ("our", "or"), ("ize", "ise"), ("ise", "ize"))
_CONSONANT_RE = (("er", "re"), ("re", "er"))


def _after_consonant(stem: str, ending: str, tail: str) -> bool:
    before = stem[-len(ending) - 1 : -len(ending)]
    return tail in ("", "s") and bool(before) and before not in "aeiouy"


_VARIANT_INFIXES = (("iz", "is"), ("is", "iz"), ("yz", "ys"), ("ys", "yz"), ("or", "our"), ("our", "or"))


def spelling_variants(word: str) -> list[str]:
    """American/British spellings of a word (kilometers/kilometres, color/colour, organize/organise ...)."""
    stem = word
    for suffix in ("s", "ed", "ing", "d"):
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            stem = word[: -len(suffix)]
            break
    tail = word[len(stem) :]
    # centre/center: after a consonant, with a plural at most ("wierd" is not "wired", "compaer" not "compare").
    out = [
        stem[: -len(a)] + b + tail
        for a, b in _VARIANTS
        if stem.endswith(a) and ((a, b) not in _CONSONANT_RE or _after_consonant(stem, a, tail))
    ]
    for a, b in _VARIANT_INFIXES:
        at = word.rfind(a)
        if at > 2:
            out.append(word[:at] + b + word[at + len(a) :])
    return out


@functools.cache
def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    """Each letter's neighbours on a QWERTY keyboard (a row is offset half a key from the one above it)."""
    rows = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    out: dict[str, set[str]] = {}
    for r, row in enumerate(rows):
        for c, key in enumerate(row):
            near = out.setdefault(key, set())
            near.update(row[max(c - 1, 0) : c + 2])
            if r > 0:
                near.update(rows[r - 1][c : c + 2])
            if r + 1 < len(rows):
                near.update(rows[r + 1][max(c - 1, 0) : c + 1])
            near.discard(key)
    return {key: frozenset(near) for key, near in out.items()}


def _substitution_kind(typo: str, term: str) -> int:
    """1 for a key next to the right one ("fqll" for "fall": q is beside a), 0 for any other substitution or one
    of the first letter (people rarely miss it: "reeding" is not "feeding")."""
    differ = [i for i, (a, b) in enumerate(zip(typo, term, strict=True)) if a != b]
    if len(differ) != 1 or differ[0] == 0:
        return 0  # two edits: neither kind is likelier
    return 1 if typo[differ[0]] in _keyboard_neighbours().get(term[differ[0]], frozenset()) else 0


def _edit_kind(typo: str, term: str) -> int:
    """2 for restoring a letter (or undoing a doubled one), 1 for a neighbouring key, 0 for another substitution,
    -1 for dropping a letter. A first letter left out is as rare as a substitution ("reeding" is "reading", not
    "breeding"); a slip of two edits has no likelier kind ("bossyon": "boston", not "bassoon")."""
    if len(term) == len(typo):
        return _substitution_kind(typo, term)
    longer, shorter = (term, typo) if len(term) > len(typo) else (typo, term)
    cuts = [i for i in range(len(longer)) if longer[:i] + longer[i + 1 :] == shorter]
    if not cuts:
        return 0
    if longer is term:
        return 0 if cuts == [0] else 2
    undoubled = any(typo[i] == typo[i + 1] for i in cuts if i + 1 < len(typo)) or any(
        typo[i - 1] == typo[i] for i in cuts if i
    )
    return 2 if undoubled else -1


_CORRECTIONS_CACHED = 50_000
_VARIANT_MIN = 500_000


def slip_rank(typo: str, term: str) -> tuple[bool, int]:
    """How likely a slip turned `term` into `typo` at equal distance: a transposition (not of the first letter:
    people rarely miss it, "olws" is "owls", not "lows"), then the edit kind."""
    return sorted(term) == sorted(typo) and typo[:1] == term[:1], _edit_kind(typo, term)


def _read_bigrams() -> dict[str, int]:
    pairs: dict[str, int] = {}
    source = importlib.resources.files("symspellpy") / BIGRAM_FILE
    with source.open("r", encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 3:
                pairs[f"{parts[0]} {parts[1]}"] = int(parts[2])
    return pairs


@dataclass(frozen=True)
class Lexicon:
    """Word frequencies for detection (the whole dictionary) and a pruned SymSpell index for correction."""

    counts: Mapping[str, int]
    speller: SymSpell
    max_edit_distance: int
    comparer: EditDistance
    # "first second" -> count (Google n-grams; the rarest listed pair is ~6e6, an absent pair is rarer than that).
    bigrams: Mapping[str, int] = field(default_factory=dict)
    total: int = 1  # the sum of all word counts
    # Proper names of several words, lower-case -> as written (from the knowledge index's titles; empty without).
    names: Mapping[str, str] = field(default_factory=dict)
    # Each name's words with one left out ("" in its place) -> the names (lower-case) that have them: how a
    # name typed with one word misspelt is found without comparing it with every name.
    name_slots: Mapping[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    # The names made of common words ("cold war"), capitalised only after "the" (names.usage_names).
    common_word_names: frozenset[str] = frozenset()
    # Words the knowledge index's articles use: a spelling of its own ("Dmitry"), never a slip of a name's word.
    corpus_words: frozenset[str] = frozenset()
    # Single words that are names, typed in lower case ("kyoto"): capitalised like PROPER_NOUNS (names.py).
    single_names: frozenset[str] = frozenset()
    # Words the articles write in lower case inside a sentence: words of their own ("codomain"), not slips.
    prose_words: frozenset[str] = frozenset()
    # correct() is pure and the hot path's costliest call (symspell lookups): memoised, bounded.
    _corrections: dict[tuple[str, int], str | None] = field(default_factory=dict, compare=False, repr=False)
    _candidates: dict[tuple[str, int], tuple[tuple[str, int, int], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

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
        return cls(counts, speller, config.max_edit_distance, comparer, _read_bigrams(), sum(counts.values()))

    def with_names(
        self,
        names: Mapping[str, str],
        corpus_words: Iterable[str] = (),
        single_names: Iterable[str] = (),
        prose_words: Iterable[str] = (),
        common_word_names: Mapping[str, str] | None = None,
    ) -> Lexicon:
        """This lexicon with lists of proper names (see names.name_phrases, names.single_names) and the words of
        their articles."""
        names = {**names, **(common_word_names or {})}
        slots: dict[tuple[str, ...], list[str]] = {}
        for key in names:
            words = key.split(" ")
            for at in range(len(words)):
                slots.setdefault((*words[:at], "", *words[at + 1 :]), []).append(key)
        name_slots = {slot: tuple(keys) for slot, keys in slots.items()}
        return dataclasses.replace(
            self,
            names=dict(names),
            name_slots=name_slots,
            corpus_words=frozenset(corpus_words),
            single_names=frozenset(single_names),
            prose_words=frozenset(prose_words),
            common_word_names=frozenset(common_word_names or ()),
            _corrections={},
            _candidates={},
        )

    def lower_case_name(self, word: str) -> bool:
        """Whether a word as typed is a name in lower case that the cleaner capitalises ("paris", "kyoto")."""
        return word in PROPER_NOUNS or word in self.single_names

    def as_name(self, word: str) -> str:
        """A listed name (see `lower_case_name`) as it is written: "Paris", "YouTube"."""
        lower = word.lower()
        return _WRITTEN.get(lower, lower.capitalize())

    def known(self, word: str) -> bool:
        """Whether a word (any case) is an English word, including plain contractions like "don't"."""
        lower = word.lower()
        if lower in self.counts or lower in EXTRA_WORDS:
            return True
        # Only a common word's other spelling: "comparre" is no British "comparer"; and never an "-ize" the
        # dictionary lacks ("exercize": the dictionary has the American spellings that exist).
        variants = [v for v in spelling_variants(lower) if v.count("z") >= lower.count("z")]
        if any(self.counts.get(variant, 0) >= _VARIANT_MIN for variant in variants):
            return True
        if "'" in lower:
            stem = lower.split("'", 1)[0]
            return not stem or stem in self.counts or (stem.endswith("n") and stem[:-1] in self.counts)
        return False

    def articles_word(self, typed: str) -> bool:
        """A word the encyclopedia uses as typed: a name there when capitalised ("Frege", "Romania"), a word of its
        own when the articles write it in lower case too ("codomain"; not "anser", only ever the genus "Anser")."""
        lower = typed.lower()
        return lower in self.prose_words if typed.islower() else lower in self.corpus_words

    def count(self, word: str) -> int:
        return self.counts.get(word, 0)

    def pair(self, first: str, second: str) -> int:
        """How often `first second` occurs (0 when the pair is not in the bigram list)."""
        return self.bigrams.get(f"{first} {second}", 0)

    def candidates(self, word: str, limit: int) -> tuple[tuple[str, int, int], ...]:
        """The closest correction targets within `limit` edits as (term, distance, count), commonest first."""
        key = (word.lower(), limit)
        cached = self._candidates.get(key)
        if cached is None:
            if len(self._candidates) >= _CORRECTIONS_CACHED:
                self._candidates.clear()
            found = self.speller.lookup(key[0], Verbosity.CLOSEST, max_edit_distance=limit)
            cached = tuple((str(item.term), int(item.distance), int(item.count)) for item in found)
            self._candidates[key] = cached
        return cached

    def neighbours(self, word: str) -> tuple[tuple[str, int], ...]:
        """The correction targets one edit away from a word (not the word itself) as (term, count)."""
        key = (word.lower(), -1)  # -1: its own slot in the candidates' cache
        cached = self._candidates.get(key)
        if cached is None:
            if len(self._candidates) >= _CORRECTIONS_CACHED:
                self._candidates.clear()
            found = self.speller.lookup(key[0], Verbosity.ALL, max_edit_distance=1)
            cached = tuple((str(i.term), int(i.distance), int(i.count)) for i in found if i.distance == 1)
            self._candidates[key] = cached
        return tuple((term, count) for term, _, count in cached)

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
        best = max(found, key=lambda item: (*slip_rank(lower, item.term), item.count))
        if best.term == lower:
            return None
        # A tie at the smallest distance between two common words is ambiguous only if close in frequency.
        rivals = [item for item in found if item.term != best.term and item.count * 3 > best.count]
        return None if rivals and best.distance > 1 else str(best.term)
