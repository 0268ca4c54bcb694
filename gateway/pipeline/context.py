"""Context-aware word choice: candidates ranked with their neighbours, real-word confusions, joined words."""

from __future__ import annotations

import math
import re

from gateway.pipeline.lexicon import Lexicon, slip_rank, spelling_variants

# A pair absent from the bigram list is rarer than its rarest entry (~6e6); its share is then estimated as this
# fraction of the neighbour's own share (a back-off to the unigram), capped by that bound.
_LISTED_MIN = 6_000_000
_BACKOFF = 0.1
# A real word is replaced only when the alternative, listed beside each neighbour, fits them this many times better
# (e^4 ~ 55); the largest gain seen on correct text (the generator's training prompts, the quality set) is about e^2.
REAL_WORD_MARGIN = 4.0
# ... or this many (e^10 ~ 22,000) when the alternative is listed beside one neighbour only: "smarter then parrots"
# is "than" (+11.8), "ate two much" is "too" (+10.9), "feel loose after" is not "loss" (+9.0: "loss after" is
# common, "feel loss" unlisted).
ONE_SIDED_MARGIN = 10.0
# A misspelling's context pick overrides the frequency pick only when it fits this many times better (e^2.3 ~ 10).
CANDIDATE_MARGIN = 2.3
# Any other real word is taken for a slip of a word one edit away only when it is rare (too rare to be a correction
# target itself) and that word fits both neighbours this many times better (e^15). Both were set on correct text
# (the training split's prompts, 5,500 sentences of the Wikipedia summaries) against the training split's slips:
# common words ("tan", "sock", "mole") fit their neighbours too loosely in a bigram list to be told apart.
SLIP_MARGIN = 15.0
_MAX_SLIP_COUNT = 500_000
_MIN_SLIP_WORD = 3
# ... and only for a word this many times rarer than the word it is taken for (a slip of a common word).
_SLIP_RATIO = 20
# Joined words ("alot") are split only into a pair at least this common.
_MIN_SPLIT_PAIR = 50_000_000
# ... and over a likelier kind of slip only when it fits this many times better (e^8 ~ 3000).
ACROSS_SLIPS_MARGIN = 8.0
_MAX_CANDIDATES = 12
_MIN_UNDOUBLED = 10_000
# A mistyped name is fixed only to a word this common, and only for names this long (short ones have many near
# words: "Jon", "Ann"); set on the training split's names against the Wikipedia summaries' capitalised words.
_MIN_NAME = 5
_MIN_SWAPPED = 4  # a 4-letter name only for two letters swapped into a listed name ("Rmoe")
_SHORT_NAME = 7
_MIN_NAME_COUNT = 1_000_000
_DOMINANT_NAME = 100
_ASCII_NAME = re.compile(r"^[A-Z][a-z]+$")  # "Rodríguez" is a spelling of its own, not a slip of "Rodriguez"
_BEFORE_WORDS = ("a", "an", "the", "to", "very", "is", "was", "be", "are", "of", "my", "your", "this", "and", "it")
_COMMON_SHARE = 0.7
_MIN_PART = 1_000_000

# Words people type for one another, each to the words it is typed for; a word is changed only where its
# neighbours clearly call for one of them. Only the directions people slip in: "too" is rarely typed for "to",
# and a bigram list that lacks "too wet" would turn "the soil is too wet" into "to wet"; "lose" is rarely typed
# for "loss" ("really lose at" is no "loss"), "than" rarely for "then".
CONFUSIONS: dict[str, tuple[str, ...]] = {
    "their": ("there",),
    "there": ("their",),
    "to": ("too",),
    "two": ("too",),
    "loose": ("lose", "loss"),
    "lose": ("loose",),
    "loss": ("lose",),
    "then": ("than",),
    "affect": ("effect",),
    "effect": ("affect",),
    "weather": ("whether",),
    "whether": ("weather",),
    "quiet": ("quite",),
    "quite": ("quiet",),
    "advice": ("advise",),
    "advise": ("advice",),
    "breath": ("breathe",),
    "breathe": ("breath",),
}


def _given(lexicon: Lexicon, pair: int, count: int, neighbour: str) -> float:
    """log P(neighbour | word) from the pair count, backing off to the neighbour's frequency when unlisted."""
    if pair:
        return math.log(pair / count)
    share = _BACKOFF * max(lexicon.count(neighbour), 1) / lexicon.total
    return math.log(min(share, _LISTED_MIN / count))


def fit(lexicon: Lexicon, left: str | None, word: str, right: str | None) -> float:
    """log P(left, word, right) up to a constant, the neighbours independent given the word."""
    count = max(lexicon.count(word), 1)
    score = math.log(count)
    if left:
        score += _given(lexicon, lexicon.pair(left, word), count, left)
    if right:
        score += _given(lexicon, lexicon.pair(word, right), count, right)
    return score


