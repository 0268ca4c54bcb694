"""Text handling shared by the index, entity linking and the grounding guard: tokens, sentences, names, typos."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Matches SQLite FTS5's `unicode61 remove_diacritics 2` tokens after `fold`: runs of letters and digits.
_TOKEN = re.compile(r"[^\W_]+")
_PARENTHETICAL = re.compile(r"\s*\([^)]*\)\s*$")
_LEAD_NAME = re.compile(r"^(?P<name>[^,.;:()]{2,80}?)(?:\s*\([^)]*\))?(?:,| (?:is|was|are|were|refers to)\b)")
_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.IGNORECASE)
_ALSO_KNOWN = re.compile(
    r"\b(?:officially|also known as|also called|known as|or simply)\s+(?:the\s+)?([^,.;:()]{2,60})"
)
# A sentence ends at . ! ? (optionally closed by quotes/brackets) followed by space and an upper-case letter,
# a digit or an opening quote; decimals ("2.04") never split because no space follows their point.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt ft vs etc al approx ca cf co corp inc ltd no nos vol fig gen gov col lt sgt "
    "rev jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k a.d b.c b.c.e c.e".split()
)
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can could did do does doing done down during each else ever every few for from
    further get gets got had has have having he her here hers herself him himself his how i if in into is it its
    itself just know let like made make many me more most much my myself no nor not now of off on once only or
    other our ours out over own please same say she should so some such tell than that the their theirs them
    then there these they this those through to too under until up us very was we were what whats when where
    which while who whom whose why will with would you your yours yourself explain describe give information
    info thing things something anything someone anyone define definition meaning briefly quick quickly short
    summary overview facts fact kind sort type way s t d ll re ve m""".split()
)


def fold(text: str) -> str:
    """Lower case without diacritics (as the index's FTS5 tokenizer sees text)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokens(text: str) -> list[str]:
    """The words and numbers of `text`, folded."""
    return _TOKEN.findall(fold(text))


def is_number(token: str) -> bool:
    return token[:1].isdigit()


def content_terms(text: str) -> list[str]:
    """Distinct words that carry meaning: no stopwords, no one-letter words, no one- or two-digit numbers."""
    seen: dict[str, None] = {}
    for token in tokens(text):
        if token in STOPWORDS or len(token) < 2 or (is_number(token) and len(token) < 3):
            continue
        seen.setdefault(token, None)
    return list(seen)


def name_key(text: str) -> str:
    """The lookup key of a title or alias: its tokens joined by single spaces."""
    return " ".join(tokens(text))


def word_variants(word: str) -> list[str]:
    """Other inflections a name may be written in (plural <-> singular); cheap and conservative."""
    if is_number(word) or len(word) < 4:
        return []
    out: list[str] = []
    if word.endswith("ies"):
        out.append(word[:-3] + "y")
    elif word.endswith(("ches", "shes", "xes", "sses")):
        out.append(word[:-2])
    elif word.endswith("s") and not word.endswith("ss"):
        out.append(word[:-1])
    else:
        out.append(word + "s")
    return out


def aliases(title: str, text: str) -> list[str]:
    """Names an article is known by, from its own data: the title without its qualifier, the lead name, ...

    (A comma qualifier is kept: "John, King of England" must not be linked by every "john".)
    `Casablanca (film)` -> `Casablanca`; `Napoleon` whose text opens "Napoleon Bonaparte, later known as..."
    -> `Napoleon Bonaparte`; "France, officially the French Republic, ..." -> `French Republic`.
    """
    found: list[str] = []
    bare = _PARENTHETICAL.sub("", title).strip()
    if bare and bare != title:
        found.append(bare)
    without_article = _ARTICLE.sub("", bare)
    if without_article != bare and without_article:
        found.append(without_article)
    lead = _LEAD_NAME.match(text)
    title_words = set(tokens(bare))
    if lead:
        name = _ARTICLE.sub("", lead.group("name").strip())
        # Only a fuller name ("Napoleon Bonaparte" for Napoleon): a shorter one ("John" for "John, King of
        # England") would link every mention of its first word.
        if 1 <= len(name.split()) <= 6 and title_words <= set(tokens(name)):
            found.append(name)
    for match in _ALSO_KNOWN.finditer(text[:300]):
        name = match.group(1).strip()
        if 1 <= len(name.split()) <= 5 and name[:1].isupper():
            found.append(name)
    return [a for a in dict.fromkeys(found) if name_key(a) and name_key(a) != name_key(title)]


def deletes(word: str, prefix: int) -> Iterator[str]:
    """The word's first `prefix` letters and each of its one-letter deletions (SymSpell's symmetric delete)."""
    head = word[:prefix]
    yield head
    for i in range(len(head)):
        yield head[:i] + head[i + 1 :]


def _is_abbreviation(piece: str) -> bool:
    last = piece.rstrip("\"'”’)]").rsplit(None, 1)[-1] if piece.strip() else ""
    word = last.rstrip(".").lower()
    # A single capital letter is an initial ("Arthur C. Clarke"), not the end of a sentence.
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping abbreviations, initials and decimals inside their sentence."""
    text = text.strip()
    out: list[str] = []
    start = 0
    for end in [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]:
        piece = text[start:end].strip()
        start = end
        if not piece:
            continue
        if out and _is_abbreviation(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out
