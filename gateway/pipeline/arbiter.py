"""The skip-gate: a cheap, pure decision per stage on whether a prompt needs it, with a reason."""

from __future__ import annotations

import re
from collections.abc import Mapping

from config import StageName
from config.cluster import ArbiterConfig, StageConfig
from gateway.pipeline.outcomes import StageDecision

_CONTRACTIONS_WITHOUT_APOSTROPHE = frozenset(
    [
        "dont",
        "cant",
        "wont",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "doesnt",
        "didnt",
        "hasnt",
        "havent",
        "hadnt",
        "shouldnt",
        "wouldnt",
        "couldnt",
        "im",
        "ive",
        "youre",
        "theyre",
        "thats",
        "whats",
        "lets",
    ]
)
_WORD = re.compile(r"[A-Za-z']+")
_TRIPLED_LETTER = re.compile(r"([a-z])\1\1", re.IGNORECASE)
_CODE = re.compile(r"```|^\s*(def|class|import|function|SELECT|#include)\b|[{};]\s*$", re.MULTILINE)
_URL = re.compile(r"https?://\S+")
_ARITHMETIC = re.compile(
    r"^[\s\d+\-*/^().=x×÷%,?]*$|^\s*(what is|calculate|compute)\s+[\d\s+\-*/^().x×÷%]+\??$", re.IGNORECASE
)
_TEXT_TASK = re.compile(
    r"\b(rewrite|rephrase|paraphrase|translate|summari[sz]e|proofread|correct the|fix the grammar|"
    r"format|convert)\b",
    re.IGNORECASE,
)
_CHIT_CHAT = re.compile(r"^\s*(hi|hello|hey|thanks|thank you|good (morning|evening|night)|bye|ok|okay)\b", re.I)


def surface_noise(prompt: str) -> list[str]:
    """Cues that a prompt has typos, casing or punctuation problems; empty when it looks clean."""
    text = _URL.sub(" ", prompt).strip()
    cues: list[str] = []
    first_alpha = next((c for c in text if c.isalpha()), "")
    if first_alpha and first_alpha.islower():
        cues.append("starts lower-case")
    if text and text[-1] not in ".?!:)\"'`]" and len(text.split()) > 2:
        cues.append("no final punctuation")
    if "  " in text.strip():
        cues.append("doubled spaces")
    if re.search(r"([!?.,])\1{2,}", text):
        cues.append("repeated punctuation")
    words = [w.lower() for w in _WORD.findall(text)]
    if "i" in words and re.search(r"(^|\s)i(\s|'|$)", text):
        cues.append("lower-case 'i'")
    if any(w in _CONTRACTIONS_WITHOUT_APOSTROPHE for w in words):
        cues.append("missing apostrophe")
    if _TRIPLED_LETTER.search(text):
        cues.append("tripled letter")
    return cues


def describer_skip_reason(prompt: str, config: ArbiterConfig) -> str | None:
    """Why the prompt needs no background, or None when background may help."""
    words = _WORD.findall(prompt)
    if _CODE.search(prompt):
        return "code"
    if _ARITHMETIC.search(prompt.strip()):
        return "arithmetic"
    if _CHIT_CHAT.search(prompt) and len(words) <= 6:
        return "chit-chat"
    if len(words) < config.describer_min_words:
        return f"fewer than {config.describer_min_words} words"
    if _TEXT_TASK.search(prompt):
        return "task on given text"
    return None


def decide(
    prompt: str, stages: Mapping[StageName, StageConfig], config: ArbiterConfig
) -> dict[StageName, StageDecision]:
    """Which configured stages run for this prompt, each with the reason."""
    decisions: dict[StageName, StageDecision] = {}
    for name, stage in stages.items():
        if not stage.enabled:
            decisions[name] = StageDecision(False, "stage disabled in config")
        elif not config.enabled:
            decisions[name] = StageDecision(True, "arbiter disabled")
        elif name == "cleaner":
            cues = surface_noise(prompt)
            decisions[name] = (
                StageDecision(True, "noise: " + ", ".join(cues)) if cues else StageDecision(False, "looks clean")
            )
        else:
            skip = describer_skip_reason(prompt, config)
            decisions[name] = (
                StageDecision(False, f"no background needed: {skip}")
                if skip
                else StageDecision(True, "names topics where background may help")
            )
    return decisions