def real_word_fix(lexicon: Lexicon, left: str | None, word: str, right: str | None) -> str | None:
    """The member of `word`'s confusion set its neighbours clearly call for, or None (keep the word)."""
    others = CONFUSIONS.get(word)
    if others is None or (left is None and right is None):
        return None
    mine = fit(lexicon, left, word, right)
    best, score = max(((other, fit(lexicon, left, other, right)) for other in others), key=lambda pair: pair[1])
    margin = REAL_WORD_MARGIN if _listed_beside(lexicon, left, best, right) else ONE_SIDED_MARGIN
    return best if score - mine >= margin else None


def _listed_beside(lexicon: Lexicon, left: str | None, word: str, right: str | None) -> bool:
    """Whether `word` is listed beside each neighbour it has."""
    return (left is None or lexicon.pair(left, word) > 0) and (right is None or lexicon.pair(word, right) > 0)


def slip_fix(lexicon: Lexicon, left: str | None, word: str, right: str | None) -> str | None:
    """A real word that is one slip from a word its neighbours call for far more ("bigger tan London" -> "than").

    Only a candidate with the same first letter (people rarely miss it), listed beside a neighbour the typed word
    is never listed beside, and fitting both neighbours `SLIP_MARGIN` times better (in log) than the typed word.
    """
    if left is None or right is None or len(word) < _MIN_SLIP_WORD or not word.isalpha():
        return None
    if lexicon.count(word) >= _MAX_SLIP_COUNT:
        return None
    mine = fit(lexicon, left, word, right)
    floor = _SLIP_RATIO * lexicon.count(word)
    best: tuple[float, str] | None = None
    for term, count in lexicon.neighbours(word):
        if count < floor or term[0] != word[0] or _same_word(word, term) or not _likely_slip(word, term):
            continue
        if not _new_evidence(lexicon, left, word, term, right):
            continue
        gain = fit(lexicon, left, term, right) - mine
        if gain >= SLIP_MARGIN and (best is None or gain > best[0]):
            best = (gain, term)
    return best[1] if best else None


def _likely_slip(word: str, term: str) -> bool:
    """A real word is taken for a slip only of a kind people make: letters swapped, one left out or doubled, a
    neighbouring key ("reheat" is no slip of "repeat": h is far from p)."""
    transposed, kind = slip_rank(word, term)
    return transposed or kind >= 1


def _same_word(word: str, term: str) -> bool:
    """Another form or spelling of the same word (plural, tense, British/American): never a slip to fix."""
    if term in spelling_variants(word) or word in spelling_variants(term):
        return True
    return term.startswith(word) or word.startswith(term)  # one edit apart: "plant"/"plants", "merge"/"merged"


def _new_evidence(lexicon: Lexicon, left: str, word: str, term: str, right: str) -> bool:
    """Whether `term` is listed beside a neighbour that `word` is not listed beside."""
    return bool(
        (lexicon.pair(left, term) and not lexicon.pair(left, word))
        or (lexicon.pair(term, right) and not lexicon.pair(word, right))
    )


def name_fix(lexicon: Lexicon, name: str) -> str | None:
    """A capitalised word neither the lexicon nor the articles use, one slip (two past 7 letters) from a single
    well-known word ("Istabul" -> "Istanbul"); an unknown name with no such near word, or with rivals none of which
    is far the commonest, is left as typed."""
    lower = name.lower()
    if len(name) < _MIN_SWAPPED or not _ASCII_NAME.match(name) or lexicon.known(lower) or lower in lexicon.corpus_words:
        return None
    if len(name) < _MIN_NAME:
        return _swapped_name(lexicon, lower)
    found = lexicon.candidates(lower, 1 if len(name) <= _SHORT_NAME else 2)
    if not found:
        return None
    closest = min(distance for _, distance, _ in found)
    near = [(term, count) for term, distance, count in found if distance == closest and term[0] == lower[0]]
    # A capitalised word inside a sentence is a name: the one listed name a slip away is meant, whatever the common
    # words beside it ("Beijng" is "Beijing", not "being"; "Pague" is "Prague", not "page").
    listed = [term for term, _ in near if lexicon.lower_case_name(term)]
    if len(listed) == 1:
        return lexicon.as_name(listed[0])
    # A name with a letter more or less at its end is a name of its own ("Abrahamic", "Eugen", "Nikola").
    if any(term.startswith(lower) or lower.startswith(term) for term, _ in near):
        return None
    near.sort(key=lambda pair: pair[1], reverse=True)
    # Rivals leave it as typed, unless one is far the commonest ("Ftance": "France", not "Fiance").
    if len(near) > 1 and near[0][1] < _DOMINANT_NAME * near[1][1]:
        return None
    if near[0][1] < _MIN_NAME_COUNT or common_word(lexicon, near[0][0]):
        return None
    return near[0][0].capitalize()


