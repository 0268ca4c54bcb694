"""Whether a prompt wants knowledge at all: tasks on given text, arithmetic, code and chit-chat need no background."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class PromptKind(StrEnum):
    """The kind of request, as far as background knowledge is concerned."""

    KNOWLEDGE = "knowledge"  # a question or request that background may help
    TEXT_TASK = "text_task"  # work on text the user gives (fix, rewrite, translate, summarise ...)
    ARITHMETIC = "arithmetic"
    CODE = "code"
    CHIT_CHAT = "chit_chat"


# The retrieval score is multiplied by this: a task on given text needs no encyclopedia, whatever it names.
NEED: Mapping[PromptKind, float] = MappingProxyType(
    {
        PromptKind.KNOWLEDGE: 1.0,
        PromptKind.TEXT_TASK: 0.0,
        PromptKind.ARITHMETIC: 0.0,
        PromptKind.CODE: 0.0,
        PromptKind.CHIT_CHAT: 0.0,
    }
)

_POLITE = r"^\W*(?:(?:please|pls|plz|kindly|can you|could you|would you|will you|help me|i need you to)\W+)*"
_ARITHMETIC = re.compile(
    _POLITE + r"(?:what(?:'s| is)|whats|calculate|compute|solve|evaluate|how much is)?\s*"
    r"[-+*/^().=x×÷%\d\s,]*\d[-+*/^().=x×÷%\d\s,]*"
    r"(?:\s*(?:plus|minus|times|divided by|multiplied by|squared|cubed|over|mod|percent of|of)\s*[\d.,]*)*"
    r"\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_TEXT_VERB = re.compile(
    _POLITE + r"(?:fix|correct|rewrite|re-write|rephrase|paraphrase|translate|summari[sz]e|proofread|proof-read|"
    r"shorten|simplify|edit|reword|polish|improve|format|convert|turn|make|check|spell-?check|capitali[sz]e|"
    r"expand|condense|tidy|clean up)\b",
    re.IGNORECASE,
)
# These verbs always work on text the user gives ("translate good morning into French").
_ALWAYS_TEXT_VERB = re.compile(
    _POLITE + r"(?:translate|summari[sz]e|proofread|proof-read|paraphrase|rephrase|reword|spell-?check)\b", re.I
)
_GIVEN_TEXT = re.compile(
    r"\b(?:this|these|the following|following|below|above|my|our)\b|[:\"“”«»]|'[^']+'|"
    r"\b(?:sentences?|paragraphs?|text|email|e-mail|essay|message|letter|passage|grammar|spelling|wording|tone)\b",
    re.IGNORECASE,
)
_CODE_SYNTAX = re.compile(
    r"```|`[^`]+`|\bdef \w+\(|=>|\w\(\)|;\s*$|^\s*(?:import|from|#include|select\s.+\sfrom)\b|[{}]|\b\w+\.\w+\(",
    re.IGNORECASE | re.MULTILINE,
)
# A code noun with a code verb or a language makes a code task; a weak one ("list", "class") needs a language.
_CODE_NOUN = re.compile(
    r"\b(?:code|function|method|script|regex|regexp|variable|array|bug|exception|traceback|stack trace|compiler|"
    r"api|endpoint|unit tests?|linked list|hash ?map|recursion|snippet|segfault|null pointer)\b",
    re.IGNORECASE,
)
_WEAK_CODE_NOUN = re.compile(
    r"\b(?:list|lists|string|strings|class|loop|query|dict|dictionary|library|module|program|json|yaml|csv|file|"
    r"error|algorithm|object|integer|package)\b",
    re.IGNORECASE,
)
_LANGUAGE = re.compile(
    r"\b(?:python|javascript|js|typescript|java|c\+\+|c#|rust|golang|sql|bash|shell|html|css|php|ruby|kotlin|"
    r"swift|numpy|pandas|react|django|flask|git|powershell|perl|scala|haskell)\b|\b(?:in|with|using) (?:go|c|r)\b",
    re.IGNORECASE,
)
_CODE_VERB = re.compile(r"\b(?:write|implement|debug|refactor|optimi[sz]e|compile|parse|run|call|return)\b", re.I)
# Chit-chat: a prompt of nothing but interjections ("thanks!", "great"), or one opening with a social phrase.
_CHAT_WORDS = (
    r"(?:hi|hello|hey|hiya|yo|thanks|thank you|thx|cheers|bye|goodbye|see you|ok|okay|cool|nice|great|lol|sup|"
    r"wow|awesome|good job|well done|so much|a lot|there|everyone|again|buddy|mate)"
)
_CHIT_CHAT = re.compile(
    rf"^\W*(?:{_CHAT_WORDS}\W*)*(?:(?:good (?:morning|afternoon|evening|night)|how are you|how's it going|"
    r"hows it going|what's up|whats up|tell me a joke|say something funny|who are you|what are you|"
    r"what is your name|what's your name|are you (?:a bot|human|real|there)|i'?m bored|you're (?:great|awesome)|"
    r"you are (?:great|awesome))\b.*)?$",
    re.IGNORECASE,
)
_SHORT_CHAT_WORDS = 8


def _is_code(text: str) -> bool:
    if _CODE_SYNTAX.search(text):
        return True
    language = _LANGUAGE.search(text) is not None
    if _CODE_NOUN.search(text):
        return language or _CODE_VERB.search(text) is not None
    return language and _WEAK_CODE_NOUN.search(text) is not None


def classify(prompt: str) -> PromptKind:
    """The prompt's kind; KNOWLEDGE unless it clearly is one of the kinds that need no background."""
    text = prompt.strip()
    if not text:
        return PromptKind.CHIT_CHAT
    if _ARITHMETIC.match(text):
        return PromptKind.ARITHMETIC
    if _is_code(text):
        return PromptKind.CODE
    if _ALWAYS_TEXT_VERB.match(text) or (_TEXT_VERB.match(text) and _GIVEN_TEXT.search(text)):
        return PromptKind.TEXT_TASK
    if _CHIT_CHAT.match(text) and len(text.split()) <= _SHORT_CHAT_WORDS:
        return PromptKind.CHIT_CHAT
    return PromptKind.KNOWLEDGE


def background_need(prompt: str) -> float:
    """How much background the prompt can use, in [0, 1] (the factor on every retrieval score)."""
    return NEED[classify(prompt)]
