"""A prompt's words, each marked as plain prose or protected (code, URLs, numbers, quotes, names)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PROTECTED = re.compile(
    r"```[\s\S]*?(?:```|$)"  # fenced code
    r"|`[^`\n]*`"  # inline code
    r"|(?:https?://|www\.)\S+"  # URLs
    r"|[\w.+-]+@[\w-]+\.[\w.]+"  # e-mail addresses
    r"|\"[^\"\n]*\"|“[^”\n]*”|‘[^’\n]*’"  # double and curly quotes
    r"|(?<![\w'])'[^'\n]+'(?![\w'])"  # single quotes (not apostrophes)
    r"|\S*[/\\]\S+"  # paths
    r"|\w+(?:\.\w+)+"  # dotted names: file.py, obj.attr, e.g
    r"|\w*[\d_]\w*"  # anything with a digit or an underscore
    r"|\w+\(\S*"  # calls
    r"|[#$@]\w+",  # hashtags, variables, handles
)
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import|function |return\b|const |let |var |SELECT |#include|public |"
    r"private |\$ |>>> )|[{};]\s*$|^\s{4,}\S|^\s*[}\])]|\w+\s*=\s*\S+\s*$|=>|->|==|!=|<=|>=",
)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
_SENTENCE_END = re.compile(r"[.!?:;]\s*$|^\s*$|\n\s*$|^\s*[-*•>]\s*$|\n\s*[-*•>]\s*$")
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
    """Character ranges that no cleaner may touch: code, URLs, e-mails, quotes, paths, numbers, code lines."""
    spans = [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]
    offset = 0
    for line in text.splitlines(keepends=True):
        if _CODE_LINE.search(line.rstrip("\n")):
            spans.append((offset, offset + len(line)))
        offset += len(line)
    return sorted(spans)


def protected_share(text: str) -> float:
    """Share of the non-space characters that are protected (1.0 for pure code)."""
    covered = [False] * len(text)
    for start, end in protected_spans(text):
        for i in range(start, end):
            covered[i] = True
    visible = [i for i, ch in enumerate(text) if not ch.isspace()]
    return sum(covered[i] for i in visible) / len(visible) if visible else 0.0


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _kind(word: str, sentence_start: bool) -> str:
    if len(word) >= 2 and word.isupper():
        return "name"
    if _CAMEL.search(word):
        return "name"
    if word[0].isupper() and not sentence_start and word != "I" and not word.startswith("I'"):
        return "name"
    return "plain"


def words(text: str) -> list[Word]:
    """Every alphabetic word, in order, with its sentence position and protection."""
    spans = protected_spans(text)
    found: list[Word] = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        before = text[max(0, start - 40) : start].rstrip(" \t\"'“‘([")
        starts = not before if start <= 40 else False
        starts = starts or bool(_SENTENCE_END.search(before))
        kind = "protected" if _inside(spans, start, end) else _kind(match.group(), starts)
        found.append(Word(match.group(), start, end, starts, kind != "plain", kind))
    return found


def sentences(text: str) -> list[str]:
    """Sentences split at final punctuation or line breaks, outside protected spans (roughly)."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Za-z\"'“(])|\n+", text.strip())
    return [p.strip() for p in parts if p.strip()]
