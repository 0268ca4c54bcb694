"""The deterministic fallback cleaner: plain misspellings, contractions and casing, never code, URLs or names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.pipeline import context, names, wording
from gateway.pipeline.arbiter import CONTRACTIONS, QUESTION_TAG, SHORTHAND
from gateway.pipeline.lexicon import Lexicon

_QUESTION_START = re.compile(
    r"^(who|what|when|where|why|how|which|whose|whom|is|are|am|was|were|can|could|do|does|did|should|would|will|"
    r"shall|may|might|have|has|had)\b",
    re.IGNORECASE,
)
_MATH = re.compile(r"\d\s*[-+*/=^]|[-+*/=^]\s*\d")
_MAX_CODE_SHARE = 0.5
_AFTER_NUMBER = re.compile(r"\d\s?$")
_MAX_UNIT = 3
_FINAL_MARK = re.compile(r"[.!?](?=[\"'”’)\]]*(?:\s|$))|\n")  # not the point of "37.7%"
_COLON = re.compile(r"[:;]")
_PLAIN_NUMBER = re.compile(r"(?<=[A-Za-z] )\d+$")


@dataclass(frozen=True)
class LocalFix:
    """The locally cleaned prompt and what changed."""

    text: str
    words_fixed: tuple[str, ...]
    changed: bool
    corrections: tuple[tuple[str, str], ...] = ()  # (word as typed, lower-case; its fix, lower-case)

    def flagged(self) -> dict[str, str]:
        """The prompt's words this pass found wrong, lower-case, each to its fix."""
        return dict(self.corrections)

    def summary(self) -> str:
        if not self.changed:
            return "local cleaner found nothing to fix"
        if not self.words_fixed:
            return "local cleaner fixed casing/punctuation"
        return f"local cleaner fixed {len(self.words_fixed)} word(s): {', '.join(self.words_fixed[:5])}"


def _match_case(source: str, target: str) -> str:
    if source[0].isupper() and not target[0].isupper():
        return target[0].upper() + target[1:]
    return target


@dataclass(frozen=True)
class _Neighbours:
    """The words next to one word in the same clause (lower-case), None across punctuation or at an edge."""

    left: str | None
    right: str | None


def _spelling_fix(lower: str, word: wording.Word, around: _Neighbours, lexicon: Lexicon) -> str | None:
    if lexicon.known(lower):
        confused = context.real_word_fix(lexicon, around.left, lower, around.right)
        if confused or lower in lexicon.prose_words:
            return confused
        return context.slip_fix(lexicon, around.left, lower, around.right)
    # A letter alone is a symbol ("if f is bijective"), an accented word a spelling of its own ("début", "Bogotá").
    if len(lower) > 20 or len(lower) < 2 or not (lower.isalpha() and lower.isascii()):
        return None
    if lexicon.articles_word(word.text):
        return None
    joined = context.split_joined(lexicon, lower) or context.undoubled(lexicon, lower)
    if joined:
        return joined
    if context.compound(lexicon, lower) and not lexicon.candidates(lower, 1):
        return None  # two words run together, too far from any word to be a slip ("airplanes")
    # A capitalised word at a sentence start may be a name: only a one-letter slip is fixed there.
    limit = 1 if word.text[0].isupper() else None
    default = lexicon.correct(lower, max_distance=limit)
    reach = min(limit or lexicon.max_edit_distance, 1 if len(lower) <= 4 else lexicon.max_edit_distance)
    return context.rank_candidates(lexicon, lower, around.left, around.right, default, reach)


def _replacement(
    word: wording.Word, around: _Neighbours, phrase: str | None, lexicon: Lexicon, math: bool
) -> str | None:
    lower = word.text.lower()
    if word.text == "i":
        return "I"
    if lower in CONTRACTIONS:
        return _match_case(word.text, CONTRACTIONS[lower])
    if lower in SHORTHAND and not math:
        return _match_case(word.text, SHORTHAND[lower])
    if phrase is not None:
        return _match_case(word.text, phrase)
    if lexicon.lower_case_name(word.text):
        return lexicon.as_name(word.text)
    fixed = _spelling_fix(lower, word, around, lexicon)
    if fixed is not None and lexicon.lower_case_name(fixed):
        return lexicon.as_name(fixed)
    return _match_case(word.text, fixed) if fixed else None


def _neighbours(text: str, found: list[wording.Word], index: int, previous: str | None) -> _Neighbours:
    """`previous`: the word before, as corrected (its context is what the reader will see)."""
    word = found[index]
    left = previous if index > 0 and not text[found[index - 1].end : word.start].strip() else None
    right = None
    if index + 1 < len(found) and not text[word.end : found[index + 1].start].strip():
        right = found[index + 1].text.lower()
    return _Neighbours(left, right)


def _phrases(text: str) -> dict[int, str]:
    lowered = text.lower()
    if len(lowered) != len(text):
        return {}  # a case mapping that changes lengths would shift every position
    return {start: fix for start, _end, fix in context.phrase_fixes(lowered)}


def _fix_words(text: str, lexicon: Lexicon) -> tuple[str, list[tuple[str, str]]]:
    math = bool(_MATH.search(wording.without_backticked(text)))  # "x+1" inside `code` makes no "plz" a variable
    phrases = _phrases(text)
    found = wording.words(text)
    present = {word.text.lower() for word in found}
    fixed: list[tuple[str, str]] = []
    pieces: list[str] = []
    cursor = 0
    previous: str | None = None
    for index, word in enumerate(found):
        around = _neighbours(text, found, index, previous)
        if names.particle_in_name(found, index) or _unit(text, word):
            replacement = None
        elif word.kind == "name":
            replacement = _pronoun_contraction(word.text) or context.name_fix(lexicon, word.text)
        else:
            replacement = None if word.protected else _replacement(word, around, phrases.get(word.start), lexicon, math)
        if replacement is not None and _contrasted(word.text, replacement, present, lexicon):
            replacement = None
        previous = (replacement or word.text).lower().split()[-1]
        if replacement is None or replacement == word.text:
            continue
        pieces.append(text[cursor : word.start])
        pieces.append(replacement)
        cursor = word.end
        if word.text != "i":
            fixed.append((word.text, replacement))
    pieces.append(text[cursor:])
    return "".join(pieces), fixed


