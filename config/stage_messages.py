"""The exact chat messages a stage adapter sees: shared by the gateway at serving time and by training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict


class ChatMessage(TypedDict):
    role: str
    content: str


PROMPT_OPEN = "<prompt>"
PROMPT_CLOSE = "</prompt>"
PASSAGES_OPEN = "<passages>"
PASSAGES_CLOSE = "</passages>"
PASSAGE_CLOSE = "</passage>"


def wrap_user_text(text: str) -> str:
    """Put the user's prompt inside delimiters so the stage treats it as data, never as instructions."""
    # A user cannot close the delimiter early: a literal closing tag inside the text is defused.
    safe = text.replace(PROMPT_CLOSE, "</ prompt>")
    return f"{PROMPT_OPEN}\n{safe}\n{PROMPT_CLOSE}"


def wrap_passages(passages: Sequence[tuple[str, str]]) -> str:
    """Retrieved (title, text) passages as delimited data, like the prompt: the describer quotes, never obeys, them."""
    blocks = []
    for title, text in passages:
        safe_title = title.replace('"', "'").replace(">", " ")
        safe_text = text.replace(PASSAGE_CLOSE, "</ passage>").replace(PASSAGES_CLOSE, "</ passages>")
        blocks.append(f'<passage title="{safe_title}">\n{safe_text}\n{PASSAGE_CLOSE}')
    return "\n".join([PASSAGES_OPEN, *blocks, PASSAGES_CLOSE])


def render_stage_messages(
    system_prompt: str, user_text: str, passages: Sequence[tuple[str, str]] = ()
) -> list[ChatMessage]:
    """The messages sent to a stage's adapter for one prompt (the grounded describer also gets its passages)."""
    user = wrap_user_text(user_text)
    if passages:
        user = f"{wrap_passages(passages)}\n{user}"
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": user}]
