"""Word-by-word guards on a cleaner's output: non-words, replaced correct words, implausible edits, kept text."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher

from gateway.pipeline import context, wording
from gateway.pipeline.arbiter import CONTRACTIONS, SHORTHAND
from gateway.pipeline.guards import FILLERS, STOPWORDS
from gateway.pipeline.lexicon import Lexicon


class WordIssue(enum.StrEnum):
    """Why one word of a cleaner's output is not a correction of the prompt's word."""

    NON_WORD = "non_word"  # neither in the lexicon nor anywhere in the prompt
    REPLACED_WORD = "replaced_word"  # a correctly spelled content word, not flagged as an error, replaced
    IMPLAUSIBLE_EDIT = "implausible_edit"  # too many edits from the prompt's word to be the fix of a slip
    PROTECTED_CHANGED = "protected_changed"  # quoted, code or kept-as-typed text altered
    WORSE_FIT = "worse_fit"  # a misspelling fixed to a word that fits its neighbours far worse than another fix
    DROPPED_WORD = "dropped_word"  # a word of the prompt left out (not a filler, not a repeat)
    ADDED_WORD = "added_word"  # a content word the prompt does not have at that place


@dataclass(frozen=True)
class WordProblem:
    """One offending word: the prompt's word (empty when the output added it) and what the output has."""

    issue: WordIssue
    word: str
    replacement: str

    def describe(self) -> str:
        if self.issue is WordIssue.PROTECTED_CHANGED:
            return f"{self.issue}: '{self.word}' changed (kept text)"
        if not self.word:
            return f"{self.issue}: '{self.replacement}' added"
        if not self.replacement:
            return f"{self.issue}: '{self.word}' left out"
        return f"{self.issue}: '{self.word}' -> '{self.replacement}'"


_MARKS = ('"', "`", "“", "”")


@dataclass(frozen=True)
class WordCheck:
    """The problems found, and the output with the offending words put back as typed (None: not repairable)."""

    problems: tuple[WordProblem, ...]
    repaired: str | None


def plausible_slip(typo: str, fix: str, lexicon: Lexicon) -> bool:
    """Whether `fix` is within the edits one slip makes (1 for short words, 2 up to 8 letters, else 3)."""
    limit = 1 if len(typo) <= 4 else 2 if len(typo) <= 8 else 3
    return lexicon.distance(typo, fix, limit) >= 0


def protected_changes(original: str, candidate: str) -> list[WordProblem]:
    """Protected passages of the prompt (quotes, code, URLs, numbers, text to keep) missing from the output, and
    quote marks or backticks the output added (they would protect text the prompt did not)."""
    out: list[WordProblem] = []
    for start, end in wording.protected_spans(original):
        passage = original[start:end].strip()
        if passage and passage not in candidate:
            out.append(WordProblem(WordIssue.PROTECTED_CHANGED, passage[:60], ""))
    for mark in _MARKS:
        if candidate.count(mark) > original.count(mark):
            out.append(WordProblem(WordIssue.PROTECTED_CHANGED, "", mark))
    return out


@dataclass(frozen=True)
class _Pairing:
    lexicon: Lexicon
    flagged: Mapping[str, str]  # the prompt's words the local cleaner changes, lower-case, to its fix
    prompt_words: frozenset[str]

    def problem(self, word: str, replacement: str) -> WordIssue | None:
        typed, wrote = word.lower(), replacement.lower()
        if typed == wrote or self._expected(typed, wrote):
            return None
        if not self.lexicon.known(wrote) and wrote not in self.prompt_words:
            return WordIssue.NON_WORD
        if typed in CONTRACTIONS or typed in SHORTHAND:
            return WordIssue.IMPLAUSIBLE_EDIT  # "cant" is "can't", never "can": that would turn the request over
        error = typed in self.flagged or not (self.lexicon.known(typed) or self.lexicon.articles_word(word))
        if not error:
            content = typed not in STOPWORDS and len(typed) >= 3
            return WordIssue.REPLACED_WORD if content else None
        return None if plausible_slip(typed, wrote, self.lexicon) else WordIssue.IMPLAUSIBLE_EDIT

    def better_fix(self, typed: str, wrote: str, left: str | None, right: str | None) -> str | None:
        """The local cleaner's fix of `typed` when it fits the output's neighbours clearly better than `wrote`."""
        mine = self.flagged.get(typed.lower())
        if not mine or " " in mine or mine == wrote.lower() or self.lexicon.known(typed.lower()):
            return None
        gain = context.fit(self.lexicon, left, mine, right) - context.fit(self.lexicon, left, wrote.lower(), right)
        return mine if gain >= context.CANDIDATE_MARGIN else None

    def _expected(self, typed: str, wrote: str) -> bool:
        return wrote == (CONTRACTIONS.get(typed) or SHORTHAND.get(typed) or self.flagged.get(typed))

    def added(self, wrote: str) -> WordIssue | None:
        lower = wrote.lower()
        if not self.lexicon.known(lower) and lower not in self.prompt_words:
            return WordIssue.NON_WORD
        return None if lower in STOPWORDS or lower in FILLERS or len(lower) < 3 else WordIssue.ADDED_WORD