def _contrasted(typed: str, replacement: str, present: set[str], lexicon: Lexicon) -> bool:
    """A real word whose replacement the prompt also has is meant: "the difference between affect and effect"."""
    lower = replacement.lower()
    return lower != typed.lower() and lower in present and lexicon.known(typed.lower())


def _pronoun_contraction(text: str) -> str | None:
    """ "Im", "Ive" inside a sentence look like names (the pronoun keeps its capital) but lost an apostrophe."""
    contraction = CONTRACTIONS.get(text.lower())
    return contraction if contraction is not None and contraction.startswith("I'") else None


def _unit(text: str, word: wording.Word) -> bool:
    """A short word straight after a number is a unit ("5 km", "46 kpc"), not a slip."""
    return len(word.text) <= _MAX_UNIT and bool(_AFTER_NUMBER.search(text, max(0, word.start - 3), word.start))


def _fix_sentence_starts(text: str) -> str:
    out = list(text)
    previous_end = 0
    for word in wording.words(text):
        # After a colon or semicolon a lower-case start is the writer's style, not a slip.
        after_colon = not _FINAL_MARK.search(text, previous_end, word.start) and bool(
            _COLON.search(text, previous_end, word.start)
        )
        previous_end = word.end
        if word.sentence_start and not word.protected and word.text[0].islower() and not after_colon:
            out[word.start] = word.text[0].upper()
    return "".join(out)


# Spacing and punctuation slips, each fixed only outside code, quotes and kept text (where they may be meant).
_SPACING_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=\S)[ \t]{2,}(?=\S)"), " "),
    (re.compile(r"[ \t]+([,.;:!?])(?=\s|$)"), r"\1"),
    (re.compile(r"([!?])\1+"), r"\1"),
    (re.compile(r",{2,}"), ","),
    (re.compile(r"(?<!\.)\.\.(?![.\w/])"), "."),  # "next week.." ends once; "...", "1..5" and "../" stay
)


def _fix_spacing_and_punctuation(text: str) -> str:
    for pattern, replacement in _SPACING_FIXES:
        text = _sub_outside_protected(pattern, replacement, text)
    return text


def _sub_outside_protected(pattern: re.Pattern[str], replacement: str, text: str) -> str:
    """`pattern.sub` for the matches that touch no protected span (most prompts have no match: no span lookup)."""
    if not pattern.search(text):
        return text
    spans = wording.protected_spans(text)  # per pattern: an earlier fix may have moved them

    def fixed(match: re.Match[str]) -> str:
        if any(start < match.end() and match.start() < end for start, end in spans):
            return match.group()
        return match.expand(replacement)

    return pattern.sub(fixed, text)


def _ends_in_prose(text: str) -> bool:
    """A last word of plain prose, or a closing quote/backtick after a word (a mark goes after it, outside)."""
    if text[-1].isalpha():
        return not any(start < len(text) <= end for start, end in wording.protected_spans(text))
    # A closing quote ends the kept text too when the prompt asks to keep what follows its colon: no mark after it.
    return text[-1] in "'\"`”’" and len(text) >= 2 and text[-2].isalpha() and not wording.kept_to_end(text)


def _final_punctuation(text: str) -> str:
    stripped = text.rstrip()
    # A question may end in a plain number ("... if I'm 35"); a statement that does is left as typed ("3.5 m").
    number = _PLAIN_NUMBER.search(stripped) is not None
    if "\n" in stripped or len(stripped.split()) < 3 or not (number or _ends_in_prose(stripped)):
        return text
    last = wording.sentences(stripped)[-1]
    clause = wording.last_clause(last)
    question = bool(_QUESTION_START.match(last) or _QUESTION_START.match(clause) or QUESTION_TAG.match(clause))
    if number:
        return stripped + "?" if question else text
    return stripped + ("?" if question else ".")


def local_clean(prompt: str, lexicon: Lexicon) -> LocalFix:
    """Fix what is safe to fix without a model; prompts that are mostly code come back unchanged."""
    # Mostly loose code: its prose may be identifiers. Backticked code, long quoted or kept text are protected on
    # their own, so the instruction around them is still cleaned ("keep my spelling: Teh quick brown fox ...").
    if wording.protected_share(prompt, wording.loose_code_spans(prompt)) > _MAX_CODE_SHARE:
        return LocalFix(prompt, (), False)
    # Names before the words (so "da" in "leonardo da vinci" is seen inside a name, and "chrie" in "marie chrie"
    # is taken for "Curie", not "chris") and after (a name whose misspelt word was just fixed: "william shakespere").
    text, mended = names.mended(prompt.strip(), lexicon)
    text, fixed = _fix_words(names.capitalised(text, lexicon), lexicon)
    fixed = mended + fixed
    text = names.capitalised(text, lexicon)
    text = _fix_spacing_and_punctuation(text)
    text = _fix_sentence_starts(text)
    text = _final_punctuation(text)
    words_fixed = tuple(f"{typed}->{fix}" for typed, fix in fixed)
    corrections = tuple((typed.lower(), fix.lower()) for typed, fix in fixed)
    return LocalFix(text, words_fixed, text != prompt.strip(), corrections)
