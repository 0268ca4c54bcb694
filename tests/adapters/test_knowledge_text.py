"""Knowledge text handling: sentences, aliases from an article's own data, and which prompts want background."""

from __future__ import annotations

import pytest

from adapters.knowledge.intent import PromptKind, classify
from adapters.knowledge.text import aliases, sentences


def test_sentences_keep_abbreviations_initials_and_decimals() -> None:
    text = (
        "Paris has 2.04 million people. It was founded c. 250 BC by the Parisii. Arthur C. Clarke visited "
        'the U.S. Army base. He said "hello." Then he left!'
    )
    assert sentences(text) == [
        "Paris has 2.04 million people.",
        "It was founded c. 250 BC by the Parisii.",
        "Arthur C. Clarke visited the U.S. Army base.",
        'He said "hello."',
        "Then he left!",
    ]


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("Casablanca (film)", "Casablanca is a 1942 film.", ["Casablanca"]),
        (
            "Napoleon",
            "Napoleon Bonaparte, later known as Napoleon I, was Emperor.",
            ["Napoleon Bonaparte", "Napoleon I"],
        ),
        ("France", "France, officially the French Republic, is a country.", ["French Republic"]),
        ("The Beatles", "The Beatles were an English rock band.", ["Beatles"]),
        ("Capital city", "A capital city is a municipality.", []),
        ("John, King of England", "John was King of England from 1199.", []),
    ],
)
def test_aliases_come_from_the_title_and_the_lead_sentence(title: str, text: str, expected: list[str]) -> None:
    assert aliases(title, text) == expected


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("who was napolean", PromptKind.KNOWLEDGE),
        ("who created python", PromptKind.KNOWLEDGE),
        ("fix the grammar of this sentence", PromptKind.TEXT_TASK),
        ("translate good morning into french", PromptKind.TEXT_TASK),
        ("what is 17 * 23", PromptKind.ARITHMETIC),
        ("what's 7 squared", PromptKind.ARITHMETIC),
        ("how do i reverse a list in python", PromptKind.CODE),
        ("write a function that parses dates", PromptKind.CODE),
        ("hi, how are you?", PromptKind.CHIT_CHAT),
    ],
)
def test_prompt_kinds(prompt: str, kind: PromptKind) -> None:
    assert classify(prompt) == kind
