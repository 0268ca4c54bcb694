"""The exact chat messages a stage adapter sees: shared by the gateway at serving time and by training."""

from __future__ import annotations

from typing import TypedDict


class ChatMessage(TypedDict):
    role: str
    content: str


PROMPT_OPEN = "<prompt>"
PROMPT_CLOSE = "</prompt>"


def wrap_user_text(text: str) -> str:
    """Put the user's prompt inside delimiters so the stage treats it as data, never as instructions."""
    # A user cannot close the delimiter early: a literal closing tag inside the text is defused.
    safe = text.replace(PROMPT_CLOSE, "</ prompt>")
    return f"{PROMPT_OPEN}\n{safe}\n{PROMPT_CLOSE}"


def render_stage_messages(system_prompt: str, user_text: str) -> list[ChatMessage]:
    """The messages sent to a stage's adapter for one prompt."""
    return [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": wrap_user_text(user_text)},
    ]