def check_words(original: str, candidate: str, lexicon: Lexicon, flagged: Mapping[str, str]) -> WordCheck:
    """Align the output's words with the prompt's and judge each replaced or added word."""
    before, after = wording.words(original), wording.words(candidate)
    pairing = _Pairing(lexicon, flagged, frozenset(w.text.lower() for w in before))
    matcher = SequenceMatcher(None, [w.text.lower() for w in before], [w.text.lower() for w in after], autojunk=False)
    problems: list[WordProblem] = []
    restore: list[tuple[wording.Word, str]] = []
    repairable = True
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        typed, wrote = before[i1:i2], after[j1:j2]
        if tag == "equal" or "".join(w.text for w in typed).lower() == "".join(w.text for w in wrote).lower():
            continue  # the same letters, maybe split or joined ("alot" -> "a lot")
        pairs = list(zip(typed, wrote, strict=False))
        found = len(problems)
        for offset, (old, new) in enumerate(pairs):
            issue = pairing.problem(old.text, new.text)
            if issue is not None:
                problems.append(WordProblem(issue, old.text, new.text))
                restore.append((new, old.text))
                continue
            left, right = _neighbours(candidate, after, j1 + offset)
            better = pairing.better_fix(old.text, new.text, left, right)
            if better:
                problems.append(WordProblem(WordIssue.WORSE_FIT, old.text, new.text))
                restore.append((new, _cased(new.text, better)))
        extra = [(WordProblem(i, "", w.text)) for w in wrote[len(pairs) :] if (i := pairing.added(w.text))]
        extra += [WordProblem(WordIssue.DROPPED_WORD, w.text, "") for w in _dropped(before, i1 + len(pairs), i2)]
        problems += extra
        # Words paired by position in a block of unequal length may not belong together: no repair there.
        uneven = len(typed) != len(wrote) and len(problems) > found
        repairable = repairable and not extra and not uneven
    return WordCheck(tuple(problems), _restored(candidate, restore) if repairable else None)


def _neighbours(text: str, found: list[wording.Word], index: int) -> tuple[str | None, str | None]:
    """The words right before and after `found[index]` in `text`, None across punctuation or at an edge."""
    word = found[index]
    left = found[index - 1] if index > 0 else None
    right = found[index + 1] if index + 1 < len(found) else None
    near_left = left.text.lower() if left and not text[left.end : word.start].strip() else None
    near_right = right.text.lower() if right and not text[word.end : right.start].strip() else None
    return near_left, near_right


def _cased(model: str, fix: str) -> str:
    return fix[0].upper() + fix[1:] if model[:1].isupper() else fix


def _dropped(before: list[wording.Word], start: int, end: int) -> list[wording.Word]:
    """The prompt's words in [start, end) whose loss matters: all but a repeat of the word before ("the the") and
    chat shorthand for "please"; a filler too ("actually", "really" change what is asked)."""
    out: list[wording.Word] = []
    for at in range(start, end):
        lower = before[at].text.lower()
        repeat = at > 0 and before[at - 1].text.lower() == lower
        if not repeat and lower not in ("pls", "plz"):
            out.append(before[at])
    return out


def _restored(candidate: str, restore: list[tuple[wording.Word, str]]) -> str:
    out = candidate
    for word, typed in sorted(restore, key=lambda pair: pair[0].start, reverse=True):
        out = out[: word.start] + typed + out[word.end :]
    return out
