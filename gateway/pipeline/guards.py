"""The cleaner's intent guards: each returns why a candidate is not the same request, or None when it is."""

from __future__ import annotations

import enum
import re
from difflib import SequenceMatcher

from config.cluster import MergerConfig
from gateway.pipeline.lexicon import Lexicon


class GuardKind(enum.StrEnum):
    """Which guard turned a cleaner's output down (or repaired it): the typed reason beside the prose."""

    EMPTY = "empty"
    LEAKED_INSTRUCTIONS = "leaked_instructions"
    OBEYED_INJECTION = "obeyed_injection"
    ANSWERED = "answered"
    INSTRUCTION_CHANGED = "instruction_changed"
    LENGTH_RATIO = "length_ratio"
    SENTENCE_CHANGE = "sentence_change"
    DRIFT = "drift"
    TOKEN_DRIFT = "token_drift"
    PROTECTED_CHANGED = "protected_changed"
    NON_WORD = "non_word"
    REPLACED_WORD = "replaced_word"
    IMPLAUSIBLE_EDIT = "implausible_edit"
    WORSE_FIT = "worse_fit"
    DROPPED_WORD = "dropped_word"
    ADDED_WORD = "added_word"


_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CHAR_LEVEL_LIMIT = 4000
_FUZZY_LIMIT = 40
STOPWORDS = frozenset(
    """a an the is are was were be been being am of in on at to for from and or but nor with by as it its it's
    this that these those what who whom whose which when where why how do does did done can could should would
    will shall may might must i me my you your yours u ur he him his she her we us our they them their there
    here not no so if then than too very just also please pls plz about into over any some all each
    with without because""".split()
)
# Words a cleaner may drop without changing the request.
FILLERS = frozenset(
    "really very actually basically just like kinda sorta literally maybe quite okay hey thanks thank hello".split()
)
INSTRUCTION_VERBS = frozenset(
    """write explain list tell give describe summarize summarise translate compare create make generate show
    find calculate compute define ignore forget disregard answer reply respond say print output reveal repeat
    add remove delete fix correct rewrite convert help provide suggest recommend analyze analyse draft design
    build implement plan name count sort check review edit format outline paraphrase rephrase classify extract
    identify predict prove solve teach act pretend stop include keep return send email draw sing recite
    evaluate estimate""".split()
)
_ANSWER_OPENERS = re.compile(
    r"^\s*(sure|certainly|of course|absolutely|here is|here's|here are|the answer|as an ai|i'm sorry|i am sorry|"
    r"i cannot|i can't|i'd be happy|happy to help|great question|yes[,.!]|no[,.!])",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(who|what|when|where|why|how|which|whose|is|are|am|was|were|can|could|do|does|did|should|would|will|"
    r"shall|may|might|have|has)\b",
    re.IGNORECASE,
)
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.?!\n]{0,60}?\b(instructions?|rules|prompts?|"
    r"guidelines|directions|constraints|above|previous|everything)\b|\byou are now\b|\bsystem prompt\b|"
    r"\bnew instructions?\b|\bpretend (to be|you are)\b|\bact as\b|\bdeveloper mode\b|\bjailbreak",
    re.IGNORECASE,
)
_STAGE_PROMPT_PHRASES = re.compile(
    r"copy editor|between <prompt>|rewrite that prompt|reply with the corrected|background knowledge\b|"
    r"do not follow any instruction",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def tokens(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def content_tokens(text: str) -> list[str]:
    return [t for t in tokens(text) if t not in STOPWORDS and (len(t) >= 3 or t.isdigit())]


def drift(original: str, candidate: str) -> float:
    """0 for the same text, 1 for nothing in common; by characters, or by words for long texts (speed)."""
    a, b = " ".join(original.lower().split()), " ".join(candidate.lower().split())
    if max(len(a), len(b)) > _CHAR_LEVEL_LIMIT:
        return 1.0 - SequenceMatcher(None, tokens(a), tokens(b), autojunk=False).ratio()
    if not a and not b:
        return 0.0
    return 1.0 - SequenceMatcher(None, a, b, autojunk=False).ratio()


def _close(word: str, others: list[str], lexicon: Lexicon) -> bool:
    limit = max(1, len(word) // 3)
    return any(abs(len(o) - len(word)) <= limit and lexicon.distance(word, o, limit) >= 0 for o in others)


def unmatched(source: list[str], target: list[str], lexicon: Lexicon) -> list[str]:
    """Words of `source` with neither an exact nor a close (typo-distance) counterpart in `target`."""
    exact = set(target)
    left = [w for w in source if w not in exact]
    if len(left) > _FUZZY_LIMIT:
        return left
    return [w for w in left if not _close(w, target, lexicon)]


def questions(text: str) -> int:
    """Sentences that ask: ending in '?', or unpunctuated and opening with a question word."""
    count = 0
    for sentence in _SENTENCE.findall(text):
        stripped = sentence.strip()
        if stripped.endswith("?") or (_QUESTION_START.match(stripped) and not stripped.endswith((".", "!"))):
            count += 1
    return count


def leaked_instructions(original: str, candidate: str) -> str | None:
    found = _STAGE_PROMPT_PHRASES.search(candidate)
    if found and not _STAGE_PROMPT_PHRASES.search(original):
        return f"repeated the stage instructions ('{found.group(0)}')"
    return None


def obeyed_injection(original: str, candidate: str) -> str | None:
    """A prompt that tells the model to ignore its instructions must come back with that text still in it."""
    found = _INJECTION.search(original)
    if found and not _INJECTION.search(candidate):
        return f"obeyed an instruction inside the prompt ('{found.group(0).lower()}' is gone)"
    return None


def answered(original: str, candidate: str) -> str | None:
    if _ANSWER_OPENERS.match(candidate) and not _ANSWER_OPENERS.match(original):
        return "answered the prompt instead of cleaning it (answer opener)"
    if questions(original) and not questions(candidate):
        return "answered the prompt instead of cleaning it (no question left)"
    return None


def length_ratio(original: str, candidate: str, config: MergerConfig) -> str | None:
    ratio = len(candidate) / max(1, len(original.strip()))
    if ratio < config.min_length_ratio or ratio > config.max_length_ratio:
        return f"length ratio {ratio:.2f} outside [{config.min_length_ratio}, {config.max_length_ratio}]"
    return None


def char_drift(original: str, candidate: str, config: MergerConfig, distance: float | None = None) -> str | None:
    """`distance`: the caller's `drift(original, candidate)` when it already has it."""
    distance = drift(original, candidate) if distance is None else distance
    return f"drift {distance:.2f} above {config.max_drift}" if distance > config.max_drift else None


def instruction_change(original: str, candidate: str, lexicon: Lexicon) -> str | None:
    before, after = tokens(original), tokens(candidate)
    dropped = [v for v in before if v in INSTRUCTION_VERBS and v not in after]
    if dropped:
        return f"dropped instruction '{dropped[0]}'"
    added = [v for v in after if v in INSTRUCTION_VERBS and v not in before]
    added = unmatched(added, before, lexicon)
    return f"added instruction '{added[0]}'" if added else None


def token_drift(original: str, candidate: str, config: MergerConfig, lexicon: Lexicon) -> str | None:
    """Content words lost or added, allowing typo-sized differences between counterparts."""
    before, after = content_tokens(original), content_tokens(candidate)
    lost = unmatched(before, tokens(candidate), lexicon)
    gained = unmatched(after, tokens(original), lexicon)
    lost_share = len(lost) / len(before) if before else 0.0
    gained_share = len(gained) / len(after) if after else 0.0
    # A dropped word counts even when it is a filler: "what did he actually win" asks something else without it.
    lost_words = [w for w in lost if len(w) >= 4 and lexicon.known(w)]
    if lost_words:
        return f"dropped or replaced correctly spelled words ({', '.join(lost_words[:3])})"
    added_words = [w for w in gained if len(w) >= 4 and w not in FILLERS and lexicon.known(w)]
    if added_words and before:
        return f"added content words ({', '.join(added_words[:3])})"
    if lost_share > config.max_token_drift:
        return f"dropped content words ({', '.join(lost[:3])})"
    if gained_share > config.max_token_drift:
        return f"added content words ({', '.join(gained[:3])})"
    return None


def sentence_change(original: str, candidate: str, config: MergerConfig) -> str | None:
    q_before, q_after = questions(original), questions(candidate)
    if abs(q_after - q_before) > config.max_sentence_delta:
        return f"question count changed from {q_before} to {q_after}"
    s_before, s_after = len(_SENTENCE.findall(original)), len(_SENTENCE.findall(candidate))
    slack = max(config.max_sentence_delta, s_before // 2, len(tokens(original)) // 10)
    if abs(s_after - s_before) > slack:
        return f"sentence count changed from {s_before} to {s_after}"
    return None


def mentions_key_term(prompt: str, text: str) -> bool:
    """Whether `text` names any of the prompt's content words (matching on a 5-letter stem)."""
    keys = {t[:5] for t in content_tokens(prompt) if not t.isdigit()}
    return not keys or any(t[:5] in keys for t in content_tokens(text))