def _swapped_name(lexicon: Lexicon, lower: str) -> str | None:
    """A short name with two letters swapped (not the first: "Rmoe" -> "Rome"), when one listed name has them."""
    swapped = [
        term
        for term, distance, _ in lexicon.candidates(lower, 1)
        if distance == 1 and slip_rank(lower, term)[0] and lexicon.lower_case_name(term)
    ]
    return lexicon.as_name(swapped[0]) if len(swapped) == 1 else None


def common_word(lexicon: Lexicon, word: str) -> bool:
    """Whether a word is mostly a common word, not a name: often listed after "a", "to", "the", "is" ...
    ("timer", "began"); names ("cairo", "austen") are rarely listed there."""
    count = max(lexicon.count(word), 1)
    return max(lexicon.pair(before, word) for before in _BEFORE_WORDS) >= _COMMON_SHARE * count


def split_joined(lexicon: Lexicon, word: str) -> str | None:
    """`alot` -> `a lot`: an unknown word that is a very common pair of words written together."""
    best: tuple[int, str] | None = None
    for cut in range(1, len(word)):
        first, second = word[:cut], word[cut:]
        if (len(first) == 1 and first not in ("a", "i")) or len(second) < 2:
            continue
        count = lexicon.pair(first, second)
        if count >= _MIN_SPLIT_PAIR and (best is None or count > best[0]):
            best = (count, f"{first} {second}")
    return best[1] if best else None


def undoubled(lexicon: Lexicon, word: str) -> str | None:
    """`forgetfull` -> `forgetful`: a doubled letter dropped gives a word (even one too rare to be a target)."""
    for at in range(len(word) - 1):
        if word[at] == word[at + 1] and lexicon.count(single := word[:at] + word[at + 1 :]) >= _MIN_UNDOUBLED:
            return single
    return None


def compound(lexicon: Lexicon, word: str) -> bool:
    """Whether an unknown word is two known words of 3+ letters written as one ("houseplants")."""
    return any(
        lexicon.count(word[:cut]) >= _MIN_PART and lexicon.count(word[cut:]) >= _MIN_PART
        for cut in range(3, len(word) - 2)
    )


def rank_candidates(
    lexicon: Lexicon, word: str, left: str | None, right: str | None, default: str | None, limit: int
) -> str | None:
    """The correction of a misspelling that best fits its neighbours; `default` (the frequency pick) unless
    another candidate at the same edit distance fits clearly better."""
    if left is None and right is None:
        return default
    found = lexicon.candidates(word, limit)
    if not found:
        return default
    closest = min(distance for _, distance, _ in found)
    terms = [term for term, distance, _ in found if distance == closest and term != word][:_MAX_CANDIDATES]
    if not terms:
        return default
    # Context chooses among the likeliest slips ("frane" is "france", a letter left out, though "of frame" is
    # commoner), and across kinds of slip only by far ("and pront the" is "print", not "pronto").
    ranks = {t: slip_rank(word, t) for t in terms}
    likeliest = slip_rank(word, default) if default else max(ranks.values())
    scored = sorted(((fit(lexicon, left, t, right), t) for t in terms), reverse=True)
    # Against the frequency pick, or without one against the best of the likeliest kind ("a hospitle" is "a
    # hospital", though "hospitals" restores a letter).
    reference = default or next(t for _, t in scored if ranks[t] == likeliest)
    top_score, top = scored[0]
    across = top != reference and ranks[top] != likeliest
    if across and top_score - fit(lexicon, left, reference, right) >= ACROSS_SLIPS_MARGIN:
        return top
    scored = [(score, t) for score, t in scored if ranks[t] == likeliest]
    if not scored:  # the frequency pick lies farther than the closest candidates: none of those is its kind
        return default
    top_score, top = scored[0]
    if default is None:
        runner_up = scored[1][0] if len(scored) > 1 else -math.inf
        return top if top_score - runner_up >= CANDIDATE_MARGIN else None
    if top != default and top_score - fit(lexicon, left, default, right) >= CANDIDATE_MARGIN:
        return top
    return default


