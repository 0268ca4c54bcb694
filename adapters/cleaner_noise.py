"""Realistic typing noise for the cleaner's data: keyboard slips, misspellings, lost apostrophes and casing."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_QUOTED = re.compile(r"'[^']*[ ,][^']*'|\"[^\"]*\"")
MISSPELLINGS: dict[str, str] = {
    "about": "abuot", "because": "becuase", "believe": "beleive", "biography": "biografy", "capital": "captial",
    "difference": "diffrence", "different": "diffrent", "essay": "essey", "explain": "explian",
    "famous": "famus", "friend": "freind", "future": "futur", "history": "histroy", "important": "importent",
    "interesting": "intresting", "language": "langauge", "people": "poeple", "population": "populaton",
    "recommend": "reccomend", "remember": "remeber", "sentences": "sentances", "should": "shoud",
    "summarize": "summerize", "the": "teh", "understand": "understnad", "weekend": "weeknd", "what": "waht",
    "which": "wich", "with": "wiht", "write": "wirte", "tomorrow": "tommorow", "night": "nite",
}  # fmt: skip
TYPO_OPS = ("keyboard", "drop", "double", "swap", "misspelling")
OTHER_OPS = ("apostrophe", "lower_proper", "lower_start", "drop_final")


def keyboard_neighbours(letter: str) -> str:
    """The letters next to `letter` on a QWERTY keyboard (same row and the rows above/below)."""
    for row_index, row in enumerate(_ROWS):
        column = row.find(letter)
        if column < 0:
            continue
        near = {row[c] for c in (column - 1, column + 1) if 0 <= c < len(row)}
        # Each row sits half a key right of the one above: above are columns c and c+1, below c-1 and c.
        for other, columns in ((row_index - 1, (column, column + 1)), (row_index + 1, (column - 1, column))):
            if 0 <= other < len(_ROWS):
                near.update(_ROWS[other][c] for c in columns if 0 <= c < len(_ROWS[other]))
        return "".join(sorted(near))
    return ""


def _word_spans(text: str) -> list[tuple[int, int]]:
    """Spans of words outside quoted passages (quoted text must stay as written)."""
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    return [m.span() for m in _WORD.finditer(text) if not any(a <= m.start() < b for a, b in quoted)]


def _typo(word: str, op: str, rng: random.Random) -> str:
    lower = word.lower()
    if op == "misspelling":
        wrong = MISSPELLINGS[lower]
        return wrong[0].upper() + wrong[1:] if word[0].isupper() else wrong
    index = rng.randrange(1, len(word) - 1)  # keep the first letter: people rarely miss it
    if op == "keyboard":
        near = keyboard_neighbours(word[index].lower()) or word[index]
        return word[:index] + rng.choice(near) + word[index + 1 :]
    if op == "drop":
        return word[:index] + word[index + 1 :]
    if op == "double":
        return word[: index + 1] + word[index] + word[index + 1 :]
    return word[:index] + word[index + 1] + word[index] + word[index + 2 :]  # swap


def add_typo(text: str, rng: random.Random) -> tuple[str, str]:
    """One spelling slip in one word; returns (text, operation name), the operation '' when none fits."""
    spans = [(a, b) for a, b in _word_spans(text) if b - a >= 4 and "'" not in text[a:b]]
    known = [(a, b) for a, b in _word_spans(text) if text[a:b].lower() in MISSPELLINGS]
    op = rng.choice(TYPO_OPS if known else TYPO_OPS[:-1])
    pool = known if op == "misspelling" else spans
    if not pool:
        return text, ""
    start, end = rng.choice(pool)
    slipped = _typo(text[start:end], op, rng)
    return text[:start] + slipped + text[end:], op


def drop_apostrophe(text: str) -> str:
    """`I'd like` -> `Id like`, `don't` -> `dont` (one word)."""
    return re.sub(r"(?<=[A-Za-z])'(?=[a-z])", "", text, count=1)


def lower_proper(text: str) -> str:
    """Lower-case capitalised words that do not start a sentence (`France` -> `france`, `I` -> `i`)."""
    spans = _word_spans(text)
    out = text
    for start, end in spans:
        before = text[:start].rstrip()
        if start == 0 or before.endswith((".", "?", "!", ":")):
            continue
        out = out[:start] + text[start:end].lower() + out[end:]
    return out


def lower_start(text: str) -> str:
    return text[:1].lower() + text[1:]


def drop_final(text: str) -> str:
    return text.rstrip(".?!")


_OTHERS: dict[str, Callable[[str], str]] = {
    "apostrophe": drop_apostrophe,
    "lower_proper": lower_proper,
    "lower_start": lower_start,
    "drop_final": drop_final,
}


def corrupt(text: str, rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """Apply 1-2 spelling slips and some casing/punctuation noise; the result always differs from `text`."""
    noisy = text
    ops: list[str] = []
    for _ in range(rng.choice((1, 1, 2))):
        noisy, op = add_typo(noisy, rng)
        ops.append(op)
    for name in OTHER_OPS:
        if rng.random() < 0.45:
            changed = _OTHERS[name](noisy)
            if changed != noisy:
                noisy = changed
                ops.append(name)
    if noisy == text:
        noisy = lower_start(text) if text[:1].isupper() else drop_final(text) + "  "
        ops.append("lower_start")
    return noisy, tuple(op for op in ops if op)
