"""Proper names of several words typed in lower case ("the roman empire"), capitalised from a list of titles."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping

from gateway.pipeline import context, wording
from gateway.pipeline.lexicon import Lexicon

# Lower-case words a proper name may hold between its capitalised ones ("Leonardo da Vinci", "Joan of Arc").
PARTICLES = frozenset("da de di du del della der den van von la le of the and y al bin ibn el".split())
_TITLE_WORD = re.compile(r"^(?:[A-Z][a-z]+(?:'[a-z]+)?|[A-Z]{1,4})$")
MAX_NAME_WORDS = 4
# A word is taken for a name when its articles capitalise it inside a sentence this often, never writing it lower-case.
SINGLE_NAME_MIN_COUNT = 10
USAGE_MIN_COUNT = 3
USAGE_RATIO = 10
# The bigram list counts pairs as written in lower case: "solar system" 101M, "middle east" 33M, "cold war" 28M,
# "black sea" unlisted (always capitalised).
_LOWER_CASE_PAIR = 50_000_000
_COMMON_SENSES = frozenset("bang jersey ford smith martin java august mark bill grant rose tang".split())
_MIN_SINGLE_NAME = 4  # "jin", "inc": too short to tell from other words
# A misspelt word of a name: 4+ plain letters ("Khayyám" and "Shi'a" are spellings of their own; shorter words are
# one slip from too many names' words).
_PLAIN = re.compile(r"^[a-z]{4,}$")


def _name_shaped(title: str) -> bool:
    """2-4 words, each capitalised (a particle aside), the first and last too ("Joan of Arc", not "Machine
    learning")."""
    parts = title.split(" ")
    if not 2 <= len(parts) <= MAX_NAME_WORDS or not _TITLE_WORD.match(parts[0]) or not _TITLE_WORD.match(parts[-1]):
        return False
    return len(title.lower()) == len(title) and all(_TITLE_WORD.match(p) or p in PARTICLES for p in parts)


def _all_common(title: str, lexicon: Lexicon) -> bool:
    return all(context.common_word(lexicon, p.lower()) for p in title.split(" ") if p not in PARTICLES)


def name_phrases(titles: Iterable[str], lexicon: Lexicon) -> dict[str, str]:
    """Lower-case phrase -> the name as written, for name-shaped titles with one word at least that is no common
    word: "Charles Darwin" is capitalised by all writers ("Cold War": see usage_names)."""
    return {t.lower(): t for t in titles if _name_shaped(t) and not _all_common(t, lexicon)}


def common_word_titles(titles: Iterable[str], lexicon: Lexicon) -> dict[str, str]:
    """The name-shaped titles made of common words only ("Cold War", "Local Group"), lower-case -> as written."""
    return {t.lower(): t for t in titles if _name_shaped(t) and _all_common(t, lexicon)}


def usage_names(written: Mapping[str, tuple[int, int]], titles: Mapping[str, str], lexicon: Lexicon) -> dict[str, str]:
    """Of titles made of common words, those the articles write as a name inside a sentence at least
    USAGE_MIN_COUNT times and in lower case at most 1/USAGE_RATIO as often: "the Cold War" (24 to 1), "the Middle
    Ages" (67 to 0); not "the North Pole" (8 to 2), which writers also put in lower case, nor a name whose
    lower-case pair is among the commonest of the bigram list ("the solar system": neither way is wrong)."""
    return {
        key: titles[key]
        for key, (named, lower) in written.items()
        if named >= USAGE_MIN_COUNT and lower * USAGE_RATIO <= named and not _lower_case_usage(key, lexicon)
    }


def _lower_case_usage(key: str, lexicon: Lexicon) -> bool:
    words = key.split(" ")
    return any(lexicon.pair(a, b) >= _LOWER_CASE_PAIR for a, b in itertools.pairwise(words))


def single_names(capitalised_words: Iterable[str], lexicon: Lexicon) -> set[str]:
    """Of the words an encyclopedia only ever capitalises inside a sentence, those a prompt may type in lower case
    and mean only the name: not a common word ("bible" is listed after "the" as often as a word is), and not one
    with a common lower-case sense its articles happen not to use ("a loud bang", "a football jersey")."""
    return {
        w
        for w in capitalised_words
        if len(w) >= _MIN_SINGLE_NAME and w not in _COMMON_SENSES and not context.common_word(lexicon, w)
    }


def capitalised(text: str, lexicon: Lexicon) -> str:
    """`text` with each listed name that it has in lower case written as the name is ("charles darwin"); a name
    made of common words only after "the" ("the cold war", never "a cold war")."""
    names = lexicon.names
    if not names:
        return text
    found = [w for w in wording.words(text) if not w.protected or w.kind == "name"]
    out = text
    at = 0
    while at < len(found):
        size = _longest_name(text, found, at, lexicon)
        if size:
            span = found[at : at + size]
            name = names[" ".join(w.text.lower() for w in span)]
            out = out[: span[0].start] + name + out[span[-1].end :]  # same length: positions stay valid
            at += size
        else:
            at += 1
    return out


def _longest_name(text: str, found: list[wording.Word], at: int, lexicon: Lexicon) -> int:
    """How many words from `at` form a listed name typed with a lower-case word in it (0: none)."""
    after_the = at > 0 and found[at - 1].text.lower() == "the" and text[found[at - 1].end : found[at].start] == " "
    for size in range(min(MAX_NAME_WORDS, len(found) - at), 1, -1):
        span = found[at : at + size]
        if any(text[a.end : b.start] != " " for a, b in itertools.pairwise(span)):
            continue
        key = " ".join(w.text.lower() for w in span)
        # All in lower case: a name the writer partly capitalised ("ancient Greece") is cased as they meant.
        lowered = all(w.text[0].islower() for w in span)
        if key in lexicon.names and lowered and (after_the or key not in lexicon.common_word_names):
            return size
    return 0


def mended(text: str, lexicon: Lexicon) -> tuple[str, list[tuple[str, str]]]:
    """`text` with each listed name typed with one word misspelt written as the name is ("Ada Lovepace",
    "marie chrie"), and the (typed, fixed) words. Only a word that neither the dictionary nor the articles use,
    of 4+ plain letters, one slip from the name's word with the same first letter, and only when a single listed
    name fits."""
    if not lexicon.name_slots:
        return text, []
    found = [w for w in wording.words(text) if not w.protected or w.kind == "name"]
    pieces: list[str] = []
    fixes: list[tuple[str, str]] = []
    cursor = at = 0
    while at < len(found):
        size, name = _near_name(text, found, at, lexicon)
        if not size:
            at += 1
            continue
        span = found[at : at + size]
        fixes += [(w.text, n) for w, n in zip(span, name.split(" "), strict=True) if w.text.lower() != n.lower()]
        pieces += [text[cursor : span[0].start], name]
        cursor = span[-1].end
        at += size
    return "".join([*pieces, text[cursor:]]), fixes


def _near_name(text: str, found: list[wording.Word], at: int, lexicon: Lexicon) -> tuple[int, str]:
    """(words, the name as written) of the listed name that the words from `at` spell with one slip; (0, "")."""
    for size in range(min(MAX_NAME_WORDS, len(found) - at), 1, -1):
        span = found[at : at + size]
        if any(text[a.end : b.start] != " " for a, b in itertools.pairwise(span)):
            continue
        typed = [w.text.lower() for w in span]
        if " ".join(typed) in lexicon.names:
            return 0, ""  # the name itself: `capitalised` writes it
        near = {
            key for slot, key in _slot_keys(typed, lexicon) if _one_slip(typed[slot], key.split(" ")[slot], lexicon)
        }
        if len(near) == 1:
            return size, lexicon.names[near.pop()]
    return 0, ""


def _slot_keys(typed: list[str], lexicon: Lexicon) -> list[tuple[int, str]]:
    """(position, name) for each listed name that has all of `typed` but the word at that position."""
    out: list[tuple[int, str]] = []
    for slot, word in enumerate(typed):
        if _PLAIN.match(word) and not lexicon.known(word) and word not in lexicon.corpus_words:
            out += [(slot, key) for key in lexicon.name_slots.get((*typed[:slot], "", *typed[slot + 1 :]), ())]
    return out


def _one_slip(typed: str, word: str, lexicon: Lexicon) -> bool:
    # A letter more or less at the end is another form of the name ("Khanates", "Carinae"), not a slip.
    if typed.startswith(word) or word.startswith(typed):
        return False
    return typed[0] == word[0] and lexicon.distance(typed, word, 1) == 1


def particle_in_name(found: list[wording.Word], index: int) -> bool:
    """Whether `found[index]` is a particle between two capitalised words ("Leonardo da Vinci"): not a slip."""
    word = found[index]
    if word.text not in PARTICLES or index == 0 or index + 1 >= len(found):
        return False
    return found[index - 1].text[0].isupper() and found[index + 1].text[0].isupper()
