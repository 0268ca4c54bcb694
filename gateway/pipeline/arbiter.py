"""The skip-gate: a cheap, pure decision per stage on whether a prompt needs it, with a reason."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from config import StageName
from config.cluster import ArbiterConfig, StageConfig
from gateway.pipeline import context, names, wording
from gateway.pipeline.lexicon import Lexicon
from gateway.pipeline.outcomes import ReasonClass, StageDecision

CONTRACTIONS: Mapping[str, str] = MappingProxyType(
    {
        "dont": "don't",
        "doesnt": "doesn't",
        "didnt": "didn't",
        "isnt": "isn't",
        "arent": "aren't",
        "wasnt": "wasn't",
        "werent": "weren't",
        "hasnt": "hasn't",
        "havent": "haven't",
        "hadnt": "hadn't",
        "shouldnt": "shouldn't",
        "wouldnt": "wouldn't",
        "couldnt": "couldn't",
        "cant": "can't",
        "wont": "won't",
        "im": "I'm",
        "ive": "I've",
        "youre": "you're",
        "theyre": "they're",
        "thats": "that's",
        "whats": "what's",
        "theres": "there's",
        "hows": "how's",
        "whos": "who's",
        "wheres": "where's",
        "youve": "you've",
        "theyve": "they've",
        "shes": "she's",
    }
)
SHORTHAND: Mapping[str, str] = MappingProxyType(
    {
        "u": "you",
        "ur": "your",
        "pls": "please",
        "plz": "please",
        "thx": "thanks",
        "becuz": "because",
        "wat": "what",
        "nite": "night",
        "tonite": "tonight",
        "thru": "through",
    }
)
_URL = re.compile(r"(?:https?://|www\.)\S+")
_REPEATED_PUNCT = re.compile(r"([!?,])\1+|\.{4,}|(?<!\.)\.\.(?![.\w/])|\s+[,.;:!?](?!\S)")
_ARITHMETIC = re.compile(
    r"^[\s\d+\-*/^().=x×÷%,?]*$|^\s*(what is|what's|calculate|compute|solve|evaluate)\s+[\d\s+\-*/^().x×÷%=a-z]*"
    r"[\d][\d\s+\-*/^().x×÷%=]*\??\s*$",
    re.IGNORECASE,
)
_CODE_TASK = re.compile(
    r"```|`[^`]+`|\b(code|function|script|regex|regexp|sql|query|compile[sd]?|debug|stack ?trace|traceback|"
    r"exception|snippet|bug|refactor|unit tests?|python|javascript|typescript|java|rust|golang|c\+\+|bash|"
    r"html|css|json|yaml|api|endpoint|class|method|variable|array|dataframe|git)\b",
    re.IGNORECASE,
)
_TEXT_TASK = re.compile(
    r"\b(rewrite|rephrase|paraphrase|translate|summari[sz]e|proofread|shorten|simplify|correct|edit|reword|"
    r"fix the grammar|format|convert|make this|turn this)\b",
    re.IGNORECASE,
)
_CHIT_CHAT = re.compile(
    r"^\s*(hi|hello|hey|thanks|thank you|good (morning|afternoon|evening|night)|bye|goodbye|ok|okay|"
    r"how are you|how's it going|what's up|tell me a joke|you're (great|awesome)|nice)\b",
    re.IGNORECASE,
)
_CONCEPT = re.compile(
    r"^\W*(what|whats|what's|why|how|who|whom|whose|when|where|which|is|are|was|were|does|did)\b|"
    r"\b(explain|describe|tell me about|history of|difference between|meaning of|origin of|causes? of|"
    r"effects? of|compare|define|definition of|facts? about|how (does|do|did|are|is) \w+)",
    re.IGNORECASE,
)
_PERSONAL = re.compile(r"\b(i|my|mine|myself)\b", re.IGNORECASE)
_QUESTION_OPENER = re.compile(
    r"^\W*(who|what|whats|when|where|why|how|which|whose|is|are|was|were|can|could|do|does|did|should|would|"
    r"will)\b",
    re.IGNORECASE,
)


# A statement closed by a question tag asks ("It's about energy, isn't it"): the clause after the last comma.
QUESTION_TAG = re.compile(
    r"^(?:(?:is|are|was|were|do|does|did|has|have|had|ca|could|wo|would|should)n'?t\s+"
    r"(?:it|they|he|she|you|we|i|there|that|this)|right)$",
    re.IGNORECASE,
)
_MAX_CORRECTIONS = 4


@dataclass(frozen=True)
class Assessment:
    """What the arbiter read in a prompt: surface cues, misspelled words, and its need for background."""

    cues: tuple[str, ...]
    misspelled: tuple[str, ...]
    word_count: int
    noise_score: float
    describer_skip: str | None
    describer_signals: tuple[str, ...]


def _strong_cues(text: str, plain: list[wording.Word]) -> list[str]:
    cues: list[str] = []
    if plain and plain[0].sentence_start and plain[0].text[0].islower() and plain[0].start == _first_alpha(text):
        cues.append("starts lower-case")
    if any(w.text == "i" for w in plain):
        cues.append("lower-case 'i'")
    if any(w.text.lower() in CONTRACTIONS for w in plain):
        cues.append("missing apostrophe")
    if any(w.text.lower() in SHORTHAND for w in plain):
        cues.append("chat shorthand")
    if re.search(r"[^\s.!?] {2,}\S", _URL.sub("", text)):
        cues.append("doubled spaces")
    if _REPEATED_PUNCT.search(text):
        cues.append("repeated punctuation")
    lowered_starts = [
        w for w in plain[1:] if w.text[0].islower() and re.search(r"[.!?]\s+$", text[max(0, w.start - 3) : w.start])
    ]
    if lowered_starts and "\n" not in text.strip():
        cues.append("sentence starts lower-case")
    return cues


def _real_word_cues(text: str, plain: list[wording.Word], lexicon: Lexicon) -> list[str]:
    """A real word wrong where it stands ("their is", "could of") is noise no spell check sees."""
    lowered = text.lower()
    starts = {w.start for w in plain}
    if len(lowered) == len(text) and any(start in starts for start, _, _ in context.phrase_fixes(lowered)):
        return ["real-word error"]
    for index, word in enumerate(plain):
        left = plain[index - 1].text.lower() if index and not text[plain[index - 1].end : word.start].strip() else None
        after = plain[index + 1] if index + 1 < len(plain) else None
        right = after.text.lower() if after and not text[word.end : after.start].strip() else None
        if context.real_word_fix(lexicon, left, word.text.lower(), right):
            return ["real-word error"]
    return []


def _name_cues(text: str, found: list[wording.Word], lexicon: Lexicon) -> list[str]:
    """A name the local cleaner writes otherwise: typed in lower case ("kyoto", "charles darwin") or misspelt
    ("Ftance", "Ada Lovepace"); a spell check of plain words does not see names."""
    lowered = any(not w.protected and lexicon.lower_case_name(w.text) for w in found)
    if lowered or names.capitalised(text, lexicon) != text:
        return ["lower-case name"]
    if any(w.kind == "name" and context.name_fix(lexicon, w.text) for w in found) or names.mended(text, lexicon)[1]:
        return ["misspelt name"]
    return []


def _first_alpha(text: str) -> int:
    return next((i for i, ch in enumerate(text) if ch.isalpha()), -1)


def _misspelled(plain: list[wording.Word], lexicon: Lexicon) -> list[str]:
    found: list[str] = []
    for word in plain:
        lower = word.text.lower()
        if lower in CONTRACTIONS or lower in SHORTHAND or len(lower) > 20 or lexicon.known(lower):
            continue
        if lexicon.articles_word(word.text):
            continue  # the encyclopedia's own word ("codomain", "Frege"): no cleaner changes it
        if word.text[0].isupper() and lexicon.correct(lower, max_distance=1) is None:
            continue  # a capitalised unknown word at a sentence start is more likely a name than a typo
        found.append(word.text)
    return found


def assess(prompt: str, lexicon: Lexicon, config: ArbiterConfig) -> Assessment:
    """Read the prompt once: noise cues and misspellings for the cleaner, signals for the describer."""
    prompt = prompt[: config.scan_chars]
    prose = _URL.sub(lambda m: "0" * len(m.group(0)), prompt)  # same offsets, no words, no spaces
    spans = wording.protected_spans(prose)
    all_words = wording.words(prose, spans)
    code_share = wording.protected_share(prose, spans)
    plain = [w for w in all_words if not w.protected]
    strong = _strong_cues(prose, plain) + _real_word_cues(prose, plain, lexicon) + _name_cues(prose, all_words, lexicon)
    weak: list[str] = []
    stripped = prose.rstrip()
    if plain and stripped and stripped[-1].isalnum() and code_share < 0.5 and len(plain) > 2:
        last = wording.sentences(stripped)[-1]
        asks = _QUESTION_OPENER.match(last) or QUESTION_TAG.match(wording.last_clause(last))
        (strong if asks else weak).append("no final punctuation")
    misspelled = _misspelled(plain, lexicon)
    score = len(misspelled) + len(strong) + config.weak_cue_weight * len(weak)
    corrected = _with_corrections(prompt, misspelled, lexicon)
    skip, signals = _describer_reading(corrected, all_words, code_share, config)
    return Assessment(
        cues=tuple(strong + weak),
        misspelled=tuple(misspelled),
        word_count=len(all_words),
        noise_score=score,
        describer_skip=skip,
        describer_signals=tuple(signals),
    )


def _with_corrections(prompt: str, misspelled: list[str], lexicon: Lexicon) -> str:
    """The prompt with its misspelled words corrected, so that 'explian' still reads as 'explain'."""
    for word in sorted(set(misspelled))[:_MAX_CORRECTIONS]:
        fixed = lexicon.correct(word)
        if fixed:
            prompt = re.sub(rf"\b{re.escape(word)}\b", fixed, prompt)
    return prompt


def describer_skip_reason(
    prompt: str, words: list[wording.Word], code_share: float, config: ArbiterConfig
) -> str | None:
    """Why the prompt needs no background, or None when it is not obviously a task that needs none."""
    if _ARITHMETIC.search(prompt.strip()):
        return "arithmetic"
    if _CODE_TASK.search(prompt) or code_share > 0.5:
        return "code"
    if _CHIT_CHAT.search(prompt) and len(words) <= 8:
        return "chit-chat"
    if len(words) < config.describer_min_words:
        return f"fewer than {config.describer_min_words} words"
    if _TEXT_TASK.search(prompt):
        return "task on given text"
    return None


def _describer_reading(
    prompt: str, all_words: list[wording.Word], code_share: float, config: ArbiterConfig
) -> tuple[str | None, list[str]]:
    skip = describer_skip_reason(prompt, all_words, code_share, config)
    names = sorted({w.text for w in all_words if w.kind == "name" and w.text not in {"I", "OK"}})
    if skip is None and not names and _PERSONAL.search(prompt):
        skip = "personal request"
    signals = [f"names {', '.join(names[:3])}"] if names else []
    concept = _CONCEPT.search(prompt)
    if concept:
        signals.append(f"asks '{concept.group(0).strip().lower()}'")
    return skip, signals


def _cleaner_decision(assessment: Assessment, config: ArbiterConfig) -> StageDecision:
    if assessment.noise_score < config.cleaner_min_score:
        extra = f" ({', '.join(assessment.cues)} only)" if assessment.cues else ""
        return StageDecision(False, "looks clean" + extra)
    parts = list(assessment.cues)
    if assessment.misspelled:
        shown = ", ".join(assessment.misspelled[:4])
        parts.insert(0, f"{len(assessment.misspelled)} misspelled ({shown})")
    return StageDecision(True, "noise: " + ", ".join(parts))


def _describer_decision(assessment: Assessment, config: ArbiterConfig) -> StageDecision:
    if assessment.describer_skip:
        return StageDecision(False, f"no background needed: {assessment.describer_skip}")
    if len(assessment.describer_signals) < config.describer_min_score:
        return StageDecision(False, "no background needed: no named entity or concept question")
    return StageDecision(True, "background may help: " + "; ".join(assessment.describer_signals))


def decide(
    assessment: Assessment, stages: Mapping[StageName, StageConfig], config: ArbiterConfig
) -> dict[StageName, StageDecision]:
    """Which configured stages run for this prompt, each with the reason."""
    decisions: dict[StageName, StageDecision] = {}
    for name, stage in stages.items():
        if not stage.enabled:
            decisions[name] = StageDecision(False, "stage disabled in config", ReasonClass.DISABLED)
        elif not config.enabled:
            decisions[name] = StageDecision(True, "arbiter disabled")
        elif name == "cleaner":
            decisions[name] = _cleaner_decision(assessment, config)
        else:
            decisions[name] = _describer_decision(assessment, config)
    return decisions
