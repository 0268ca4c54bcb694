"""A prompt's words, each marked as plain prose or protected (code, URLs, numbers, quotes, names)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_CODE_REGIONS = re.compile(
    r"```[\s\S]*?(?:```|$)"  # fenced code
    r"|`[^`\n]*`"  # inline code
)
_QUOTED_REGIONS = re.compile(
    r"\"[^\"\n]*\"|“[^”\n]*”|‘[^’\n]*’"  # double and curly quotes
    r"|(?<![\w'])'[^'\n]+'(?![\w'])",  # single quotes (not apostrophes)
)
# A whitespace-separated chunk is protected when it is a URL, a path, an address, a number, an identifier,
# a dotted name (file.py, e.g.), a call, or a hashtag/variable/handle.
_PROTECTED_CHUNK = re.compile(r"^(?:https?://|www\.)|[/\\_@#$=<>{}\[\]|~^]|\d|\w\.\w|\w\(")
_CHUNK = re.compile(r"\S+")
_TRAILING = re.compile(r"[.,;:!?)\]'\"]+$")
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import|function |return\b|const |let |var |SELECT |#include|public |"
    r"private |\$ |>>> )|[{};]\s*$|^\s{4,}\S|^\s*[}\])]|\w+\s*=\s*\S+\s*$|=>|->|==|!=|<=|>=",
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")  # letters of any script: "Wisława" is one word
# Between two words, a final mark before a space (or the next word), a colon or semicolon before a space, or a
# line break means the second one starts a sentence; not the point of "13.17 million" or the colon of "1:25,000".
_BREAK = re.compile(r"[.!?:;](?=[\"'”’)\]]*(?:\s|$))|\n")
_ALNUM = re.compile(r"\w")
# Text a prompt asks to keep as typed, or is about: what follows the colon of "keep my spelling: ...",
# "... in this sentence: ...", "don't change it: ...", "spell check this: ...", up to the end of the prompt.
_KEEP_CUE = (
    r"keep (?:my|the|its|their|all) (?:own )?(?:spelling|typos|mistakes|errors|wording|text)|"
    r"(?:exactly )?as (?:written|typed|it is|is)\b|verbatim|word for word|"
    r"(?:don'?t|do not|without|never) (?:fix|fixing|correct|correcting|change|changing|edit|editing)\b|"
    r"instead of (?:fixing|correcting)|"
    r"\b(?:this|the following|that|my|the|these|those) (?:\w+ )?(?:text|sentences?|paragraph|passage|line|phrase|"
    r"words?|email|message|answer|essay|list|spelling)\b|"
    r"\b(?:spell[- ]?check|proofread|grade|mark)\b"
)
_KEPT_SUBJECT = re.compile(rf"(?:{_KEEP_CUE})[^.!?\n:]*:[ \t]*(?=\S)", re.IGNORECASE)
_CAMEL = re.compile(r"^[A-Za-z][a-z]*[A-Z]|^[A-Z]{2,}[a-z]")


@dataclass(frozen=True)
class Word:
    """One word of prose: where it is, whether a sentence starts with it, and whether to leave it alone."""

    text: str
    start: int
    end: int
    sentence_start: bool
    protected: bool
    kind: str  # "plain", "name" (proper noun, CamelCase, ALLCAPS) or "protected" (inside code, URL, quote ...)


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges no cleaner may touch (code, URLs, e-mails, quotes, paths, numbers, code lines, the text a
    prompt asks to keep as typed), merged."""
    spans = _code_spans(text) + [(m.start(), m.end()) for m in _QUOTED_REGIONS.finditer(text)]
    subject = _KEPT_SUBJECT.search(text)
    if subject:  # from its colon: "this sentence? Me and him ..." is no longer the same subject
        spans.append((text.rindex(":", subject.start(), subject.end()), len(text.rstrip())))
    return _merged(spans)


def kept_to_end(text: str) -> bool:
    """Whether the text a prompt asks to keep as typed runs to its end ("keep the wording: "we fix it rite"")."""
    return _KEPT_SUBJECT.search(text) is not None


def code_spans(text: str) -> list[tuple[int, int]]:
    """The protected ranges that are code, URLs, paths or numbers (not quotes or kept text), merged."""
    return _merged(_code_spans(text))


def loose_code_spans(text: str) -> list[tuple[int, int]]:
    """The code spans outside backticks (identifiers, paths, calls in running text): backticked code is fenced off
    from the prose around it, so only loose code makes a prompt too much code to clean."""
    fenced = [(m.start(), m.end()) for m in _CODE_REGIONS.finditer(text)]
    return [span for span in code_spans(text) if not any(s <= span[0] and span[1] <= e for s, e in fenced)]


def without_backticked(text: str) -> str:
    """`text` with its backticked code blanked out (same length): what the prose around the code says."""
    return _CODE_REGIONS.sub(lambda match: " " * len(match.group()), text)


def _code_spans(text: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end()) for m in _CODE_REGIONS.finditer(text)]
    for chunk in _CHUNK.finditer(text):
        if _PROTECTED_CHUNK.search(chunk.group()):
            trailing = _TRAILING.search(chunk.group())
            spans.append((chunk.start(), chunk.end() - (len(trailing.group()) if trailing else 0)))
    offset = 0
    for line in text.splitlines(keepends=True):
        if _CODE_LINE.search(line.rstrip("\n")):
            spans.append((offset, offset + len(line)))
        offset += len(line)
    return spans


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def protected_share(text: str, spans: list[tuple[int, int]] | None = None) -> float:
    """Share of the non-space characters that are protected (1.0 for pure code)."""
    visible = len("".join(text.split()))
    if not visible:
        return 0.0
    covered = sum(len("".join(text[s:e].split())) for s, e in (protected_spans(text) if spans is None else spans))
    return covered / visible


def _inside(spans: list[tuple[int, int]], starts: list[int], start: int, end: int) -> bool:
    at = bisect.bisect_right(starts, start) - 1
    return at >= 0 and end <= spans[at][1]


def _kind(word: str, sentence_start: bool) -> str:
    if len(word) >= 2 and word.isupper():
        return "name"
    if _CAMEL.search(word):
        return "name"
    if word[0].isupper() and not sentence_start and word != "I" and not word.startswith("I'"):
        return "name"
    return "plain"


def _breaks(gap: str, before: str) -> bool:
    """Whether the text between two words ends a sentence; the points of "e.g., the" or "U.S. law" do not."""
    if len(before) == 1 and gap.startswith(".") and "\n" not in gap and before not in "aI":
        return False
    return bool(_BREAK.search(gap))


def words(text: str, spans: list[tuple[int, int]] | None = None) -> list[Word]:
    """Every alphabetic word, in order, with its sentence position and protection (spans: if computed)."""
    spans = protected_spans(text) if spans is None else spans
    span_starts = [s for s, _ in spans]
    found: list[Word] = []
    previous_end = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        gap = text[previous_end:start]
        starts = _breaks(gap, found[-1].text if found else "") or (previous_end == 0 and not _ALNUM.search(gap))
        previous_end = end
        kind = "protected" if _inside(spans, span_starts, start, end) else _kind(match.group(), starts)
        found.append(Word(match.group(), start, end, starts, kind != "plain", kind))
    return found


def sentences(text: str) -> list[str]:
    """Sentences split at final punctuation or line breaks, outside protected spans (roughly)."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Za-z\"'“(])|\n+", text.strip())
    return [p.strip() for p in parts if p.strip()]


def last_clause(sentence: str) -> str:
    """The part of a sentence after its last comma, semicolon or colon ("..., isn't it")."""
    return re.split(r"[,;:]\s*", sentence)[-1]