# Fixed phrases whose wrong word is clear from the words around it (lower-case; group 1 is replaced by `fix`).
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:could|should|would|must|might)\s+(of)\b(?!\s+course)"), "have"),
    (
        re.compile(
            r"\b(?:ate|eat|eating|drink|drank|have|has|had|spend|spent|way|far|is|was|are|were|be|been|got|get)"
            r"\s+(to|two)\s+(?:much|many)\b"
        ),
        "too",
    ),
    (
        re.compile(
            r"\b(its)\s+(?:a|an|the|going|been|not|getting|raining|snowing|ok|okay|just|"
            r"so|too|really|always|never|about|like|because)\b"
        ),
        "it's",
    ),
    # "its true author", "its important ores" are right: an adjective makes "it's" only before "to" or "that".
    (re.compile(r"\b(its)\s+(?:true|possible|important|hard|easy|likely|better|best)\s+(?:to|that)\b"), "it's"),
    (re.compile(r"\b(your)\s+(?:welcome|going|not|doing|being|right about|wrong about)\b"), "you're"),
    (re.compile(r"\b(?:i'm|im|am|so|really|getting|feeling|feel|get)\s+(board)\b"), "bored"),
    (re.compile(r"^(there)\s+(?:going|coming|trying)\s+to\b"), "they're"),
    # A sentence that opens "were" + a verb's -ing form and asks nothing lost the apostrophe of "we're"
    # ("Were visiting hours extended?" asks: left alone; "were things" is a noun: not in the list).
    (
        re.compile(
            r"(?:^|[.!?]\s+)(were)\s+(?:going|coming|trying|visiting|planning|thinking|looking|leaving|moving|"
            r"staying|travelling|traveling|flying|heading|hoping|getting|having|making|doing|working|starting|"
            r"learning|writing|building|running|taking|driving|meeting|buying|watching|hosting|"
            r"preparing|studying|cooking|reading|playing)\b(?![^.!?]*\?)"
        ),
        "we're",
    ),
    (re.compile(r"\b(?:we|they|you)\s+(where)\b"), "were"),
    # "it's own" is always the possessive: "the dog has it's own bed".
    (re.compile(r"\b(it's)\s+own\b"), "its"),
    # After a verb of saying or thinking a possessive "its" cannot stand: "my friend says its fine".
    (re.compile(r"\b(?:says|said|think|thought|guess|hope|know|knew|sure|feel|felt)\s+(its)\b"), "it's"),
    # "to" before an adjective of degree after a form of "be": "my jeans are to tight".
    (
        re.compile(
            r"\b(?:is|are|was|were|be|been|am|it's|i'm|that's)\s+(to)\s+(?:tight|big|small|hot|cold|late|early|"
            r"long|short|fast|slow|hard|expensive|loud|far|old|young|heavy|busy|tired|full|high|low|spicy|salty|"
            r"sweet|dark|bright|strong|weak|thin|thick|difficult|complicated)\b"
        ),
        "too",
    ),
    (re.compile(r"\b(?:want|need|going|have|had|like|try|trying|plan|planning)\s+to\s+(by)\b"), "buy"),
    (
        re.compile(
            r"\b(?:to|not|never)\s+(loose)\s+(?:weight|fat|\d+|one|two|three|four|five|six|seven|eight|nine|ten|"
            r"a\s+few|some)\b"
        ),
        "lose",
    ),
    # A month that is also a word, after a word that makes it the month: "in march", "early may".
    (re.compile(r"\b(?:in|early|late|mid|since|until|till)\s+(march)\b"), "March"),
    (re.compile(r"\b(?:in|early|late|mid|since|until|till)\s+(august)\b"), "August"),
    (re.compile(r"\b(?:in|early|late|mid|since|until|till)\s+(may)\b(?!\s+(?:be|have|not)\b)"), "May"),
    (re.compile(r"(?:^|[.!?]\s+)(whose)\s+(?:going|coming|been|got|ready)\b"), "who's"),
    # "were" straight before a verb that needs a subject of its own ("were is Rome", "and were do they") is "where".
    (re.compile(r"(?:^|[.!?]\s+|\b(?:and|but|or|so)\s+)(were)\s+(?:is|are|was|do|does|did|can|could)\b"), "where"),
    # A country whose name is also a word ("china", "turkey"), where a place goes: "in turkey", "the capital of china".
    *(
        (re.compile(rf"\b(?:in|to|from|visit|visiting|visited|across|around|capital\s+of)\s+({country})\b"), name)
        for country, name in (("china", "China"), ("turkey", "Turkey"), ("jordan", "Jordan"), ("chad", "Chad"))
    ),
    # "a weeks trip": after "a", a time word's plural before another word is its possessive ("a week's trip").
    *(
        (re.compile(rf"\b(?:a|one)\s+({unit}s)\s+(?=[a-z])"), f"{unit}'s")
        for unit in ("hour", "day", "night", "week", "month", "year")
    ),
    # "Id" is a word of its own ("the id"), but not before "like" as a sentence's subject: "I'd" lost its apostrophe.
    (re.compile(r"(?:^|[.!?]\s+|\b(?:and|but|so)\s+)(id)\s+(?:like|love|rather|prefer|appreciate)\b"), "I'd"),
)


def phrase_fixes(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, replacement) of each wrong word of a fixed phrase in one lower-cased sentence."""
    out: list[tuple[int, int, str]] = []
    for pattern, fix in _PHRASES:
        out.extend((m.start(1), m.end(1), fix) for m in pattern.finditer(sentence))
    return out
